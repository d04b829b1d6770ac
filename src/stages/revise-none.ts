/** revise "none" (the generator alone): no descriptor Langevin; the "revised" samples are the drafts themselves. */
import * as tf from "@tensorflow/tfjs-core"
import { Effect } from "effect"
import type { Drafted, Revised } from "./records.js"
import type { Stage, StageOptions } from "./stage.js"

export const noRevision =
  (_: StageOptions): Stage<Drafted, Revised> =>
  (input) =>
    Effect.succeed({
      ...input,
      // a copy: the record owns drafts and revised separately and releases both
      revised: tf.clone(input.drafts),
      draftEnergy: null,
      timings: { ...input.timings, revise: 0 },
    })
