/** revise (revise: "langevin"): l descriptor Langevin steps from the drafts, X̃ → X̂. */
import * as tf from "@tensorflow/tfjs-core"
import { Effect } from "effect"
import { langevinRevise, withLabels } from "../models/coopnets.js"
import { foldIn, rootKey } from "../models/random.js"
import { guardFinite } from "./divergence.js"
import { Models } from "./models.js"
import { type Drafted, type Revised, timed } from "./records.js"
import type { Stage, StageOptions } from "./stage.js"

export const langevinRevision =
  (o: StageOptions): Stage<Drafted, Revised> =>
  (input) =>
    Effect.gen(function* () {
      // conditional chains carry one-hot labels; unconditional nets have no layer that reads them
      const descriptor = withLabels((yield* Models).descriptor, input.oneHotLabels)
      const [{ revised, startEnergy }, timings] = timed(input.timings, "revise", () =>
        langevinRevise(
          descriptor,
          input.drafts,
          o.langevin,
          foldIn(rootKey(o.seed), "revise", input.iteration),
        ),
      )
      // mean |pixel| propagates NaN and Inf (a max need not), and shows exploding chains before the next stage does
      const meanAbs = tf.tidy(() => tf.mean(tf.abs(revised)).dataSync()[0] as number)
      yield* guardFinite("revise", input.iteration, {
        "mean energy of the drafts": startEnergy,
        "mean |pixel| of the revised samples": meanAbs,
      }).pipe(Effect.tapError(() => Effect.sync(() => revised.dispose())))
      return { ...input, revised, draftEnergy: startEnergy, timings }
    })
