/**
 * metrics.jsonl: one JSON line per iteration, one more after every periodic
 * evaluation, and one for every recovery from divergence (where the run went
 * back to: the iteration lines after it are those of the iterations run
 * again). Its writer (the training loop) and its readers (resume, compare,
 * reports, sweeps) share these types.
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
    readonly frechetDistance: number
    readonly langevin: number
    readonly ms: number
  }
}

/** A recovery from divergence (training/recovery.ts), written after the line of the iteration it went back to. */
export interface RecoveryLine {
  /** iterations completed in the state the run went back to (= recovery.backTo) */
  readonly iteration: number
  readonly recovery: RecoveryEntry
}

export type MetricsLine = IterationLine | EvaluationLine | RecoveryLine

export const isEvaluationLine = (line: MetricsLine): line is EvaluationLine => "evaluation" in line
export const isRecoveryLine = (line: MetricsLine): line is RecoveryLine => "recovery" in line
export const isIterationLine = (line: MetricsLine): line is IterationLine =>
  !isEvaluationLine(line) && !isRecoveryLine(line)

/** A line appended to metrics.jsonl. */
export const metricsJob = (file: string, line: MetricsLine): WriteJob =>
  appendJob(file, new TextEncoder().encode(`${JSON.stringify(line)}\n`))

/** The lines of a metrics.jsonl text; a half-written last line (a killed writer) is dropped. */
export const parseMetrics = (text: string): ReadonlyArray<MetricsLine> =>
  text.split("\n").flatMap((raw) => {
    try {
      const line = JSON.parse(raw) as Partial<MetricsLine> | null
      return typeof line?.iteration === "number" ? [line as MetricsLine] : []
    } catch {
      return []
    }
  })

export interface Metrics {
  readonly iterations: ReadonlyArray<IterationLine>
  readonly evaluations: ReadonlyArray<EvaluationLine>
  readonly recoveries: ReadonlyArray<RecoveryLine>
}

/** Reads a run's metrics.jsonl, split into iteration, evaluation and recovery lines. */
export const readMetrics = (file: string): Effect.Effect<Metrics, OutputError, FileSystem.FileSystem> =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const text = yield* fs
      .readFileString(file)
      .pipe(Effect.mapError((e) => new OutputError({ message: `Cannot read ${file}: ${e.message}` })))
    const lines = parseMetrics(text)
    return {
      iterations: lines.filter(isIterationLine),
      evaluations: lines.filter(isEvaluationLine),
      recoveries: lines.filter(isRecoveryLine),
    }
  })
