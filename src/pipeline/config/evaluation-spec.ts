/**
 * `evaluation` in pipeline.json: the training loop's periodic sample-quality
 * evaluation (src/pipeline/training-evaluation.ts). Every field is optional
 * and the block may be left out (old run directories and checkpoints have
 * none, so it is not part of the defaults a resumed run is compared with).
 */
import { Effect, Schema } from "effect"
import { ConfigError } from "../errors.js"
import { imageShapeOfData } from "./data-spec.js"
import type { PipelineSpec } from "./spec.js"

const NonNegativeInt = Schema.Int.check(Schema.isGreaterThanOrEqualTo(0))

export const EvaluationSpec = Schema.Struct({
  /** evaluate every N iterations; 0: never */
  every: Schema.optionalKey(NonNegativeInt),
  /** images drawn for each evaluation (at least 2, for a covariance) */
  samples: Schema.optionalKey(Schema.Int.check(Schema.isGreaterThanOrEqualTo(2))),
  /** descriptor Langevin steps after the generator, as `sample --langevin K` */
  langevin: Schema.optionalKey(NonNegativeInt),
})

export interface EvaluationSettings {
  readonly every: number
  readonly samples: number
  readonly langevin: number
}

export const evaluationDefaults: EvaluationSettings = { every: 0, samples: 1000, langevin: 0 }

/** The spec's evaluation settings with the defaults filled in. */
export const evaluationOf = (spec: PipelineSpec): EvaluationSettings => ({
  ...evaluationDefaults,
  ...spec.evaluation,
})

/** The training-loop evaluation judges 28x28 single-channel images with the MNIST classifier: other runs are refused. */
export const checkEvaluation = (
  spec: PipelineSpec,
  source: string,
): Effect.Effect<PipelineSpec, ConfigError> => {
  const shape = imageShapeOfData(spec.data)
  return evaluationOf(spec).every > 0 && shape.join("x") !== "28x28x1"
    ? Effect.fail(
        new ConfigError({
          message: `${source}: evaluation.every is ${evaluationOf(spec).every} but the training-loop evaluation uses the MNIST classifier, which reads 28x28 single-channel images, and this run's images are ${shape.join("x")}. Set evaluation.every to 0, and evaluate the checkpoints afterwards with \`node dist/run.js evaluate <run-dir> --features model.json --reference <folder|npy>\`.`,
        }),
      )
    : Effect.succeed(spec)
}
