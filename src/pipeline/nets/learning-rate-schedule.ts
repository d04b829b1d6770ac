/**
 * `optimizer.schedule`: both learning rates held at the spec's values for the
 * first `after` of the iterations, then lowered along a half cosine to `final`
 * times those values at the last iteration. A function of the iteration and
 * the run's length alone, so a resumed run follows the same rates; a recovery
 * from divergence lowers the base rates, and the schedule scales those.
 */
import { setLearningRate } from "../../models/adam-state.js"
import type { ModelsShape } from "../../stages/models.js"
import type { PipelineSpec } from "../config/spec.js"

/** The factor on both learning rates at `iteration` (0-based) of `total`. */
export const learningRateFactor = (
  schedule: PipelineSpec["optimizer"]["schedule"],
  iteration: number,
  total: number,
): number => {
  const start = schedule.after * total
  const span = total - 1 - start
  if (span <= 0 || iteration <= start) return 1
  const progress = Math.min(1, (iteration - start) / span)
  return schedule.final + ((1 - schedule.final) * (1 + Math.cos(Math.PI * progress))) / 2
}

/** Sets both optimisers' learning rates to the spec's times the schedule's factor at `iteration`. */
export const setLearningRates = (models: ModelsShape, spec: PipelineSpec, iteration: number): void => {
  const factor = learningRateFactor(spec.optimizer.schedule, iteration, spec.training.iterations)
  setLearningRate(models.descriptorOptimizer, factor * spec.optimizer.descriptor.learningRate)
  setLearningRate(models.generatorOptimizer, factor * spec.optimizer.generator.learningRate)
}
