/**
 * teach ("mcmc"): the generator regresses g(z) onto the revised samples X̂ with
 * the z that drafted them, after optional Langevin revision of z under q(z|X̂).
 * teach ("none"): the generator is left as it is.
 */
import * as tf from "@tensorflow/tfjs-core"
import { Effect } from "effect"
import { generatorStep, latentRevise, withLabels } from "../models/coopnets.js"
import { foldIn, rootKey } from "../models/random.js"
import { guardFinite } from "./divergence.js"
import { Models } from "./models.js"
import { type Taught, timed, type Updated } from "./records.js"
import type { Stage, StageOptions } from "./stage.js"

export const mcmcTeach =
  (o: StageOptions): Stage<Updated, Taught> =>
  (input) =>
    Effect.gen(function* () {
      const { generatorOptimizer, ...models } = yield* Models
      // conditional chains carry one-hot labels; unconditional nets have no layer that reads them
      const generator = withLabels(models.generator, input.oneHotLabels)
      const z0 = input.z
      if (z0 === null)
        return yield* Effect.die(
          new Error('teach "mcmc" needs chains drafted by the generator (checkStages rejects this spec)'),
        )
      const [step, timings] = timed(input.timings, "teach", () => {
        if (o.latentLangevin.steps === 0)
          return generatorStep(generator, generatorOptimizer, z0, input.revised, o.generatorSigma)
        const key = foldIn(rootKey(o.seed), "teach", input.iteration)
        const z = latentRevise(generator, z0, input.revised, o.latentLangevin, key)
        const step = generatorStep(generator, generatorOptimizer, z, input.revised, o.generatorSigma)
        tf.dispose(z)
        return step
      })
      yield* guardFinite("teach", input.iteration, { "generator loss": step.loss })
      return { ...input, generator: step, timings }
    })

export const noTeach =
  (_: StageOptions): Stage<Updated, Taught> =>
  (input) =>
    Effect.succeed({ ...input, generator: null, timings: { ...input.timings, teach: 0 } })
