/** revise "none" (the generator alone): no descriptor Langevin; the "revised" samples are the drafts themselves. */
import * as tf from "@tensorflow/tfjs-core"
import { Effect } from "effect"
import { defineStage } from "./stage.js"

export const noRevision = defineStage({
  slot: "revise",
  name: "none",
  summary: 'no descriptor: the "revised" samples are the drafts (with teach "abp")',
  options: {},
  make: () => (input) =>
    Effect.succeed({
      ...input,
      // a copy: the record owns drafts and revised separately and releases both
      revised: tf.clone(input.drafts),
      draftEnergy: null,
      timings: { ...input.timings, revise: 0 },
    }),
})
