/**
 * metrics.jsonl: one JSON line per iteration, one more after every periodic
 * evaluation, one for every recovery from divergence (where the run went
 * back to: the iteration lines after it are those of the iterations run
 * again), and other event lines. Its writer (the training loop) and its
 * readers (resume, compare, the report, sweeps, the benchmark) share these
 * types and this parser.
 */
import { Effect, FileSystem } from "effect"
import type { RecoveryEntry } from "../config/recovery-spec.js"
import { OutputError } from "../errors.js"
import { appendJob, type WriteJob } from "./writer.js"

export interface IterationLine {
  /** iterations completed (1 after the first) */
  readonly iteration: number
  readonly epoch: number
  /** mean energy E(X) of the observed batch, the drafts and the revised samples; null where the variant has none */
  readonly energy: {
    readonly observed: number | null
    readonly drafted: number | null
    readonly revised: number | null
  }
  readonly descriptorLoss: number | null
  readonly generatorLoss: number | null
  readonly reconstructionError: number | null
  readonly memory: { readonly tensors: number; readonly rssMb: number }
  /** milliseconds per stage (`load`, `draft`, `revise`, …) and for the whole iteration */
  readonly ms: Readonly<Record<string, number>> & { readonly iteration: number }
}

export interface EvaluationLine {
  readonly iteration: number
  /** the sample-quality figures (src/pipeline/evaluation/sample-quality.ts), the Langevin steps and the time taken */
  readonly evaluation: Readonly<Record<string, unknown>> & {
    readonly frechetDistance?: number
    readonly langevin?: number
    readonly ms?: number
  }
}

/** A recovery from divergence (training/recovery.ts), written after the line of the iteration it went back to. */
export interface RecoveryLine {
  /** iterations completed in the state the run went back to (= recovery.backTo) */
  readonly iteration: number
  readonly recovery: RecoveryEntry
}

/** Any other line with an iteration: its first key names its kind (e.g. `recovery`). */
export interface EventLine {
  readonly iteration: number | null
  readonly kind: string
  readonly fields: Readonly<Record<string, unknown>>
}

export type MetricsLine = IterationLine | EvaluationLine | RecoveryLine

/** A line appended to metrics.jsonl. */
export const metricsJob = (file: string, line: MetricsLine | Readonly<Record<string, unknown>>): WriteJob =>
  appendJob(file, new TextEncoder().encode(`${JSON.stringify(line)}\n`))

export interface Metrics {
  readonly iterations: ReadonlyArray<IterationLine>
  readonly evaluations: ReadonlyArray<EvaluationLine>
  readonly events: ReadonlyArray<EventLine>
  /** the recovery events, in order */
  readonly recoveries: ReadonlyArray<RecoveryLine>
  /** lines that are not JSON objects */
  readonly malformed: number
}

export const emptyMetrics: Metrics = {
  iterations: [],
  evaluations: [],
  events: [],
  recoveries: [],
  malformed: 0,
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v)

/** Whether a parsed line is a recovery line (see RecoveryLine). */
export const isRecoveryRecord = (line: Record<string, unknown>): boolean => isObject(line.recovery)

/**
 * The complete lines of `text` (up to its last newline: a line a killed writer
 * cut short is not a line yet), each parsed, in order; null for one that is
 * not a JSON object.
 */
export const metricsRecords = (
  text: string,
): { records: Array<Record<string, unknown> | null>; consumed: number } => {
  const end = text.lastIndexOf("\n") + 1
  const records = text
    .slice(0, end)
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => {
      try {
        const value: unknown = JSON.parse(line)
        return isObject(value) ? value : null
      } catch {
        return null
      }
    })
  return { records, consumed: end }
}

/**
 * Parses the complete lines of `text` into their kinds, added to `into`; also
 * how many characters were consumed, so that a reader can go on from there
 * when the file grows.
 */
export const parseMetrics = (
  text: string,
  into: Metrics = emptyMetrics,
): { metrics: Metrics; consumed: number } => {
  const { records, consumed } = metricsRecords(text)
  const iterations = [...into.iterations]
  const evaluations = [...into.evaluations]
  const events = [...into.events]
  const recoveries = [...into.recoveries]
  let malformed = into.malformed
  for (const value of records) {
    if (value === null) {
      malformed++
      continue
    }
    const iteration = typeof value.iteration === "number" ? value.iteration : null
    if (iteration !== null && isObject(value.energy) && isObject(value.ms))
      iterations.push(value as unknown as IterationLine)
    else if (iteration !== null && isObject(value.evaluation))
      evaluations.push({ iteration, evaluation: value.evaluation })
    else {
      const { iteration: _, ...fields } = value
      events.push({ iteration, kind: Object.keys(fields)[0] ?? "event", fields })
      if (iteration !== null && isRecoveryRecord(value)) recoveries.push(value as unknown as RecoveryLine)
    }
  }
  return { metrics: { iterations, evaluations, events, recoveries, malformed }, consumed }
}

/** Reads a run's metrics.jsonl, its lines sorted into their kinds. */
export const readMetrics = (file: string): Effect.Effect<Metrics, OutputError, FileSystem.FileSystem> =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const text = yield* fs
      .readFileString(file)
      .pipe(Effect.mapError((e) => new OutputError({ message: `Cannot read ${file}: ${e.message}` })))
    return parseMetrics(text).metrics
  })
