/** updateDescriptor ("adam"): one Adam step ascending mean f(X_obs) − mean f(X̂) in θ. */
import { Effect } from "effect"
import { descriptorStep, withLabels } from "../models/coopnets.js"
import { guardFinite } from "./divergence.js"
import { Models } from "./models.js"
import { type Revised, timed, type Updated } from "./records.js"
import type { Stage, StageOptions } from "./stage.js"

export const adamDescriptorUpdate =
  (o: StageOptions): Stage<Revised, Updated> =>
  (input) =>
    Effect.gen(function* () {
      const { descriptorOptimizer, ...models } = yield* Models
      // conditional chains carry one-hot labels; unconditional nets have no layer that reads them
      const descriptor = withLabels(models.descriptor, input.oneHotLabels)
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
