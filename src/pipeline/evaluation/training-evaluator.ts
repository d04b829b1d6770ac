/**
 * The training loop's periodic sample-quality evaluation (`evaluation.every`):
 * every N iterations, `evaluation.samples` images are drawn from the current
 * nets exactly as `sample --langevin K --seed <run seed>` draws them (the same
 * latents each time, keyed by the run's seed and not by the iteration) and
 * judged with the MNIST metrics. Sampling reads the weights and uses its own
 * keyed randomness, so the training itself is unchanged: a run with the
 * evaluation on trains to the same checkpoints as one without.
 */
import { Effect } from "effect"
import type { ModelsShape } from "../../stages/models.js"
import type { PipelineSpec } from "../config/spec.js"
import { defaultSampler, drawSamples } from "../nets/draw.js"
import type { EvaluationLine } from "../run-dir/metrics.js"
import { acquireClassifier, type ClassifierSource, defaultClassifierSource } from "./mnist-classifier.js"
import { prepareMnistReference, type SampleQuality, sampleQuality } from "./sample-quality.js"

export interface TrainingEvaluator {
  readonly every: number
  /** The metrics line of iteration `iteration`: `{ iteration, evaluation: {...} }`. */
  readonly evaluate: (models: ModelsShape, iteration: number) => TrainingEvaluationLine
}

/** metrics.jsonl's evaluation line as the training loop writes it. */
export interface TrainingEvaluationLine extends EvaluationLine {
  readonly evaluation: SampleQuality & { readonly langevin: number; readonly ms: number }
}

/**
 * The evaluator of a run whose spec asks for one (undefined otherwise): the
 * classifier (trained and cached first if needed) and the reference statistics,
 * held until the enclosing scope closes.
 */
export const acquireTrainingEvaluator = (
  spec: PipelineSpec,
  classifier: ClassifierSource | undefined,
  log: (line: string) => void,
) =>
  Effect.gen(function* () {
    const settings = spec.evaluation
    if (settings === undefined || settings.every === 0) return undefined
    const loaded = yield* acquireClassifier(classifier ?? defaultClassifierSource(), log)
    const ref = yield* prepareMnistReference(loaded)
    const evaluator: TrainingEvaluator = {
      every: settings.every,
      evaluate: (models, iteration) => {
        const started = performance.now()
        // the run's own sampler: its generator if it is taught, else its chains (nets/draw.ts)
        const images = drawSamples(
          models,
          spec,
          settings.samples,
          settings.langevin,
          spec.seed,
          undefined,
          undefined,
          defaultSampler(spec),
        )
        const quality = sampleQuality(ref, images, settings.samples)
        const ms = Math.round((performance.now() - started) * 100) / 100
        return { iteration, evaluation: { ...quality, langevin: settings.langevin, ms } }
      },
    }
    return evaluator
  })
