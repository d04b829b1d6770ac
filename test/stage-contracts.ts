/**
 * The stage contracts every registered variant is held to, on images
 * (test/unit/ablations.test.ts) and on videos (test/unit/video-stages.test.ts):
 * one iteration through the stages a spec names, and the two whole-pipeline
 * checks (no tensors leaked across warm iterations; the same bytes under one
 * seed, other bytes under another).
 */
import * as tf from "@tensorflow/tfjs-core"
import { Effect } from "effect"
import type { PipelineSpec } from "../src/pipeline/config/spec.js"
import * as ModelsLayer from "../src/pipeline/nets/build.js"
import { stagesOf } from "../src/pipeline/training/stages.js"
import { Models } from "../src/stages/models.js"
import { type Observed, release, type Taught } from "../src/stages/records.js"
import { bytesOf, observedAt } from "./support.js"

/** The observed batch of iteration i: MNIST digits by default (./support.ts), a clip's for videos. */
export type Observe = (spec: PipelineSpec, iteration: number) => Observed

/** One iteration through the stages a spec names, in the scheduler's order. */
export const pipelineOf = (spec: PipelineSpec, observe: Observe = observedAt) => {
  const { draft, revise, writeBack, updateDescriptor: update, teach } = stagesOf(spec)
  return (i: number) =>
    Effect.gen(function* () {
      const drafted = yield* draft(observe(spec, i))
      const revised = yield* writeBack(yield* revise(drafted))
      return yield* teach(yield* update(revised))
    })
}

export const withModels = <A, E>(spec: PipelineSpec, effect: Effect.Effect<A, E, Models>) =>
  Effect.runPromise(effect.pipe(Effect.provide(ModelsLayer.layer(spec))) as Effect.Effect<A, E>)

/** Live tensors after two warm iterations (Adam slots, persistent buffers) and after two more. */
export const tensorsAcrossIterations = (
  spec: PipelineSpec,
  observe: Observe = observedAt,
): Promise<[number, number]> => {
  const iteration = pipelineOf(spec, observe)
  return withModels(
    spec,
    Effect.gen(function* () {
      release(yield* iteration(0))
      release(yield* iteration(1))
      const before = tf.memory().numTensors
      release(yield* iteration(2))
      release(yield* iteration(3))
      return [before, tf.memory().numTensors] as [number, number]
    }),
  )
}

/** The second iteration's drafts and revisions and every parameter after it, as bytes, under `seed`. */
export const seededBytes = (
  spec: PipelineSpec,
  seed: number,
  observe: Observe = observedAt,
): Promise<Array<Uint8Array>> => {
  const seeded = { ...spec, seed }
  const step = pipelineOf(seeded, observe)
  return withModels(
    seeded,
    Effect.gen(function* () {
      release(yield* step(0))
      const out: Taught = yield* step(1)
      const { generator, descriptor } = yield* Models
      const bytes = [
        bytesOf(out.drafts),
        bytesOf(out.revised),
        ...[...generator.params.values(), ...descriptor.params.values()].map(bytesOf),
      ]
      release(out)
      return bytes
    }),
  )
}
