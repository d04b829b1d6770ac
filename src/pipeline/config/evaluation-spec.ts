/**
 * `evaluation` in pipeline.json: the training loop's periodic sample-quality
 * evaluation (src/pipeline/evaluation/training-evaluator.ts). The block may be
 * left out — the run is then not evaluated, and its resolved spec has none
 * (as the specs of runs made before the block existed).
 */
import { Schema } from "effect"
import { field, NonNegativeInt } from "../../stages/options.js"

export const EvaluationSpec = Schema.Struct({
  every: field(
    NonNegativeInt,
    0,
    "sample quality (MNIST classifier FD, IS, class entropy, copies) every N iterations into metrics.jsonl; 0: off; 28x28x1 data only",
  ),
  samples: field(
    Schema.Int.check(Schema.isGreaterThanOrEqualTo(2)),
    1000,
    "images drawn from the generator for each evaluation (at least 2, for a covariance)",
  ),
  langevin: field(
    NonNegativeInt,
    0,
    "descriptor Langevin steps after the generator for those images (as sample --langevin)",
  ),
}).annotate({ description: "sample quality during training (optional)" })

export type EvaluationSpec = typeof EvaluationSpec.Type
