/**
 * Long runs hold steady: over 300 iterations of a tiny net (checkpoints and
 * sample grids included) the live tensor count stays flat after the first
 * iterations, RSS does not creep, and everything is released at the end.
 * Restoring a checkpoint (resume) does not leak either.
 */
import { mkdtempSync, readFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { NodeServices } from "@effect/platform-node"
import * as tf from "@tensorflow/tfjs-core"
import { Effect } from "effect"
import { beforeAll, describe, expect, it } from "vitest"
import { buildModels, disposeModels } from "../../src/pipeline/nets/build.js"
import { readCheckpoint, restoreModels } from "../../src/pipeline/run-dir/checkpoint.js"
import { train } from "../../src/pipeline/training/train.js"
import { tinySpec, useTestBackend } from "../support.js"

const run = <A, E>(effect: Effect.Effect<A, E, NodeServices.NodeServices>) =>
  Effect.runPromise(effect.pipe(Effect.provide(NodeServices.layer)))

const spec = tinySpec({
  training: { iterations: 300, batchSize: 8, chains: 6 },
  // report.html is rebuilt in a worker thread whose heap is the process's RSS too: off here, the soak measures training
  output: {
    sampleEvery: 100,
    checkpointEvery: 50,
    logEvery: 1000,
    keepCheckpoints: 2,
    report: false,
    tensorboard: true,
  },
})

beforeAll(async () => {
  await useTestBackend()
})

describe("memory over a long run", () => {
  let outDir: string
  let baseline: number
  let metrics: Array<{ iteration: number; memory: { tensors: number; rssMb: number } }>
  beforeAll(async () => {
    outDir = join(mkdtempSync(join(tmpdir(), "coopnets-leak-")), "run")
    baseline = tf.memory().numTensors
    await run(train(spec, { source: "leak.json", outDir, force: false, quiet: true }))
    metrics = readFileSync(join(outDir, "metrics.jsonl"), "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l))
  }, 600_000)

  it("keeps the live tensor count flat after the first iterations and releases everything at the end", () => {
    expect(metrics.length).toBe(300)
    // the count moves by the batch or two the loader has prepared ahead; it must not grow
    const tensors = metrics.map((m) => m.memory.tensors)
    const early = tensors.slice(2, 20)
    expect(Math.max(...tensors.slice(20))).toBeLessThanOrEqual(Math.max(...early))
    expect(Math.max(...early) - Math.min(...early)).toBeLessThanOrEqual(spec.buffers.batches)
    expect(tf.memory().numTensors).toBe(baseline)
  })

  it("does not grow RSS between iteration 100 and 300", () => {
    const at100 = metrics[99]?.memory.rssMb as number
    const late = Math.max(...metrics.slice(250).map((m) => m.memory.rssMb))
    expect(late - at100).toBeLessThan(32)
  })

  it("restoring a checkpoint with optimiser state twice leaks nothing", async () => {
    const checkpoint = await run(readCheckpoint(join(outDir, "checkpoints", "iter-000250")))
    const before = tf.memory().numTensors
    const models = buildModels(spec)
    await run(restoreModels(checkpoint, models, true))
    const once = tf.memory().numTensors
    await run(restoreModels(checkpoint, models, true))
    expect(tf.memory().numTensors).toBe(once)
    disposeModels(models)
    expect(tf.memory().numTensors).toBe(before)
  })
})
