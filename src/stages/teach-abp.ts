/**
 * teach "abp" (the generator alone, "Algorithm G": alternating back-propagation,
 * Han et al. 2017). The generator learns from the observed images directly:
 *   1. inferential back-propagation: z ~ N(0, I), then latentLangevin.steps
 *      Langevin steps under q(z | X_obs) ∝ N(z; 0, I)·N(X_obs; g(z), σ²I);
 *   2. learning back-propagation: one Adam step regressing g(z) onto X_obs.
 * z starts afresh every iteration (keyed on the iteration), not warm-started
 * from the previous epoch's z of the same image as in the ABP paper: the
 * chains stay independent of the data order and of any stored state.
 */
import * as tf from "@tensorflow/tfjs-core"
import { Effect } from "effect"
import { generatorStep, latentRevise } from "../models/coopnets.js"
import { foldIn, normalTensor, rootKey } from "../models/random.js"
import { guardFinite } from "./divergence.js"
import { Models } from "./models.js"
import { type Taught, timed, type Updated } from "./records.js"
import type { Stage, StageOptions } from "./stage.js"

export const abpTeach =
  (o: StageOptions): Stage<Updated, Taught> =>
  (input) =>
    Effect.gen(function* () {
      const { generator, generatorOptimizer } = yield* Models
      const [step, timings] = timed(input.timings, "teach", () => {
        const key = foldIn(rootKey(o.seed), "abp", input.iteration)
        const z0 = normalTensor(foldIn(key, "z"), [input.images.shape[0], o.zDim]) as tf.Tensor2D
        const z = latentRevise(generator, z0, input.images, o.latentLangevin, foldIn(key, "langevin"))
        const step = generatorStep(generator, generatorOptimizer, z, input.images, o.generatorSigma)
        tf.dispose([z0, z])
        return step
      })
      yield* guardFinite("teach", input.iteration, { "generator loss": step.loss })
      return { ...input, generator: step, timings }
    })
