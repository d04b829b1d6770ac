/**
 * End to end: a few iterations of a tiny net through the real scheduler,
 * every output file checked; two runs with one seed write identical bytes;
 * `sample` reads the checkpoint back.
 */
import { mkdtempSync, readdirSync, readFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { NodeServices } from "@effect/platform-node"
import * as tf from "@tensorflow/tfjs-core"
import { Effect } from "effect"
import sharp from "sharp"
import { beforeAll, describe, expect, it } from "vitest"
import { sample } from "../../src/pipeline/commands/sample.js"
import { train } from "../../src/pipeline/training/train.js"
import { tinySpec, useTestBackend } from "../support.js"

const run = <A, E>(effect: Effect.Effect<A, E, NodeServices.NodeServices>) =>
  Effect.runPromise(effect.pipe(Effect.provide(NodeServices.layer)))

const scratch = () => mkdtempSync(join(tmpdir(), "coopnets-e2e-"))
const spec = tinySpec({ training: { iterations: 4, batchSize: 8, chains: 6 } })

beforeAll(async () => {
  await useTestBackend()
})

describe("train", () => {
  let outDir: string
  beforeAll(async () => {
    outDir = join(scratch(), "run")
    await run(train(spec, { source: "tiny.json", outDir, force: false, quiet: true }))
  })

  it("writes the resolved config, the run record and one metrics line per iteration", () => {
    expect(JSON.parse(readFileSync(join(outDir, "config.json"), "utf8"))).toEqual(spec)
    const record = JSON.parse(readFileSync(join(outDir, "run.json"), "utf8"))
    expect(record.source).toBe("tiny.json")
    expect(record.backend.name).toBe(tf.getBackend())
    expect(record.node).toBe(process.version)
    const lines = readFileSync(join(outDir, "metrics.jsonl"), "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l))
    expect(lines.map((l) => l.iteration)).toEqual([1, 2, 3, 4])
    // after the first iteration (Adam's slots) the live tensors vary only with the loader's read-ahead
    const live = lines.slice(1).map((l) => l.memory.tensors)
    expect(Math.max(...live) - Math.min(...live)).toBeLessThanOrEqual(spec.buffers.batches + 1)
    for (const l of lines) {
      expect(Object.keys(l.energy).sort()).toEqual(["drafted", "observed", "revised"])
      expect(Number.isFinite(l.descriptorLoss)).toBe(true)
      // the mean squared gap between g(z) and X̂ in [-1, 1]: positive, and at most (1 − (−1))² = 4
      expect(l.reconstructionError).toBeGreaterThan(0)
      expect(l.reconstructionError).toBeLessThanOrEqual(4)
      // the stage timings add up to at most the iteration's wall time
      const stages = ["load", "draft", "revise", "updateDescriptor", "teach"].map((k) => l.ms[k] as number)
      expect(stages.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(l.ms.iteration + 1)
      expect(Object.keys(l.ms).sort()).toEqual([
        "draft",
        "iteration",
        "load",
        "revise",
        "teach",
        "updateDescriptor",
      ])
    }
  })

  it("writes grids of drafts and revisions every sampleEvery iterations", async () => {
    expect(readdirSync(join(outDir, "samples")).sort()).toEqual([
      "drafts-000002.png",
      "drafts-000004.png",
      "revised-000002.png",
      "revised-000004.png",
    ])
    // 6 chains → 3x2 tiles of 28 px with 1 px gaps
    const meta = await sharp(join(outDir, "samples", "revised-000004.png")).metadata()
    expect([meta.width, meta.height, meta.format]).toEqual([3 * 29 - 1, 2 * 29 - 1, "png"])
  })

  it("writes a final checkpoint that tf.io.decodeWeights reads back", () => {
    const dir = join(outDir, "checkpoints", "final")
    expect(readdirSync(dir).sort()).toEqual(["checkpoint.json", "weights.bin"])
    const manifest = JSON.parse(readFileSync(join(dir, "checkpoint.json"), "utf8"))
    expect(manifest.format).toBe("coopnets-checkpoint/1")
    expect(manifest.iteration).toBe(4)
    expect(manifest.spec).toEqual(spec)
    const bin = readFileSync(join(dir, "weights.bin"))
    const specs = manifest.weightsManifest[0].weights
    const tensors = tf.io.decodeWeights(
      bin.buffer.slice(bin.byteOffset, bin.byteOffset + bin.byteLength),
      specs,
    )
    expect(tensors["descriptor/conv1/w"]?.shape).toEqual([4, 4, 1, 4])
    expect(tensors["generator/deconv4/w"]?.shape).toEqual([4, 4, 1, 4])
    expect(Object.keys(tensors)).toContain("optimizer/descriptor/iter")
    tf.dispose(Object.values(tensors))
  })

  it("refuses to overwrite a run directory without --force", async () => {
    const error = await run(
      train(spec, { source: "tiny.json", outDir, force: false, quiet: true }).pipe(Effect.flip),
    )
    expect(error.message).toBe(
      `Run directory ${outDir} already exists and is not empty. Pass --out DIR to write elsewhere, or --force to replace it.`,
    )
    expect(readdirSync(join(outDir, "samples")).length).toBe(4)
  })

  it("is reproducible: the same seed gives byte-identical checkpoints and samples", async () => {
    const again = join(scratch(), "run")
    await run(train(spec, { source: "tiny.json", outDir: again, force: false, quiet: true }))
    for (const file of [
      "checkpoints/final/weights.bin",
      "checkpoints/final/checkpoint.json",
      "samples/revised-000004.png",
    ])
      expect(readFileSync(join(again, file)).equals(readFileSync(join(outDir, file)))).toBe(true)
    const other = join(scratch(), "run")
    await run(train({ ...spec, seed: 2 }, { source: "tiny.json", outDir: other, force: false, quiet: true }))
    const a = readFileSync(join(other, "checkpoints/final/weights.bin"))
    expect(a.equals(readFileSync(join(outDir, "checkpoints/final/weights.bin")))).toBe(false)
  })

  it("sample mode writes N PNGs, a grid and an N×28×28 .npy in [0, 1]", async () => {
    const out = join(scratch(), "samples")
    const result = await run(
      sample({
        location: outDir,
        count: 5,
        langevinSteps: 2,
        seed: 0,
        outDir: out,
        force: false,
        quiet: true,
      }),
    )
    expect(result.shape).toEqual([5, 28, 28])
    expect(readdirSync(join(out, "png")).sort()).toEqual([0, 1, 2, 3, 4].map((i) => `00000${i}.png`))
    const npy = readFileSync(join(out, "samples.npy"))
    expect(npy.subarray(1, 6).toString("latin1")).toBe("NUMPY")
    const headerLength = npy.readUInt16LE(8)
    expect(npy.subarray(10, 10 + headerLength).toString("latin1")).toContain("'shape': (5, 28, 28)")
    const values = new Float32Array(
      npy.buffer.slice(npy.byteOffset + 10 + headerLength, npy.byteOffset + npy.byteLength),
    )
    expect(values.length).toBe(5 * 784)
    expect(Math.min(...values)).toBeGreaterThanOrEqual(0)
    expect(Math.max(...values)).toBeLessThanOrEqual(1)
    const meta = await sharp(join(out, "grid.png")).metadata()
    expect([meta.width, meta.height]).toEqual([3 * 29 - 1, 2 * 29 - 1])
    // same seed → same samples
    const again = join(scratch(), "samples")
    await run(
      sample({
        location: outDir,
        count: 5,
        langevinSteps: 2,
        seed: 0,
        outDir: again,
        force: false,
        quiet: true,
      }),
    )
    expect(readFileSync(join(again, "samples.npy")).equals(npy)).toBe(true)
  })
})
