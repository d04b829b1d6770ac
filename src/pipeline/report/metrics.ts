/** What the report plots of metrics.jsonl's lines (their types and parser: ../run-dir/metrics.ts). */

import type { IterationLine } from "../run-dir/metrics.js"

/** The numbers of an evaluation line that are plotted as curves (counts and timings are not quality). */
export const evaluationFigures = (evaluation: Readonly<Record<string, unknown>>): Record<string, number> =>
  Object.fromEntries(
    Object.entries(evaluation).filter(
      (entry): entry is [string, number] =>
        typeof entry[1] === "number" &&
        Number.isFinite(entry[1]) &&
        !["count", "ms", "langevin", "samples"].includes(entry[0]),
    ),
  )

/** Arrays of numbers in an evaluation line, e.g. the class histogram. */
export const evaluationHistograms = (
  evaluation: Readonly<Record<string, unknown>>,
): Record<string, ReadonlyArray<number>> =>
  Object.fromEntries(
    Object.entries(evaluation).filter(
      (entry): entry is [string, Array<number>] =>
        Array.isArray(entry[1]) && entry[1].length > 0 && entry[1].every((x) => typeof x === "number"),
    ),
  )

/** Median wall time of an iteration, the first (kernel compilation, optimiser slots) left out. */
export const medianIterationMs = (lines: ReadonlyArray<IterationLine>): number | null => {
  const ms = lines
    .slice(lines.length > 1 ? 1 : 0)
    .map((l) => l.ms.iteration)
    .filter((v): v is number => typeof v === "number" && Number.isFinite(v))
    .sort((a, b) => a - b)
  if (ms.length === 0) return null
  const mid = Math.floor(ms.length / 2)
  return ms.length % 2 === 1 ? (ms[mid] as number) : ((ms[mid - 1] as number) + (ms[mid] as number)) / 2
}
