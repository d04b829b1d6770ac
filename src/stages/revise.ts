/** revise (revise: "langevin"): l descriptor Langevin steps from the drafts, X̃ → X̂. */
import { Effect } from "effect"
import { langevinRevise } from "../models/coopnets.js"
import { foldIn, rootKey } from "../models/random.js"
import { guardFinite } from "./divergence.js"
import { Models } from "./models.js"
import { type Drafted, type Revised, timed } from "./records.js"
import type { Stage, StageOptions } from "./stage.js"

export const langevinRevision =
  (o: StageOptions): Stage<Drafted, Revised> =>
  (input) =>
    Effect.gen(function* () {
      const { descriptor } = yield* Models
      const [{ revised, startEnergy }, timings] = timed(input.timings, "revise", () =>
        langevinRevise(
          descriptor,
          input.drafts,
          o.langevin,
          foldIn(rootKey(o.seed), "revise", input.iteration),
        ),
      )
      yield* guardFinite("revise", input.iteration, { "mean energy of the drafts": startEnergy }).pipe(
        Effect.tapError(() => Effect.sync(() => revised.dispose())),
      )
      return { ...input, revised, draftEnergy: startEnergy, timings }
    })
