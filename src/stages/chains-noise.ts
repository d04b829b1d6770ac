/**
 * chains "noise" (the descriptor alone, "Algorithm D"): the chains start from
 * the reference distribution N(0, s²I) of E(X) = ‖X‖²/(2s²) − f(X), s =
 * langevin.refSigma; the generator is not used, so the record carries no z.
 */
import type * as tf from "@tensorflow/tfjs-core"
import { Effect } from "effect"
import { foldIn, normalTensor, rootKey } from "../models/random.js"
import { type Drafted, type Observed, timed } from "./records.js"
import type { Stage, StageOptions } from "./stage.js"

export const noiseChains =
  (o: StageOptions): Stage<Observed, Drafted> =>
  (input) => {
    const [drafts, timings] = timed(
      input.timings,
      "draft",
      () =>
        normalTensor(
          foldIn(rootKey(o.seed), "draft", input.iteration),
          [o.chains, ...input.images.shape.slice(1)],
          o.langevin.refSigma,
        ) as tf.Tensor4D,
    )
    return Effect.succeed({ ...input, z: null, drafts, timings })
  }
