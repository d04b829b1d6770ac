/**
 * Stage contracts: each stage emits the documented shapes and value ranges,
 * owns its tensors (the live tensor count is flat across an iteration after a
 * warm-up), and is deterministic under a seed.
 */
import * as tf from "@tensorflow/tfjs-core"
import { Effect, Layer, Stream } from "effect"
import { beforeAll, describe, expect, it } from "vitest"
import { disposeKept } from "../../src/models/coopnets.js"
import * as ModelsLayer from "../../src/pipeline/nets/build.js"
import { stagesOf } from "../../src/pipeline/training/stages.js"
import { batchAt, observedBatches } from "../../src/stages/load.js"
import { Models } from "../../src/stages/models.js"
import { release, type Taught } from "../../src/stages/records.js"
import { bytesOf, observedAt, syntheticDigits, tinySpec, useTestBackend } from "../support.js"

const spec = tinySpec()
const { draft, revise, updateDescriptor: update, teach } = stagesOf(spec)

const iteration = (i: number, stages = { draft, revise, update, teach }) =>
  Effect.gen(function* () {
    const { draft, revise, update, teach } = stages
    const drafted = yield* draft(observedAt(spec, i))
    const revised = yield* revise(drafted)
    const updated = yield* update(revised)
    return yield* teach(updated)
  })

const withModels = <A, E>(effect: Effect.Effect<A, E, Models>, models = spec) =>
  Effect.runPromise(effect.pipe(Effect.provide(ModelsLayer.layer(models))) as Effect.Effect<A, E>)

beforeAll(async () => {
  await useTestBackend()
})

describe("load", () => {
  it("batches are a seeded permutation per epoch, in [-1, 1], with matching labels", async () => {
    const first = batchAt(syntheticDigits, { seed: 1, batchSize: 8 }, 0)
    const again = batchAt(syntheticDigits, { seed: 1, batchSize: 8 }, 0)
    const other = batchAt(syntheticDigits, { seed: 2, batchSize: 8 }, 0)
    expect(first.images).toEqual(again.images)
    expect(first.images).not.toEqual(other.images)
    expect(first.images.length).toBe(8 * 784)
    // 20 images / batch 8 → 2 batches per epoch: iteration 2 starts epoch 1
    expect(batchAt(syntheticDigits, { seed: 1, batchSize: 8 }, 2).epoch).toBe(1)
    const batches = await Effect.runPromise(
      Stream.runCollect(
        observedBatches(syntheticDigits, { seed: 1, batchSize: 8, iterations: 3, buffer: 1 }),
      ),
    )
    expect(batches.map((b) => b.iteration)).toEqual([0, 1, 2])
    for (const b of batches) {
      expect(b.images.shape).toEqual([8, 28, 28, 1])
      expect(b.images.dtype).toBe("float32")
      expect(b.labels.length).toBe(8)
      b.images.dispose()
    }
  })
})

describe("draft → revise → updateDescriptor → teach", () => {
  it("emit the documented shapes and ranges", async () => {
    const out = await withModels(iteration(0))
    expect(out.z?.shape).toEqual([spec.training.chains, spec.model.zDim])
    expect(out.drafts.shape).toEqual([spec.training.chains, 28, 28, 1])
    expect(out.revised.shape).toEqual(out.drafts.shape)
    const drafts = out.drafts.dataSync()
    expect(Math.max(...drafts)).toBeLessThanOrEqual(1)
    expect(Math.min(...drafts)).toBeGreaterThanOrEqual(-1)
    expect(out.revised.dataSync().every(Number.isFinite)).toBe(true)
    expect(Number.isFinite(out.draftEnergy)).toBe(true)
    expect(Number.isFinite(out.descriptor?.loss)).toBe(true)
    expect(out.generator?.reconstructionError).toBeGreaterThan(0)
    expect(Object.keys(out.timings).sort()).toEqual(["draft", "revise", "teach", "updateDescriptor"])
    release(out)
  })

  it("leak no tensor across an iteration after a warm-up", async () => {
    const counts = await withModels(
      Effect.gen(function* () {
        release(yield* iteration(0)) // warm-up: Adam creates its moment slots
        const before = tf.memory().numTensors
        release(yield* iteration(1))
        release(yield* iteration(2))
        return [before, tf.memory().numTensors]
      }),
    )
    expect(counts[1]).toBe(counts[0])
  })

  it("are deterministic under a seed, and another seed gives other bytes", async () => {
    const run = (seed: number) => {
      const seeded = { ...spec, seed }
      const s = stagesOf(seeded)
      const stages = { draft: s.draft, revise: s.revise, update: s.updateDescriptor, teach: s.teach }
      return withModels(
        Effect.gen(function* () {
          release(yield* iteration(0, stages))
          const out: Taught = yield* iteration(1, stages)
          const bytes = [bytesOf(out.drafts), bytesOf(out.revised)]
          release(out)
          return bytes
        }),
        seeded,
      )
    }
    const [a, b, other] = [await run(1), await run(1), await run(2)]
    expect(a).toEqual(b)
    expect(other[0]).not.toEqual(a[0])
    expect(other[1]).not.toEqual(a[1])
  })

  it("teach none leaves the generator untouched", async () => {
    const none = stagesOf({ ...spec, stages: { ...spec.stages, teach: "none" } }).teach
    const same = await withModels(
      Effect.gen(function* () {
        const drafted = yield* draft(observedAt(spec, 0))
        const updated = yield* update(yield* revise(drafted))
        const before = yield* draft(observedAt(spec, 1))
        const taught = yield* none(updated)
        const after = yield* draft(observedAt(spec, 1))
        const equal = bytesOf(before.drafts).every((v, i) => v === bytesOf(after.drafts)[i])
        for (const r of [taught, before, after]) release(r)
        return { equal, generator: taught.generator }
      }),
    )
    expect(same).toEqual({ equal: true, generator: null })
  })
})

describe("teach from the draft's forward pass", () => {
  it("the generator chains keep it, and teaching with it takes the step teaching without it takes", async () => {
    // one iteration on fresh nets (same seed: same nets and data); `strip` drops the kept pass before teaching
    const run = (strip: boolean) =>
      withModels(
        Effect.gen(function* () {
          const drafted = yield* draft(observedAt(spec, 0))
          const keptIsDrafts = drafted.generatorPass?.output === drafted.drafts
          let updated = yield* update(yield* revise(drafted))
          if (strip && updated.generatorPass !== undefined) {
            disposeKept(updated.generatorPass)
            const { generatorPass: _, ...rest } = updated
            updated = rest
          }
          const models = yield* Models
          let taught: Taught | undefined
          const profile = yield* Effect.promise(() =>
            tf.profile(async () => {
              taught = await Effect.runPromise(teach(updated).pipe(Effect.provideService(Models, models)))
            }),
          )
          // the generator's forward pass: its transposed convolutions (stock and thin kernels)
          const forwardRan = profile.kernels.some((k) =>
            /Conv2DBackpropInput|ThinConv2DTranspose/.test(k.name),
          )
          const params = [...models.generator.params.values()].map((v) => tf.clone(v))
          release(taught as Taught)
          return { keptIsDrafts, forwardRan, loss: taught?.generator?.loss as number, params }
        }),
      )
    const [kept, recomputed] = [await run(false), await run(true)]
    expect(kept.keptIsDrafts).toBe(true)
    expect([kept.forwardRan, recomputed.forwardRan]).toEqual([false, true])
    expect(Math.abs(kept.loss - recomputed.loss)).toBeLessThan(1e-5 * Math.abs(recomputed.loss))
    kept.params.forEach((p, i) => {
      const q = recomputed.params[i] as tf.Tensor
      const err = tf.tidy(() => tf.max(tf.abs(tf.sub(p, q))).dataSync()[0] as number)
      expect(err).toBeLessThan(1e-4 * (tf.tidy(() => tf.max(tf.abs(q)).dataSync()[0] as number) + 1e-6))
    })
    tf.dispose([...kept.params, ...recomputed.params])
  })
})

describe("models layer", () => {
  it("disposes every variable when its scope closes", async () => {
    const before = tf.memory().numTensors
    await Effect.runPromise(
      Effect.scoped(
        Layer.build(ModelsLayer.layer(spec)).pipe(
          Effect.map(() => expect(tf.memory().numTensors).toBeGreaterThan(before)),
        ),
      ),
    )
    expect(tf.memory().numTensors).toBe(before)
  })
})
