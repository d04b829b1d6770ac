/**
 * The tensors of records in flight — batches in the loader's buffer, the
 * record a stage was working on — belong to the run: when a stage fails
 * mid-run, they are released with it.
 */
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { NodeServices } from "@effect/platform-node"
import * as tf from "@tensorflow/tfjs-core"
import { Effect, Exit } from "effect"
import { beforeAll, describe, expect, it } from "vitest"
import { train } from "../../src/pipeline/training/train.js"
import { tinySpec, useTestBackend } from "../support.js"

beforeAll(async () => {
  await useTestBackend()
})

describe("a run that fails mid-run", () => {
  it("releases every tensor it held once its models are released", async () => {
    // a Langevin step this large explodes after a few iterations, in revise or a later stage
    const spec = tinySpec({
      seed: 3,
      langevin: { ...tinySpec().langevin, stepSize: 0.5 },
      training: { iterations: 40, batchSize: 8, chains: 6 },
      buffers: { batches: 4, writes: 2 },
    })
    const before = tf.memory().numTensors
    const exit = await Effect.runPromise(
      train(spec, {
        source: "diverge.json",
        outDir: join(mkdtempSync(join(tmpdir(), "coopnets-scope-")), "run"),
        force: false,
        quiet: true,
      }).pipe(Effect.provide(NodeServices.layer), Effect.exit),
    )
    expect(Exit.isFailure(exit)).toBe(true)
    const failure = Exit.isFailure(exit) ? String(exit.cause) : ""
    expect(failure).toMatch(/Training diverged in iteration (\d+)/)
    expect(Number(/iteration (\d+)/.exec(failure)?.[1])).toBeGreaterThan(2)
    expect(tf.memory().numTensors).toBe(before)
  })
})
