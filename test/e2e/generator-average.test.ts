/**
 * generatorAverage: the moving average of the generator's weights that a run
 * keeps in its checkpoints (values against the update rule, from the
 * initialisation on), and the generator weights `sample` and `evaluate` draw
 * with (the average by default, the last weights with --weights last).
 */
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { NodeServices } from "@effect/platform-node"
import { Effect } from "effect"
import { beforeAll, describe, expect, it } from "vitest"
import { defaultClassifierSettings } from "../../src/models/classifier.js"
import { averageDecay } from "../../src/models/ema.js"
import { evaluate } from "../../src/pipeline/commands/evaluate.js"
import type { ClassifierSource } from "../../src/pipeline/evaluation/mnist-classifier.js"
import { buildModels, disposeModels } from "../../src/pipeline/nets/build.js"
import { readCheckpoint } from "../../src/pipeline/run-dir/checkpoint.js"
import { cli, testBackend, tinySpec, useTestBackend } from "../support.js"

const scratch = () => mkdtempSync(join(tmpdir(), "coopnets-average-"))
const run = <A, E>(effect: Effect.Effect<A, E, NodeServices.NodeServices>) =>
  Effect.runPromise(effect.pipe(Effect.provide(NodeServices.layer)))

const pipeline = (decay: number) => {
  const file = join(scratch(), "tiny.json")
  writeFileSync(
    file,
    JSON.stringify({
      name: "tiny",
      seed: 4,
      backend: testBackend,
      data: { source: "mnist", split: "train", limit: 64 },
      model: { descriptorChannels: [4, 4, 4], descriptorUnits: 3, zDim: 5, generatorChannels: [6, 4, 4] },
      training: { iterations: 2, batchSize: 8, chains: 6 },
      langevin: { steps: 2 },
      generatorAverage: { decay },
      output: { sampleEvery: 2, checkpointEvery: 1, logEvery: 1, keepCheckpoints: 3 },
    }),
  )
  return file
}

const DECAY = 0.5
/** A few Adam steps: the metrics are not what this file tests. */
const tinyClassifier: ClassifierSource = {
  dir: join(scratch(), "classifier"),
  settings: { ...defaultClassifierSettings, steps: 4, batchSize: 16 },
}

describe("generatorAverage", () => {
  let withAverage: string
  let without: string

  beforeAll(async () => {
    await useTestBackend()
    withAverage = join(scratch(), "avg")
    without = join(scratch(), "plain")
    for (const [file, dir] of [
      [pipeline(DECAY), withAverage],
      [pipeline(0), without],
    ] as const) {
      const r = cli(file, "--out", dir)
      expect(r.code, r.stderr).toBe(0)
    }
  }, 300_000)

  it("checkpoints θ̄ = β_t·θ̄ + (1 − β_t)·θ after every step, starting from the initial weights", async () => {
    const first = await run(readCheckpoint(join(withAverage, "checkpoints", "iter-000001")))
    const last = await run(readCheckpoint(withAverage))
    const spec = tinySpec({ seed: 4, generatorAverage: { decay: DECAY } })
    const initial = buildModels(spec)
    const names = [...initial.generator.params.keys()]
    const [b0, b1] = [averageDecay(DECAY, 0), averageDecay(DECAY, 1)]
    expect(b0).toBeCloseTo(0.1, 12)
    expect(b1).toBeCloseTo(2 / 11, 12)
    let moved = 0
    for (const name of names) {
      const init = initial.generator.params.get(name)?.dataSync() as Float32Array
      const theta1 = first.values.get(`generator/${name}`)?.values as Float32Array
      const avg1 = first.values.get(`state/generator-average/${name}`)?.values as Float32Array
      const theta2 = last.values.get(`generator/${name}`)?.values as Float32Array
      const avg2 = last.values.get(`state/generator-average/${name}`)?.values as Float32Array
      expect(avg1.length).toBe(init.length)
      for (let i = 0; i < init.length; i += Math.max(1, Math.floor(init.length / 50))) {
        expect(avg1[i]).toBeCloseTo(b0 * (init[i] as number) + (1 - b0) * (theta1[i] as number), 6)
        expect(avg2[i]).toBeCloseTo(b1 * (avg1[i] as number) + (1 - b1) * (theta2[i] as number), 6)
        if (Math.abs((avg2[i] as number) - (theta2[i] as number)) > 1e-7) moved++
      }
    }
    expect(moved).toBeGreaterThan(0) // the average is not the last weights
    disposeModels(initial)
    const plain = await run(readCheckpoint(without))
    expect([...plain.values.keys()].filter((k) => k.startsWith("state/generator-average/"))).toEqual([])
  })

  it("sample and evaluate draw with the average by default and with the last weights on --weights last", () => {
    const samples = (dir: string, weights: string) => {
      const out = join(scratch(), `s-${weights}`)
      const r = cli("sample", dir, "--n", "6", "--weights", weights, "--out", out)
      expect(r.code).toBe(0)
      return readFileSync(join(out, "samples.npy")).toString("base64")
    }
    expect(samples(withAverage, "average")).not.toEqual(samples(withAverage, "last"))
    // a run without an average: both are its last weights
    expect(samples(without, "average")).toEqual(samples(without, "last"))

    const bad = cli("sample", withAverage, "--weights", "mean")
    expect(bad.code).toBe(2)
    expect(bad.stderr).toContain('--weights must be "average" or "last", got "mean".')
  }, 300_000)

  it("evaluate records the weights it drew with", async () => {
    const evaluated = async (location: string, weights?: "average" | "last") =>
      (
        await run(
          evaluate({
            location,
            count: 12,
            langevinSteps: undefined,
            seed: undefined,
            weights,
            outDir: join(scratch(), "e"),
            force: false,
            features: undefined,
            layer: undefined,
            reference: undefined,
            range: "0,1",
            quiet: true,
            classifier: tinyClassifier,
          }),
        )
      ).report.source.generatorWeights
    expect(await evaluated(withAverage)).toBe("average")
    expect(await evaluated(withAverage, "last")).toBe("last")
    expect(await evaluated(without)).toBe("last")
  }, 300_000)

  it("refuses a decay of 1 or more, naming the field", () => {
    const file = pipeline(1)
    const r = cli(file, "--out", join(scratch(), "x"))
    expect(r.code).toBe(2)
    expect(r.stderr).toContain("generatorAverage.decay")
  })
})
