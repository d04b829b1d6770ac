/**
 * chains "noise" (the descriptor alone, "Algorithm D"): the chains start from
 * the reference distribution N(0, s²I) of E(X) = ‖X‖²/(2s²) − f(X), s =
 * langevin.refSigma; the generator is not used, so the record carries no z.
 */
import type * as tf from "@tensorflow/tfjs-core"
import { Effect } from "effect"
import { foldIn, normalTensor, rootKey } from "../models/random.js"
import { type LangevinSection as Langevin, LangevinSection } from "./options.js"
import type { Drafted, Observed } from "./records.js"
import { type CoreOptions, compute, defineStage, type Stage } from "./stage.js"

/** N(0, s²I) starting points keyed by (seed, "draft", iteration). */
export const draftFromNoise =
  (o: CoreOptions & { readonly langevin: Langevin }): Stage<Observed, Drafted> =>
  (input) =>
    compute(
      input,
      "draft",
      () =>
        normalTensor(
          foldIn(rootKey(o.seed), "draft", input.iteration),
          [o.chains, ...input.images.shape.slice(1)],
          o.langevin.refSigma,
        ) as tf.Tensor4D,
    ).pipe(Effect.map(([drafts, timings]) => ({ ...input, z: null, drafts, timings })))

export const noiseChains = defineStage({
  slot: "chains",
  name: "noise",
  summary:
    "chains start from the reference distribution N(0, s²I), s = langevin.refSigma; no generator, no z",
  options: { langevin: LangevinSection },
  make: draftFromNoise,
})
