import fs from "node:fs"
import { createRequire } from "node:module"
import path from "node:path"
import * as tf from "@tensorflow/tfjs-core"
import { describe, expect, it } from "vitest"
import { fallbackKernelsRegistered } from "../../src/pipeline/backend/kernels.js"
import { BackendUnavailable, selectBackend } from "../../src/pipeline/backend/select.js"

const require = createRequire(import.meta.url)
const packageDir = (pkg: string): string | undefined => {
  try {
    return path.dirname(require.resolve(`${pkg}/package.json`))
  } catch {
    return undefined
  }
}
const tfjsNode = packageDir("@tensorflow/tfjs-node")
/** `npm run setup:native` (or postinstall) built the addon here. */
const nativeBuilt =
  tfjsNode !== undefined &&
  fs.existsSync(path.join(tfjsNode, "lib")) &&
  fs
    .readdirSync(path.join(tfjsNode, "lib"))
    .some((d) => fs.existsSync(path.join(tfjsNode, "lib", d, "tfjs_binding.node")))
const gpuInstalled = packageDir("@tensorflow/tfjs-node-gpu") !== undefined

const conv2dFilterGrad = () =>
  tf.tidy(() => {
    const x = tf.tensor4d(
      Array.from({ length: 2 * 7 * 7 * 2 }, (_, i) => Math.sin(i)),
      [2, 7, 7, 2],
    )
    const dy = tf.tensor4d(
      Array.from({ length: 2 * 4 * 4 * 3 }, (_, i) => Math.cos(i)),
      [2, 4, 4, 3],
    )
    const g = tf.grad((w: tf.Tensor) => tf.sum(tf.mul(tf.conv2d(x, w as tf.Tensor4D, 2, "same"), dy)))
    return Array.from(g(tf.zeros([4, 4, 2, 3])).dataSync())
  })

describe("selectBackend", () => {
  it('"cpu" gives the cpu backend with the fallback kernels', async () => {
    const report = await selectBackend("cpu")
    expect(report.name).toBe("cpu")
    expect(report.attempts).toEqual([{ name: "cpu", ok: true, reason: "ok" }])
    expect(tf.getBackend()).toBe("cpu")
    expect(tf.env().getBool("PROD")).toBe(true)
    expect(fallbackKernelsRegistered("cpu")).toBe(true)
  })

  it('"wasm" gives the wasm backend with Conv2DBackpropFilter', async () => {
    const report = await selectBackend("wasm")
    expect(report.name).toBe("wasm")
    expect(tf.getBackend()).toBe("wasm")
    expect(tf.getKernel("Conv2DBackpropFilter", "wasm")?.kernelFunc).toBeTypeOf("function")
    expect(conv2dFilterGrad()).toHaveLength(4 * 4 * 2 * 3)
  })

  it.skipIf(gpuInstalled)(
    "an unavailable backend throws BackendUnavailable saying why and what to do",
    async () => {
      const error = await selectBackend("tensorflow-gpu").catch((e: unknown) => e)
      expect(error).toBeInstanceOf(BackendUnavailable)
      expect((error as BackendUnavailable).backend).toBe("tensorflow-gpu")
      expect((error as BackendUnavailable).message).toBe(
        'Backend "tensorflow-gpu" is unavailable: not installed. To fix: install @tensorflow/tfjs-node-gpu on a ' +
          'machine with a CUDA GPU (npm install @tensorflow/tfjs-node-gpu), or use backend: "auto".',
      )
    },
  )

  it.skipIf(!nativeBuilt)('"auto" picks tensorflow when the native addon is built', async () => {
    await selectBackend("cpu")
    const onCpu = conv2dFilterGrad()
    const report = await selectBackend("auto")
    expect(report.name).toBe("tensorflow")
    expect(report.attempts.map((a) => [a.name, a.ok])).toEqual([
      ["tensorflow-gpu", false],
      ["tensorflow", true],
    ])
    // The backend tfjs-node registered is the one the models' @tensorflow/tfjs-core sees.
    expect(tf.getBackend()).toBe("tensorflow")
    const onTf = conv2dFilterGrad()
    const diff = Math.max(...onTf.map((v, i) => Math.abs(v - (onCpu[i] ?? Number.NaN))))
    expect(diff).toBeLessThan(1e-4)
    // Explicitly asking for it now works too.
    expect((await selectBackend("tensorflow")).name).toBe("tensorflow")
  })

  it.skipIf(nativeBuilt)(
    '"tensorflow" without the addon throws BackendUnavailable pointing at setup:native',
    async () => {
      const error = await selectBackend("tensorflow").catch((e: unknown) => e)
      expect(error).toBeInstanceOf(BackendUnavailable)
      expect((error as Error).message).toMatch(/^Backend "tensorflow" is unavailable: .*npm run setup:native/)
    },
  )
})
