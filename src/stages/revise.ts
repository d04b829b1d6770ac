/** revise "langevin" (the default): l descriptor Langevin steps from the drafts, X̃ → X̂. */
import * as tf from "@tensorflow/tfjs-core"
import { Effect } from "effect"
import { langevinRevise } from "../models/coopnets.js"
import { foldIn, rootKey } from "../models/random.js"
import { LangevinSection } from "./options.js"
import { compute, defineStage } from "./stage.js"

export const langevinRevision = defineStage({
  slot: "revise",
  name: "langevin",
  summary: "descriptor Langevin revision of the chains (the default)",
  options: { langevin: LangevinSection },
  needs: [
    {
      capability: "descriptorTraining",
      why: "Langevin under a descriptor that never learns does not revise towards the data",
    },
  ],
  provides: ["revision"],
  make: (o) => (input) =>
    compute(
      input,
      "revise",
      ({ descriptor }) => {
        const { revised, startEnergy } = langevinRevise(
          descriptor,
          input.drafts,
          o.langevin,
          foldIn(rootKey(o.seed), "revise", input.iteration),
        )
        // mean |pixel| propagates NaN and Inf (a max need not), and shows exploding chains before the next stage does
        const meanAbs = tf.tidy(() => tf.mean(tf.abs(revised)).dataSync()[0] as number)
        return { revised, startEnergy, meanAbs }
      },
      (r) => ({
        "mean energy of the drafts": r.startEnergy,
        "mean |pixel| of the revised samples": r.meanAbs,
      }),
      (r) => r.revised,
    ).pipe(
      Effect.map(([{ revised, startEnergy }, timings]) => ({
        ...input,
        revised,
        draftEnergy: startEnergy,
        timings,
      })),
    ),
})
