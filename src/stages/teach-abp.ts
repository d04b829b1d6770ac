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
import { LatentLangevinSection } from "./options.js"
import { compute, defineStage } from "./stage.js"

export const abpTeaching = defineStage({
  slot: "teach",
  name: "abp",
  summary:
    "the generator alone (alternating back-propagation): infer z for the observed batch by latentLangevin.steps Langevin steps, then regress g(z) onto X_obs",
  options: { latentLangevin: LatentLangevinSection },
  needs: [{ capability: "freshDrafts", why: "the generator alone shows its own drafts g(z)" }],
  excludes: [
    { capability: "revision", why: "alternating back-propagation trains no descriptor" },
    { capability: "descriptorTraining", why: "alternating back-propagation trains no descriptor" },
  ],
  check: ({ options }) =>
    options.latentLangevin.steps === 0
      ? [
          'stages.teach "abp" needs latentLangevin.steps > 0 (the Langevin steps that infer z for each observed image), got 0; set it to e.g. 30',
        ]
      : [],
  make: (o) => (input) =>
    compute(
      input,
      "teach",
      ({ generator, generatorOptimizer }) => {
        const key = foldIn(rootKey(o.seed), "abp", input.iteration)
        const z0 = normalTensor(foldIn(key, "z"), [input.images.shape[0], o.zDim]) as tf.Tensor2D
        const z = latentRevise(
          generator,
          z0,
          input.images,
          { ...o.latentLangevin, sigma: o.generatorSigma },
          foldIn(key, "langevin"),
        )
        const step = generatorStep(generator, generatorOptimizer, z, input.images, o.generatorSigma)
        tf.dispose([z0, z])
        return step
      },
      (step) => ({ "generator loss": step.loss }),
    ).pipe(Effect.map(([generator, timings]) => ({ ...input, generator, timings }))),
})
