/**
 * What a person watching a training run sees, for one training process:
 *
 *   - the terminal: a progress bar (or plain lines when not a terminal);
 *   - `<run>/tensorboard/events.out.tfevents.*`: every metrics line as scalars,
 *     every grid as an image, the config and run record as text, appended by
 *     the writer fiber;
 *   - `<run>/report.html`: rebuilt in the report worker thread after each
 *     batch of grids (at a bounded CPU cost, ./live-report.ts) and at the end.
 *
 * Everything here reaches the disk through the run's writer queue (in order,
 * after the files it shows), so the compute path only encodes a few floats.
 */
import { Effect, type Scope } from "effect"
import type { PipelineSpec } from "../config/spec.js"
import { OutputError } from "../errors.js"
import type { RunFiles } from "../run-dir/layout.js"
import type { EvaluationLine, IterationLine } from "../run-dir/metrics.js"
import type { RunRecord } from "../run-dir/run-record.js"
import { appendJob, type WriteJob, writeAtomic } from "../run-dir/writer.js"
import { LiveReport, type LiveReportStats } from "./live-report.js"
import { startReportWorker } from "./report-worker.js"
import { TensorBoardLog } from "./tensorboard/run-log.js"
import { type TerminalProgress, terminalProgress } from "./terminal-progress.js"

export interface TrainingView {
  readonly progress: TerminalProgress
  /** The event file's first records (version, session start when resumed, config and run record). */
  readonly startJobs: ReadonlyArray<WriteJob>
  /** The scalars of a metrics line, appended to the event file. */
  readonly scalarJobs: (line: IterationLine | EvaluationLine) => ReadonlyArray<WriteJob>
  /** A grid: encoded once, written to `file` (atomically), and appended to the event file as an image. */
  readonly gridJob: (
    file: string,
    kind: string,
    iteration: number,
    encode: () => Promise<Uint8Array>,
  ) => WriteJob
  /** After the grids of an iteration: asks for a report rebuild (the worker reads the files the writer wrote). */
  readonly refreshJob: ReadonlyArray<WriteJob>
  /**
   * Waits for the rebuild in flight and writes the final report (call after
   * the writer is flushed). A report that cannot be written is a warning, not
   * a failed run: returns the report's path, or undefined.
   */
  readonly finish: Effect.Effect<{ readonly report?: string; readonly stats?: LiveReportStats }>
}

export interface TrainingViewOptions {
  readonly spec: PipelineSpec
  readonly files: RunFiles
  /** iterations done before this process (resume) */
  readonly start: number
  readonly record: RunRecord
  /** no terminal output */
  readonly quiet: boolean
}

const silent: TerminalProgress = { mode: "lines", update: () => {}, log: () => {}, finish: () => {} }

export const acquireTrainingView = (
  o: TrainingViewOptions,
): Effect.Effect<TrainingView, never, Scope.Scope> =>
  Effect.gen(function* () {
    const { spec, files } = o
    const progress = o.quiet
      ? silent
      : terminalProgress(spec.name, spec.training.iterations, o.start, spec.output.logEvery)
    yield* Effect.addFinalizer(() => Effect.sync(() => progress.finish()))
    const log = spec.output.tensorboard ? new TensorBoardLog(files.dir) : undefined
    const worker = spec.output.report
      ? yield* Effect.acquireRelease(Effect.promise(startReportWorker), (w) => Effect.promise(w.close))
      : undefined
    const live = worker && new LiveReport(worker, files.dir)
    const append = (bytes: Uint8Array): ReadonlyArray<WriteJob> =>
      log === undefined || bytes.length === 0 ? [] : [appendJob(log.file, bytes)]
    return {
      progress,
      startJobs:
        log === undefined
          ? []
          : append(log.start({ firstIteration: o.start + 1, config: spec, run: o.record })),
      scalarJobs: (line) =>
        log === undefined ? [] : append("evaluation" in line ? log.evaluation(line) : log.iteration(line)),
      gridJob: (file, kind, iteration, encode) => ({
        description: file,
        write: Effect.tryPromise({
          try: encode,
          catch: (e) =>
            new OutputError({
              message: `Cannot write ${file}: ${String(e)}. Check free disk space and permissions.`,
            }),
        }).pipe(
          Effect.flatMap((bytes) =>
            writeAtomic(file, bytes).pipe(
              Effect.andThen(
                Effect.forEach(
                  append(log?.image(iteration, kind, bytes) ?? new Uint8Array(0)),
                  (j) => j.write,
                  {
                    discard: true,
                  },
                ),
              ),
            ),
          ),
        ),
      }),
      refreshJob:
        live === undefined ? [] : [{ description: files.report, write: Effect.sync(() => live.update()) }],
      finish:
        live === undefined
          ? Effect.succeed({})
          : Effect.promise(() =>
              live.finish().then(
                (w) => ({ report: w.file, stats: live.stats }),
                (e: Error) => {
                  progress.log(`warning: cannot write ${files.report}: ${e.message}`)
                  return { stats: live.stats }
                },
              ),
            ),
    }
  })
