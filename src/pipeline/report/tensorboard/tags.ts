/**
 * The TensorBoard tags of a run: the quantities of metrics.jsonl, grouped by
 * the part before the slash (TensorBoard draws one section per group).
 */
import type { EvaluationLine, IterationLine } from "../../run-dir/metrics.js"
import { evaluationFigures, evaluationHistograms } from "../metrics.js"

/** Scalars of one iteration line; null where the run has no such quantity (e.g. no descriptor). */
export const iterationScalars = (line: IterationLine): Record<string, number | null> => ({
  "energy/observed": line.energy.observed,
  "energy/drafted": line.energy.drafted,
  "energy/revised": line.energy.revised,
  "loss/descriptor": line.descriptorLoss,
  "loss/generator": line.generatorLoss,
  "loss/reconstructionError": line.reconstructionError,
  ...(line.memory ? { "memory/tensors": line.memory.tensors, "memory/rssMb": line.memory.rssMb } : {}),
  ...Object.fromEntries(Object.entries(line.ms).map(([stage, ms]) => [`ms/${stage}`, ms])),
})

/** Scalars of one evaluation line: every figure, and each histogram bin as its own tag. */
export const evaluationScalars = (line: EvaluationLine): Record<string, number> => ({
  ...Object.fromEntries(
    Object.entries(evaluationFigures(line.evaluation)).map(([k, v]) => [`evaluation/${k}`, v]),
  ),
  ...Object.fromEntries(
    Object.entries(evaluationHistograms(line.evaluation)).flatMap(([k, bins]) =>
      bins.map((v, i) => [`evaluation/${k}/${i}`, v] as const),
    ),
  ),
})

/** The image tag of a sample grid kind ("drafts", "revised"). */
export const sampleTag = (kind: string): string => `samples/${kind}`
