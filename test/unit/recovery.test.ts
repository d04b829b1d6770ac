/**
 * The parts of recovery from divergence that need no run: which setting a
 * divergence lowers (and the next one when a recovery does not get past it),
 * the spec after a recovery, fresh noise keys, the snapshot round trip, and
 * which spec a resume continues with.
 */
import * as tf from "@tensorflow/tfjs-core"
import { Effect, Layer } from "effect"
import { beforeAll, describe, expect, it } from "vitest"
import { noiseSeed } from "../../src/pipeline/config/recovery-spec.js"
import { afterRecovery, type PipelineSpec } from "../../src/pipeline/config/spec.js"
import { coreOptionsOf } from "../../src/pipeline/config/stage-options.js"
import * as ModelsLayer from "../../src/pipeline/nets/build.js"
import { captureState } from "../../src/pipeline/run-dir/checkpoint.js"
import { reconcile } from "../../src/pipeline/run-dir/resume.js"
import { makeSnapshots, recoveryFor, restoreSnapshot } from "../../src/pipeline/training/recovery.js"
import { stagesOf } from "../../src/pipeline/training/stages.js"
import { DivergenceError, remediesFor } from "../../src/stages/divergence.js"
import { Models } from "../../src/stages/models.js"
import { release } from "../../src/stages/records.js"
import { bytesOf, observedAt, tinySpec, useTestBackend } from "../support.js"

const spec: PipelineSpec = { ...tinySpec(), recovery: { ...tinySpec().recovery, retries: 3 } }

const divergence = (stage: string, quantity: string, iteration: number) =>
  new DivergenceError({ stage, quantity, iteration, value: Number.POSITIVE_INFINITY, message: "" })

beforeAll(async () => {
  await useTestBackend()
})

describe("what a recovery lowers", () => {
  it("the setting the divergence points at: exploding revised samples lower the Langevin step, else the stage's learning rate", () => {
    expect(remediesFor("revise", "mean |pixel| of the revised samples")[0]).toBe("langevin.stepSize")
    expect(remediesFor("updateDescriptor", "mean energy of the revised samples")[0]).toBe("langevin.stepSize")
    expect(remediesFor("updateDescriptor", "descriptor loss")[0]).toBe("optimizer.descriptor.learningRate")
    expect(remediesFor("teach", "generator loss")).toEqual(["optimizer.generator.learningRate"])
    expect(remediesFor("draft", "mean drafted pixel")).toEqual(["optimizer.generator.learningRate"])
    expect(remediesFor("keepChains", "anything")).toEqual([])
  })

  it("multiplies it by recovery.factor and records where the run diverged and went back to", () => {
    const entry = recoveryFor(spec, divergence("updateDescriptor", "descriptor loss", 56), 50)
    expect(entry).toEqual({
      diverged: 57,
      backTo: 50,
      stage: "updateDescriptor",
      quantity: "descriptor loss",
      value: "Infinity",
      field: "optimizer.descriptor.learningRate",
      from: 0.007,
      to: 0.0035,
    })
    const after = afterRecovery(spec, entry as NonNullable<typeof entry>)
    expect(after.optimizer.descriptor.learningRate).toBe(0.0035)
    expect(after.optimizer.generator).toEqual(spec.optimizer.generator)
    expect(after.langevin).toEqual(spec.langevin)
    expect(after.recovery.recovered).toEqual([entry])
  })

  it("the stage's next setting when the recovery before did not get past the same iteration; the first again once one did", () => {
    const first = recoveryFor(spec, divergence("updateDescriptor", "descriptor loss", 56), 50)
    const s1 = afterRecovery(spec, first as NonNullable<typeof first>)
    // it diverged again, no later, from the same snapshot: the step size this time
    const second = recoveryFor(s1, divergence("updateDescriptor", "descriptor loss", 55), 50)
    expect(second?.field).toBe("langevin.stepSize")
    const s2 = afterRecovery(s1, second as NonNullable<typeof second>)
    // and round again
    expect(recoveryFor(s2, divergence("updateDescriptor", "descriptor loss", 56), 50)?.field).toBe(
      "optimizer.descriptor.learningRate",
    )
    // past it (a later iteration, a newer snapshot): the setting the divergence points at
    expect(recoveryFor(s2, divergence("updateDescriptor", "descriptor loss", 80), 70)?.field).toBe(
      "optimizer.descriptor.learningRate",
    )
    expect(recoveryFor(s1, divergence("updateDescriptor", "descriptor loss", 57), 50)?.field).toBe(
      "optimizer.descriptor.learningRate",
    )
  })

  it("no setting to lower, no recovery", () => {
    expect(recoveryFor(spec, divergence("keepChains", "x", 3), 0)).toBeUndefined()
  })
})

describe("fresh noise after a recovery", () => {
  it("the stages draw with the run's seed until the first recovery, then with one that differs per recovery", () => {
    expect(noiseSeed(7, 0)).toBe(7)
    const seeds = [0, 1, 2, 3].map((n) => noiseSeed(7, n))
    expect(new Set(seeds).size).toBe(4)
    expect(noiseSeed(7, 1)).toBe(noiseSeed(7, 1))
    const entry = recoveryFor(spec, divergence("revise", "mean |pixel| of the revised samples", 4), 2)
    const after = afterRecovery(spec, entry as NonNullable<typeof entry>)
    expect(coreOptionsOf(spec).seed).toBe(spec.seed)
    expect(coreOptionsOf(after).seed).toBe(noiseSeed(spec.seed, 1))
  })

  it("so the same iteration drafts other samples after a recovery", async () => {
    const entry = recoveryFor(spec, divergence("teach", "generator loss", 4), 2)
    const after = afterRecovery(spec, entry as NonNullable<typeof entry>)
    const drafts = (s: PipelineSpec) =>
      Effect.runPromise(
        Effect.gen(function* () {
          const record = yield* stagesOf(s).draft(observedAt(s, 3))
          const bytes = bytesOf(record.drafts)
          release(record)
          return bytes
        }).pipe(Effect.provide(ModelsLayer.layer(spec))),
      )
    expect(await drafts(after)).not.toEqual(await drafts(spec))
    expect(await drafts(after)).toEqual(await drafts(after))
  })
})

describe("snapshots", () => {
  it("put back every weight, the optimiser state and the extra state exactly, with the spec's learning rates", async () => {
    const result = await Effect.runPromise(
      Effect.gen(function* () {
        const models = yield* Models
        models.state.set("chains/test", tf.variable(tf.fill([2, 3], 0.5), false))
        const snapshots = yield* makeSnapshots
        // one real iteration first, so that the Adam moments are not zero
        const stages = stagesOf(spec)
        const once = (i: number) =>
          Effect.gen(function* () {
            const r = yield* stages.teach(
              yield* stages.updateDescriptor(yield* stages.revise(yield* stages.draft(observedAt(spec, i)))),
            )
            release(r)
          })
        yield* once(0)
        yield* snapshots.take(1)
        const before = yield* captureState(models)
        yield* once(1)
        tf.tidy(() => (models.state.get("chains/test") as tf.Variable).assign(tf.fill([2, 3], -1)))
        const moved = yield* captureState(models)
        const lowered = {
          ...spec,
          optimizer: { ...spec.optimizer, generator: { ...spec.optimizer.generator, learningRate: 1e-5 } },
        }
        yield* restoreSnapshot(
          (yield* snapshots.newest) as NonNullable<Effect.Success<typeof snapshots.newest>>,
          models,
          lowered,
        )
        const after = yield* captureState(models)
        const rate = (models.generatorOptimizer as unknown as { learningRate: number }).learningRate
        return { before, moved, after, rate, iteration: (yield* snapshots.newest)?.iteration }
      }).pipe(Effect.provide(Layer.fresh(ModelsLayer.layer(spec)))),
    )
    expect(result.iteration).toBe(1)
    expect(Buffer.from(result.moved.data).equals(Buffer.from(result.before.data))).toBe(false)
    expect(result.after.specs).toEqual(result.before.specs)
    expect(Buffer.from(result.after.data).equals(Buffer.from(result.before.data))).toBe(true)
    expect(result.rate).toBe(1e-5)
  })
})

describe("the spec a resume continues with", () => {
  const entry = recoveryFor(spec, divergence("revise", "mean |pixel| of the revised samples", 20), 18)
  const recovered = afterRecovery(spec, entry as NonNullable<typeof entry>)

  it("config.json's, when the checkpoint was written with it", () => {
    expect(reconcile(recovered, recovered, recovered.training.iterations)).toEqual(recovered)
  })

  it("the checkpoint's, when a kill came between writing a recovery's checkpoint and config.json", () => {
    expect(reconcile(spec, recovered, spec.training.iterations)).toEqual(recovered)
  })

  it("with the total of --iterations (an extension), whatever total the checkpoint had", () => {
    expect(reconcile(spec, spec, 600)).toEqual({ ...spec, training: { ...spec.training, iterations: 600 } })
  })

  it("none, when the checkpoint belongs to another pipeline or knows fewer recoveries than config.json", () => {
    expect(reconcile(spec, { ...spec, seed: 4 }, 3)).toBeUndefined()
    expect(reconcile(recovered, spec, 3)).toBeUndefined()
    // a checkpoint that claims a recovery config.json does not know, with another setting changed too
    expect(reconcile(spec, { ...recovered, generatorSigma: 0.5 }, 3)).toBeUndefined()
  })
})
