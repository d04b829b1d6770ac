/**
 * optimizer.schedule: both learning rates held, then lowered along a half
 * cosine to `final` times the spec's at the last iteration — the factor, the
 * rates the optimisers get, and what a run's weights show (a step at factor 0
 * leaves both nets as they were).
 */
import { mkdtempSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { NodeServices } from "@effect/platform-node"
import { Effect } from "effect"
import { beforeAll, describe, expect, it } from "vitest"
import { buildModels, disposeModels } from "../../src/pipeline/nets/build.js"
import { learningRateFactor, setLearningRates } from "../../src/pipeline/nets/learning-rate-schedule.js"
import { readCheckpoint } from "../../src/pipeline/run-dir/checkpoint.js"
import { tinyPipeline } from "../run-dirs.js"
import { cli, tinySpec, useTestBackend } from "../support.js"

const scratch = () => mkdtempSync(join(tmpdir(), "coopnets-schedule-"))
const read = (dir: string) => Effect.runPromise(readCheckpoint(dir).pipe(Effect.provide(NodeServices.layer)))

describe("learningRateFactor", () => {
  it("is 1 without a schedule (after 1) at every iteration", () => {
    for (const i of [0, 50, 99]) expect(learningRateFactor({ after: 1, final: 0.1 }, i, 100)).toBe(1)
  })

  it("holds 1 up to `after`, then falls along a half cosine to `final` at the last iteration", () => {
    const s = { after: 0.5, final: 0.1 }
    // iterations 0..100 of 101: the fall spans 50.5..100
    expect(learningRateFactor(s, 0, 101)).toBe(1)
    expect(learningRateFactor(s, 50, 101)).toBe(1)
    expect(learningRateFactor(s, 100, 101)).toBeCloseTo(0.1, 12)
    const mid = 50.5 + 49.5 / 2
    expect(learningRateFactor(s, mid, 101)).toBeCloseTo(0.55, 12)
    const fall = Array.from({ length: 50 }, (_, k) => learningRateFactor(s, 51 + k, 101))
    for (let k = 1; k < fall.length; k++) expect(fall[k] as number).toBeLessThan(fall[k - 1] as number)
  })

  it("sets both optimisers' rates to the spec's times the factor", async () => {
    await useTestBackend()
    const spec = tinySpec({
      training: { iterations: 11, batchSize: 8, chains: 6 },
      optimizer: { ...tinySpec().optimizer, schedule: { after: 0, final: 0.2 } },
    })
    const models = buildModels(spec)
    const rate = (o: unknown) => (o as { learningRate: number }).learningRate
    setLearningRates(models, spec, 10)
    expect(rate(models.descriptorOptimizer)).toBeCloseTo(0.2 * spec.optimizer.descriptor.learningRate, 12)
    expect(rate(models.generatorOptimizer)).toBeCloseTo(0.2 * spec.optimizer.generator.learningRate, 12)
    setLearningRates(models, spec, 5)
    expect(rate(models.descriptorOptimizer)).toBeCloseTo(0.6 * spec.optimizer.descriptor.learningRate, 12)
    disposeModels(models)
  })
})

describe("a run with a schedule", () => {
  const runs: Record<string, string> = {}
  const pipeline = (schedule: object | undefined) =>
    tinyPipeline({
      seed: 4,
      training: { iterations: 3 },
      ...(schedule ? { optimizer: { schedule } } : {}),
      output: { sampleEvery: 3, checkpointEvery: 1, keepCheckpoints: 3 },
    })

  beforeAll(async () => {
    for (const [name, schedule] of [
      ["scheduled", { after: 0, final: 0 }],
      ["plain", undefined],
    ] as const) {
      runs[name] = join(scratch(), name)
      const r = cli(pipeline(schedule), "--out", runs[name] as string)
      expect(r.code, r.stderr).toBe(0)
    }
  }, 300_000)

  const changed = async (dir: string, from: string, to: string) => {
    const [a, b] = [await read(join(dir, "checkpoints", from)), await read(join(dir, "checkpoints", to))]
    const nets = [...a.values.keys()].filter((k) => k.startsWith("descriptor/") || k.startsWith("generator/"))
    expect(nets.length).toBeGreaterThan(0)
    return nets.filter((k) => {
      const [x, y] = [a.values.get(k)?.values, b.values.get(k)?.values] as [Float32Array, Float32Array]
      return x.some((v, i) => v !== y[i])
    }).length
  }

  it("leaves both nets unchanged by the last step, whose factor is 0, and moves them before", async () => {
    const scheduled = runs.scheduled as string
    expect(await changed(scheduled, "iter-000002", "final")).toBe(0)
    expect(await changed(scheduled, "iter-000001", "iter-000002")).toBeGreaterThan(0)
    // without the schedule the last step moves them
    expect(await changed(runs.plain as string, "iter-000002", "final")).toBeGreaterThan(0)
  })

  it("refuses a factor outside 0..1, naming the field", () => {
    const r = cli(pipeline({ after: 0.5, final: 2 }), "--out", join(scratch(), "bad"))
    expect(r.code).toBe(2)
    expect(r.stderr).toContain("optimizer.schedule.final")
  })
})
