import * as tf from "@tensorflow/tfjs-core"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import {
  descriptorStep,
  energy,
  generate,
  generatorStep,
  langevinRevise,
  latentRevise,
  score,
} from "../../src/models/coopnets.js"
import { forward, initParams, type NetSpec, paramSpecs } from "../../src/models/layers.js"
import { mnist } from "../../src/models/nets.js"
import { normalTensor, rootKey } from "../../src/models/random.js"
import { bytesOf, useTestBackend } from "../support.js"

const official = {
  descriptorChannels: [64, 128, 256] as const,
  descriptorUnits: 100,
  zDim: 100,
  generatorChannels: [512, 256, 128] as const,
}
const tiny = {
  descriptorChannels: [4, 4, 4] as const,
  descriptorUnits: 3,
  zDim: 5,
  generatorChannels: [6, 4, 4] as const,
}
const count = (spec: NetSpec) => paramSpecs(spec).reduce((n, p) => n + p.shape.reduce((a, b) => a * b, 1), 0)

beforeAll(async () => {
  await useTestBackend()
})

describe("official MNIST nets", () => {
  it("have the official parameter counts", () => {
    // descriptor: 4·4·1·64+64 + 4·4·64·128+128 + 4·4·128·256+256 + 4·4·256·100+100
    expect(count(mnist.descriptor(official))).toBe(1088 + 131200 + 524544 + 409700)
    // generator: 4·4·512·100+512 + 4·4·256·512+256 + 4·4·128·256+128 + 4·4·1·128+1 (biases → BN shifts)
    expect(count(mnist.generator(official))).toBe(819712 + 2097408 + 524416 + 2049)
  })

  it("map 28x28x1 images to 1x1xunits and z to 28x28x1 images in [-1, 1]", () => {
    const d = mnist.descriptor(tiny)
    const g = mnist.generator(tiny)
    const dp = initParams(d, rootKey(1), "t/d")
    const gp = initParams(g, rootKey(2), "t/g")
    tf.tidy(() => {
      const z = normalTensor(rootKey(3), [7, 5])
      const x = forward(g, gp, z)
      expect(x.shape).toEqual([7, 28, 28, 1])
      const v = x.dataSync()
      expect(Math.max(...v)).toBeLessThanOrEqual(1)
      expect(Math.min(...v)).toBeGreaterThanOrEqual(-1)
      expect(forward(d, dp, x).shape).toEqual([7, 1, 1, 3])
    })
    tf.dispose([...dp.values(), ...gp.values()])
  })

  it("pads like TensorFlow SAME: 7→4 with k4 s2 pads 1 before and 2 after", () => {
    tf.tidy(() => {
      const x = normalTensor(rootKey(4), [2, 7, 7, 3]) as tf.Tensor4D
      const w = normalTensor(rootKey(5), [4, 4, 3, 2]) as tf.Tensor4D
      const same = tf.conv2d(x, w, 2, "same")
      const explicit = tf.conv2d(
        tf.pad(x, [
          [0, 0],
          [1, 2],
          [1, 2],
          [0, 0],
        ]),
        w,
        2,
        "valid",
      )
      expect(same.shape).toEqual([2, 4, 4, 2])
      expect(tf.max(tf.abs(tf.sub(same, explicit))).dataSync()[0]).toBeLessThan(1e-5)
    })
  })
})

describe("CoopNets math", () => {
  const d = mnist.descriptor(tiny)
  const g = mnist.generator(tiny)
  let descriptor: { spec: NetSpec; params: ReturnType<typeof initParams> }
  let generator: { spec: NetSpec; params: ReturnType<typeof initParams> }
  beforeAll(() => {
    descriptor = { spec: d, params: initParams(d, rootKey(10), "m/d") }
    generator = { spec: g, params: initParams(g, rootKey(11), "m/g") }
  })
  afterAll(() => tf.dispose([...descriptor.params.values(), ...generator.params.values()]))

  it("energy is ‖X‖²/(2s²) − f(X)", () => {
    tf.tidy(() => {
      const x = tf.mul(normalTensor(rootKey(12), [3, 28, 28, 1]), 0.5)
      const s = 0.5
      const expected = tf.sub(tf.div(tf.sum(tf.square(x), [1, 2, 3]), 2 * s * s), score(descriptor, x))
      expect(Array.from(energy(descriptor, x, s).dataSync())).toEqual(Array.from(expected.dataSync()))
    })
  })

  it("a noiseless Langevin step is X(1 − δ²/(2s²)) + (δ²/2)∂f/∂X", () => {
    const x0 = tf.tidy(() => tf.tanh(normalTensor(rootKey(13), [2, 28, 28, 1]))) as tf.Tensor4D
    const o = { steps: 1, stepSize: 0.1, refSigma: 0.5, noise: false }
    const { revised } = langevinRevise(descriptor, x0, o, rootKey(0))
    tf.tidy(() => {
      const grad = tf.grad((x: tf.Tensor) => tf.sum(score(descriptor, x)))(x0)
      const expected = tf.add(tf.mul(x0, 1 - 0.01 / 2 / 0.25), tf.mul(grad, 0.005))
      expect(tf.max(tf.abs(tf.sub(revised, expected))).dataSync()[0]).toBeLessThan(1e-6)
    })
    tf.dispose([x0, revised])
  })

  it("Langevin is deterministic per key, leaves its input intact and leaks nothing", () => {
    const x0 = tf.tidy(() => tf.tanh(normalTensor(rootKey(14), [4, 28, 28, 1]))) as tf.Tensor4D
    const before = bytesOf(x0)
    const o = { steps: 3, stepSize: 0.002, refSigma: 0.016, noise: true }
    const a = langevinRevise(descriptor, x0, o, rootKey(1))
    const tensors = tf.memory().numTensors
    const b = langevinRevise(descriptor, x0, o, rootKey(1))
    const c = langevinRevise(descriptor, x0, o, rootKey(2))
    expect(tf.memory().numTensors).toBe(tensors + 2)
    expect(bytesOf(a.revised)).toEqual(bytesOf(b.revised))
    expect(bytesOf(a.revised)).not.toEqual(bytesOf(c.revised))
    expect(bytesOf(x0)).toEqual(before)
    expect(a.startEnergy).toBeCloseTo(
      tf.tidy(() => tf.mean(energy(descriptor, x0, 0.016)).dataSync()[0] as number),
      0,
    )
    tf.dispose([x0, a.revised, b.revised, c.revised])
  })

  it("the descriptor step reports L_D = mean f(X̂) − mean f(X_obs) and moves θ", () => {
    const optimizer = tf.train.adam(0.01, 0.5)
    const obs = tf.tidy(() => tf.tanh(normalTensor(rootKey(15), [5, 28, 28, 1]))) as tf.Tensor4D
    const rev = tf.tidy(() => tf.tanh(normalTensor(rootKey(16), [3, 28, 28, 1]))) as tf.Tensor4D
    const expected = tf.tidy(
      () =>
        (tf.mean(score(descriptor, rev)).dataSync()[0] as number) -
        (tf.mean(score(descriptor, obs)).dataSync()[0] as number),
    )
    const w0 = bytesOf(descriptor.params.get("fc/w") as tf.Variable)
    const step = descriptorStep(descriptor, optimizer, obs, rev, 0.016)
    expect(step.loss).toBeCloseTo(expected, 5)
    expect(bytesOf(descriptor.params.get("fc/w") as tf.Variable)).not.toEqual(w0)
    const tensors = tf.memory().numTensors
    descriptorStep(descriptor, optimizer, obs, rev, 0.016)
    expect(tf.memory().numTensors).toBe(tensors)
    tf.dispose([obs, rev])
    optimizer.dispose()
  })

  it("the generator step regresses g(z) onto the target and reports the per-pixel error", () => {
    const optimizer = tf.train.adam(0.01, 0.5)
    const z = normalTensor(rootKey(17), [4, 5]) as tf.Tensor2D
    const target = tf.tidy(() => tf.tanh(normalTensor(rootKey(18), [4, 28, 28, 1]))) as tf.Tensor4D
    const mse = () =>
      tf.tidy(() => tf.mean(tf.square(tf.sub(target, generate(generator, z)))).dataSync()[0] as number)
    const before = mse()
    const step = generatorStep(generator, optimizer, z, target, 0.3)
    expect(step.reconstructionError).toBeCloseTo(before, 5)
    for (let i = 0; i < 5; i++) generatorStep(generator, optimizer, z, target, 0.3)
    expect(mse()).toBeLessThan(before)
    const zRevised = latentRevise(
      generator,
      z,
      target,
      { steps: 2, stepSize: 0.1, sigma: 0.3, noise: false },
      0,
    )
    expect(zRevised.shape).toEqual([4, 5])
    expect(bytesOf(zRevised)).not.toEqual(bytesOf(z))
    tf.dispose([z, target, zRevised])
    optimizer.dispose()
  })
})

describe("MAC counts", () => {
  it("match the hand count of the official MNIST iteration (112.7 GMAC)", async () => {
    const { iterationMacs, forwardMacs } = await import("../../src/models/flops.js")
    // descriptor: 14²·16·1·64 + 7²·16·64·128 + 4²·16·128·256 + 1·16·256·100
    expect(forwardMacs(mnist.descriptor(official))).toBe(200704 + 6422528 + 8388608 + 409600)
    // generator: 1·16·100·512 + 4²·16·512·256 + 7²·16·256·128 + 14²·16·128·1
    expect(forwardMacs(mnist.generator(official))).toBe(819200 + 33554432 + 25690112 + 401408)
    const m = iterationMacs(mnist.descriptor(official), mnist.generator(official), {
      batchSize: 100,
      chains: 144,
      langevinSteps: 15,
    })
    const g = (v: number) => Math.round(v / 1e8) / 10
    expect([g(m.draft), g(m.revise), g(m.updateDescriptor), g(m.teach)]).toEqual([8.7, 66.6, 11.3, 26.1])
  })
})
