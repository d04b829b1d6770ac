/** updateDescriptor "none" (the generator alone): the descriptor is not trained. */
import { Effect } from "effect"
import { defineStage } from "./stage.js"

export const noDescriptorUpdate = defineStage({
  slot: "updateDescriptor",
  name: "none",
  summary: 'the descriptor is not trained (with teach "abp")',
  options: {},
  make: () => (input) =>
    Effect.succeed({ ...input, descriptor: null, timings: { ...input.timings, updateDescriptor: 0 } }),
})
