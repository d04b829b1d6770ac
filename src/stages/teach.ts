/** teach "mcmc" (the default): the generator regresses g(z) onto the revised samples X̂ with the z that drafted them. */

import type * as tf from "@tensorflow/tfjs-core"
import { Effect } from "effect"
import { generatorStep, generatorStepFromDraft } from "../models/coopnets.js"
import { LatentLangevinSection } from "./options.js"
import type { Taught, Updated } from "./records.js"
import { type CoreOptions, compute, defineStage, type Stage } from "./stage.js"

/**
 * One teaching step: regress g(z) onto the revised samples, with `latents`
 * giving the z to regress from (the drafting z, or a revision of it) and
 * whether the step owns that tensor.
 */
export const teachWith =
  (
    o: CoreOptions,
    latents: (input: Updated, z: tf.Tensor2D, generator: Parameters<typeof generatorStep>[0]) => tf.Tensor2D,
  ): Stage<Updated, Taught> =>
  (input) => {
    const z0 = input.z
    if (z0 === null)
      return Effect.die(
        new Error("teaching needs chains drafted by the generator (the spec checks reject this)"),
      )
    return compute(
      input,
      "teach",
      ({ generator, generatorOptimizer }) => {
        const z = latents(input, z0, generator)
        // the draft's forward pass serves when z is the one that drafted the chains (the generator
        // has not changed since: only the descriptor learns in between)
        const step =
          z === z0 && input.generatorPass !== undefined
            ? generatorStepFromDraft(
                generator,
                generatorOptimizer,
                input.generatorPass,
                input.revised,
                o.generatorSigma,
              )
            : generatorStep(generator, generatorOptimizer, z, input.revised, o.generatorSigma)
        if (z !== z0) z.dispose()
        return step
      },
      (step) => ({ "generator loss": step.loss }),
    ).pipe(Effect.map(([generator, timings]) => ({ ...input, generator, timings })))
  }

/** Teaching from the chains needs them revised: the generator learns what the revision added. */
export const revisionNeeded = {
  capability: "revision",
  why: "the generator learns from what the descriptor's revision added",
} as const

export const mcmcTeaching = defineStage({
  slot: "teach",
  name: "mcmc",
  summary: "the generator regresses g(z) onto the revised samples with the z that drafted them (the default)",
  options: { latentLangevin: LatentLangevinSection },
  needs: [{ capability: "z", why: "it regresses g(z) onto the revised samples" }, revisionNeeded],
  check: ({ options }) =>
    options.latentLangevin.steps > 0
      ? [
          `stages.teach "mcmc" does not revise z, but latentLangevin.steps is ${options.latentLangevin.steps}; use stages.teach "zrevision" to revise z under q(z|X̂) before teaching, or set latentLangevin.steps to 0`,
        ]
      : [],
  make: (o) => teachWith(o, (_, z) => z),
})
