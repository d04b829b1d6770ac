/**
 * `recovery` in pipeline.json: what a run does when the divergence guard stops
 * an iteration (src/pipeline/training/recovery.ts). Off by default. The
 * recoveries a run makes are written back into its resolved config
 * (`recovery.recovered`, and the lowered setting itself), so `--resume`
 * continues with the changed settings and the same noise keys.
 */
import { Schema } from "effect"
import { foldIn, rootKey } from "../../models/random.js"
import { REMEDY_SETTINGS, type Remedy } from "../../stages/divergence.js"
import { field, NonNegativeInt, Positive, PositiveInt, section } from "../../stages/options.js"

/** One recovery: where the run diverged, where it went back to, what it lowered. */
export const RecoveryEntry = Schema.Struct({
  diverged: PositiveInt.annotate({ description: "the iteration that diverged (1 = the first)" }),
  backTo: NonNegativeInt.annotate({ description: "iterations completed in the state the run went back to" }),
  stage: Schema.String.annotate({ description: "the stage whose guard stopped the iteration" }),
  quantity: Schema.String.annotate({ description: "what the guard found non-finite or exploded" }),
  value: Schema.String.annotate({
    description: "its value (as text: NaN and Infinity are not JSON numbers)",
  }),
  field: Schema.Literals(REMEDY_SETTINGS).annotate({ description: "the setting lowered" }),
  from: Positive,
  to: Positive,
})
export type RecoveryEntry = typeof RecoveryEntry.Type

export const RecoverySection = section(
  {
    retries: field(
      NonNegativeInt,
      0,
      "recoveries from divergence a run may make (0: off): back to the newest snapshot, the setting the divergence points at lowered, on with fresh noise",
    ),
    factor: field(
      Schema.Finite.check(
        Schema.isBetween({ minimum: 0, maximum: 1, exclusiveMinimum: true, exclusiveMaximum: true }),
      ),
      0.5,
      "each recovery multiplies that setting by this (exploding revised samples: langevin.stepSize; else the learning rate of the stage's net)",
    ),
    snapshotEvery: field(
      PositiveInt,
      10,
      "with retries > 0: an in-memory copy of the trained state every N iterations (and at every checkpoint), where a recovery goes back to",
    ),
    recovered: field(
      Schema.Array(RecoveryEntry),
      [],
      "written by the run: the recoveries made so far (the lowered settings are already in this config; the stages' noise keys fold in their count)",
    ),
  },
  "recovery from divergence (off by default)",
)
export type RecoverySection = typeof RecoverySection.Type

/**
 * The seed the stages draw their noise with: the run's seed until the first
 * recovery, then one folded with the count of recoveries, so that iterations
 * run again after a recovery draw fresh noise — the same fresh noise every
 * time the same run recovers the same way.
 */
export const noiseSeed = (seed: number, recoveries: number): number =>
  recoveries === 0 ? seed : foldIn(rootKey(seed), "recovery", recoveries)

/** A spec's value of a setting recovery lowers. */
export const remedyValue = (
  spec: {
    readonly langevin: { readonly stepSize: number }
    readonly optimizer: {
      readonly descriptor: { readonly learningRate: number }
      readonly generator: { readonly learningRate: number }
    }
  },
  remedy: Remedy,
): number => {
  switch (remedy) {
    case "langevin.stepSize":
      return spec.langevin.stepSize
    case "optimizer.descriptor.learningRate":
      return spec.optimizer.descriptor.learningRate
    case "optimizer.generator.learningRate":
      return spec.optimizer.generator.learningRate
  }
}
