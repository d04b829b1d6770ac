/** updateDescriptor "adam" (the default): one Adam step ascending mean f(X_obs) − mean f(X̂) in θ. */
import { Effect } from "effect"
import { descriptorStep } from "../models/coopnets.js"
import { LangevinSection } from "./options.js"
import { compute, defineStage } from "./stage.js"

export const adamDescriptorUpdate = defineStage({
  slot: "updateDescriptor",
  name: "adam",
  summary: "one Adam step on mean f(X_obs) − mean f(X̂) (the default)",
  options: { langevin: LangevinSection },
  needs: [
    {
      capability: "revision",
      why: "the descriptor learns by contrasting the observed images with the chains it revised",
    },
  ],
  provides: ["descriptorTraining"],
  make: (o) => (input) =>
    compute(
      input,
      "updateDescriptor",
      ({ descriptor, descriptorOptimizer }) =>
        descriptorStep(descriptor, descriptorOptimizer, input.images, input.revised, o.langevin.refSigma),
      (step) => ({
        "descriptor loss": step.loss,
        "mean energy of the revised samples": step.revisedEnergy,
        "mean energy of the observed batch": step.observedEnergy,
      }),
    ).pipe(Effect.map(([descriptor, timings]) => ({ ...input, descriptor, timings }))),
})
