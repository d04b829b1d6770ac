/** updateDescriptor "none" (the generator alone): the descriptor is not trained. */
import { Effect } from "effect"
import type { Revised, Updated } from "./records.js"
import type { Stage, StageOptions } from "./stage.js"

export const noDescriptorUpdate =
  (_: StageOptions): Stage<Revised, Updated> =>
  (input) =>
    Effect.succeed({ ...input, descriptor: null, timings: { ...input.timings, updateDescriptor: 0 } })
