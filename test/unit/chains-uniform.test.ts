/** chains "uniform" (short-run chains from noise): what it draws; its stage contract is in ablations.test.ts. */
import { Effect } from "effect"
import { beforeAll, describe, expect, it } from "vitest"
import { checkSpec } from "../../src/pipeline/config/checks.js"
import * as ModelsLayer from "../../src/pipeline/nets/build.js"
import { stagesOf } from "../../src/pipeline/training/stages.js"
import { release } from "../../src/stages/records.js"
import { observedAt, tinySpec, useTestBackend } from "../support.js"

const spec = tinySpec({
  stages: { ...tinySpec().stages, chains: "uniform", teach: "none" },
  uniformChains: { low: -0.5, high: 0.25 },
  training: { iterations: 3, batchSize: 8, chains: 64 },
})

const drafts = (seed: number, iteration: number) =>
  Effect.runPromise(
    Effect.gen(function* () {
      const out = yield* stagesOf({ ...spec, seed }).draft(observedAt(spec, iteration))
      const values = Float32Array.from(out.drafts.dataSync())
      const z = out.z
      release(out)
      return { values, z }
    }).pipe(Effect.provide(ModelsLayer.layer(spec))),
  )

beforeAll(async () => {
  await useTestBackend()
})

describe('chains "uniform"', () => {
  it("start every chain from U(low, high), afresh each iteration, keyed by the seed", async () => {
    const first = await drafts(1, 0)
    expect(first.z).toBeNull()
    expect(first.values.length).toBe(64 * 28 * 28)
    expect(Math.min(...first.values)).toBeGreaterThanOrEqual(-0.5)
    expect(Math.max(...first.values)).toBeLessThanOrEqual(0.25)
    const mean = first.values.reduce((a, b) => a + b, 0) / first.values.length
    expect(mean).toBeCloseTo(-0.125, 2)
    // the variance of U(a, b) is (b − a)²/12
    const variance = first.values.reduce((a, v) => a + (v - mean) ** 2, 0) / first.values.length
    expect(variance).toBeCloseTo(0.75 ** 2 / 12, 3)
    expect((await drafts(1, 0)).values).toEqual(first.values)
    expect((await drafts(1, 1)).values).not.toEqual(first.values)
    expect((await drafts(2, 0)).values).not.toEqual(first.values)
  })

  it("refuse an empty interval and teaching without z", async () => {
    const failure = (s: typeof spec) =>
      Effect.runPromise(checkSpec(s, "p.json").pipe(Effect.flip)).then((e) => e.message)
    expect(await failure({ ...spec, uniformChains: { low: 1, high: 1 } })).toBe(
      'p.json: stages.chains "uniform" draws from U(uniformChains.low, uniformChains.high), so low (1) must be below high (1).',
    )
    expect(await failure({ ...spec, stages: { ...spec.stages, teach: "mcmc" } })).toContain(
      'stages.teach "mcmc" needs chains that carry the z that drafted them',
    )
  })
})
