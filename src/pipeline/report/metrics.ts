/**
 * The lines of a run's metrics.jsonl, as the report and the TensorBoard log
 * read them. Three kinds share the file:
 *
 *   iteration   {iteration, epoch, energy: {observed, drafted, revised}, descriptorLoss,
 *                generatorLoss, reconstructionError, memory: {tensors, rssMb}, ms: {stage: ms, …, iteration}}
 *   evaluation  {iteration, evaluation: {frechetDistance, inceptionScore, classHistogram, …, ms}}
 *   event       any other line with an iteration (e.g. a recovery after divergence): shown as it is
 *
 * A line cut short by a killed writer (the last one, with no newline) is not
 * a line yet; a line that is not JSON is counted and skipped.
 */

export interface IterationLine {
  readonly iteration: number
  readonly epoch: number
  readonly energy: {
    readonly observed: number | null
    readonly drafted: number | null
    readonly revised: number | null
  }
  readonly descriptorLoss: number | null
  readonly generatorLoss: number | null
  readonly reconstructionError: number | null
  readonly memory?: { readonly tensors: number; readonly rssMb: number }
  readonly ms: Readonly<Record<string, number>>
}

export interface EvaluationLine {
  readonly iteration: number
  readonly evaluation: Readonly<Record<string, unknown>>
}

export interface EventLine {
  readonly iteration: number | null
  readonly kind: string
  readonly fields: Readonly<Record<string, unknown>>
}

export interface Metrics {
  readonly iterations: ReadonlyArray<IterationLine>
  readonly evaluations: ReadonlyArray<EvaluationLine>
  readonly events: ReadonlyArray<EventLine>
  /** lines that are not JSON objects */
  readonly malformed: number
}

export const emptyMetrics: Metrics = { iterations: [], evaluations: [], events: [], malformed: 0 }

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v)

/** Sorts one parsed line into its kind. */
const classify = (value: unknown): Partial<Metrics> | null => {
  if (!isObject(value)) return null
  const iteration = typeof value.iteration === "number" ? value.iteration : null
  if (iteration !== null && isObject(value.energy) && isObject(value.ms))
    return { iterations: [value as unknown as IterationLine] }
  if (iteration !== null && isObject(value.evaluation))
    return { evaluations: [{ iteration, evaluation: value.evaluation }] }
  const { iteration: _, ...fields } = value
  const kind = Object.keys(fields)[0] ?? "event"
  return { events: [{ iteration, kind, fields }] }
}

/**
 * Parses complete lines of `text` (everything up to its last newline) and adds
 * them to `into`. Returns the metrics and how many characters were consumed,
 * so that a reader can continue from there when the file grows.
 */
export const parseMetrics = (
  text: string,
  into: Metrics = emptyMetrics,
): { metrics: Metrics; consumed: number } => {
  const end = text.lastIndexOf("\n") + 1
  const iterations = [...into.iterations]
  const evaluations = [...into.evaluations]
  const events = [...into.events]
  let malformed = into.malformed
  for (const line of text.slice(0, end).split("\n")) {
    if (line.trim() === "") continue
    let parsed: unknown
    try {
      parsed = JSON.parse(line)
    } catch {
      malformed++
      continue
    }
    const kind = classify(parsed)
    if (kind === null) malformed++
    else {
      iterations.push(...(kind.iterations ?? []))
      evaluations.push(...(kind.evaluations ?? []))
      events.push(...(kind.events ?? []))
    }
  }
  return { metrics: { iterations, evaluations, events, malformed }, consumed: end }
}

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
