/** updateDescriptor ("adam"): one Adam step ascending mean f(X_obs) − mean f(X̂) in θ. */
import { Effect } from "effect"
import { descriptorStep } from "../models/coopnets.js"
import { guardFinite } from "./divergence.js"
import { Models } from "./models.js"
import { type Revised, timed, type Updated } from "./records.js"
import type { Stage, StageOptions } from "./stage.js"

export const adamDescriptorUpdate =
  (o: StageOptions): Stage<Revised, Updated> =>
  (input) =>
    Effect.gen(function* () {
      const { descriptor, descriptorOptimizer } = yield* Models
      const [step, timings] = timed(input.timings, "updateDescriptor", () =>
        descriptorStep(descriptor, descriptorOptimizer, input.images, input.revised, o.langevin.refSigma),
      )
      yield* guardFinite("updateDescriptor", input.iteration, {
        "descriptor loss": step.loss,
        "mean energy of the revised samples": step.revisedEnergy,
        "mean energy of the observed batch": step.observedEnergy,
      })
      return { ...input, descriptor: step, timings }
    })
