/** teach "none": the generator is left as it is (no teaching; with chains "noise", the descriptor alone). */
import { Effect } from "effect"
import { defineStage } from "./stage.js"

export const noTeaching = defineStage({
  slot: "teach",
  name: "none",
  summary: "the generator is never updated",
  options: {},
  make: () => (input) =>
    Effect.succeed({ ...input, generator: null, timings: { ...input.timings, teach: 0 } }),
})
