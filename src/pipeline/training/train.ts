/**
 * The scheduler. One cooperative iteration is a stream of typed stages,
 * then the steps that report it:
 *
 *   load ─buffer(n)→ [learning rates] → chains → revise → [write-back] → updateDescriptor → teach
 *        → metrics → evaluation → grids → snapshot → checkpoint → progress → release
 *                    (files: bounded queue → writer fiber)
 *
 * With `recovery.retries` > 0 the stream is one attempt: a divergence ends
 * it, and recovery.ts starts another from the newest snapshot with the
 * diverging setting lowered.
 *
 * tfjs runs its kernels synchronously on this thread, so the compute stages
 * are one sequential chain; what overlaps with them is batch preparation
 * (bounded buffer) and all file output (bounded queue, encoded and written by
 * a background fiber; sharp encodes on libuv's thread pool).
 */
import * as tf from "@tensorflow/tfjs-core"
import { Effect, Layer, Option, Path, Ref, Stream } from "effect"
import { type Dataset, observedBatches } from "../../stages/load.js"
import { Models } from "../../stages/models.js"
import { release } from "../../stages/records.js"
import type { BackendReport } from "../backend/select.js"
import { useBackend } from "../backend/service.js"
import type { RecoveryEntry } from "../config/recovery-spec.js"
import type { PipelineSpec } from "../config/spec.js"
import { loadDataset } from "../data/dataset.js"
import { OutputError } from "../errors.js"
import type { ClassifierSource } from "../evaluation/mnist-classifier.js"
import { acquireTrainingEvaluator, type TrainingEvaluator } from "../evaluation/training-evaluator.js"
import * as ModelsLayer from "../nets/build.js"
import { advanceAverage } from "../nets/generator-average.js"
import { setLearningRates } from "../nets/learning-rate-schedule.js"
import { type LastFigures, lastFigures } from "../report/terminal-progress.js"
import { acquireTrainingView } from "../report/training-view.js"
import { restoreModels } from "../run-dir/checkpoint.js"
import { checkpointName, claimOutputDir, runFiles } from "../run-dir/layout.js"
import { acquireRunLock, LOCK_FILE } from "../run-dir/lock.js"
import { metricsJob, type RecoveryLine } from "../run-dir/metrics.js"
import {
  extendRunDir,
  findResumePoint,
  pruneJob,
  type ResumePoint,
  rewindJob,
  rewindRunDir,
} from "../run-dir/resume.js"
import {
  endedRecord,
  extendedRecord,
  type RunEnd,
  type RunRecord,
  recordJob,
  resumedRecord,
  startRecord,
  withRecoveries,
} from "../run-dir/run-record.js"
import * as WriterLayer from "../run-dir/writer.js"
import { fileJob, Writer } from "../run-dir/writer.js"
import { divergedAfter } from "./diverged.js"
import {
  checkpointEvery,
  evaluateEvery,
  type Finished,
  keepSnapshot,
  type LastCheckpoint,
  makeStopwatch,
  type OutputContext,
  showProgress,
  writeCheckpoint,
  writeGrids,
  writeMetrics,
} from "./iteration-outputs.js"
import { describeRecovery, makeSnapshots, withRecovery } from "./recovery.js"
import { stagesOf } from "./stages.js"
import { StopRequest, untilStopped } from "./stop.js"
import { withTensorScope } from "./tensor-scope.js"

export interface TrainOptions {
  /** the pipeline file, for messages and the run record */
  readonly source: string
  readonly outDir: string
  /** replace an existing run directory */
  readonly force: boolean
  /** print progress lines (off in tests) */
  readonly quiet?: boolean
  /** continue the run in `outDir` from this point (`--resume`) instead of starting it */
  readonly resume?: ResumePoint | undefined
  /** the MNIST classifier of `evaluation.every` (default: the project's cache, trained there if absent) */
  readonly classifier?: ClassifierSource | undefined
}

export interface TrainResult {
  readonly outDir: string
  readonly backend: string
  readonly iterations: number
  readonly msPerIteration: number
  /** the signal (SIGINT/SIGTERM) that stopped the run early, after a checkpoint at `iterations` */
  readonly stopped?: string | undefined
  /** wall time of the training loop, ms */
  readonly elapsedMs: number
  /** the last iteration's energies and losses */
  readonly last?: LastFigures | undefined
  /** the checkpoint written at the end */
  readonly checkpoint?: string | undefined
  /** report.html, when written */
  readonly report?: string | undefined
  /** the TensorBoard log directory, when written */
  readonly tensorboard?: string | undefined
  /** the recoveries from divergence on the run's way (config.json holds the settings they lowered) */
  readonly recoveries: ReadonlyArray<RecoveryEntry>
  /** `--resume --iterations N` of a finished run: the iterations it had */
  readonly extendedFrom?: number | undefined
}

const json = (value: unknown): Uint8Array => new TextEncoder().encode(`${JSON.stringify(value, null, 2)}\n`)

/** Takes the run directory's lock, selects the backend, loads the data, claims the directory, then trains. */
export const train = (spec: PipelineSpec, o: TrainOptions) =>
  Effect.scoped(
    Effect.gen(function* () {
      const warn = o.quiet ? () => {} : (line: string) => process.stderr.write(`warning: ${line}\n`)
      // first: a second writer is refused before any slow work
      yield* acquireRunLock(o.outDir, {
        onStale: (lock) =>
          warn(
            `took over the lock of ${o.outDir} left by process ${lock.pid} (\`${lock.command}\`, since ${lock.since}), which is gone.`,
          ),
      })
      const backend = yield* useBackend(spec.backend, o.quiet ? () => {} : undefined)
      const dataset = yield* loadDataset(spec.data, {
        seed: spec.seed,
        batchSize: spec.training.batchSize,
        warn,
      })
      // before the run directory is claimed: a classifier that cannot be trained or cached leaves nothing behind
      const evaluator = yield* acquireTrainingEvaluator(
        spec,
        o.classifier,
        o.quiet ? () => {} : (line) => process.stderr.write(`${line}\n`),
      )
      if (o.resume === undefined)
        yield* claimOutputDir(o.outDir, {
          force: o.force,
          onForce: "replace",
          what: "Run directory",
          ignore: [LOCK_FILE],
        })
      return yield* trainOn(spec, o, backend, dataset, evaluator).pipe(
        Effect.provide(Layer.mergeAll(ModelsLayer.layer(spec), WriterLayer.layer(spec.buffers.writes))),
      )
    }),
  )

const trainOn = (
  initial: PipelineSpec,
  o: TrainOptions,
  backend: BackendReport,
  dataset: Dataset,
  evaluator: TrainingEvaluator | undefined,
) =>
  Effect.gen(function* () {
    const files = runFiles(o.outDir, yield* Path.Path)
    const writer = yield* Writer
    const models = yield* Models
    const start = o.resume?.iteration ?? 0
    const last: LastCheckpoint = yield* Ref.make(
      o.resume?.checkpoint && { dir: o.resume.checkpoint.dir, iteration: start },
    )
    let extendedFrom: number | undefined
    // run.json: kept here, rewritten (atomically, in order, by the writer) after every change
    const record = yield* Ref.make(startRecord(o.source, backend, tf.version_core))
    const updateRecord = (change: (r: RunRecord) => RunRecord) =>
      Effect.flatMap(Ref.updateAndGet(record, change), (r) => writer.submit(recordJob(files.record, r)))
    if (o.resume === undefined) {
      yield* writer.submit(fileJob(files.config, () => json(initial)))
    } else {
      const point = o.resume
      if (point.checkpoint) yield* restoreModels(point.checkpoint, models, true)
      // only once the checkpoint is known to fit: a refused resume leaves the directory untouched
      yield* rewindRunDir(point)
      yield* Ref.set(record, yield* resumedRecord(files.record, start, yield* Ref.get(record)))
      if (point.checkpoint !== undefined) {
        // every checkpoint's spec gets this total; a finished run's final checkpoint becomes iter-NNNNNN
        const extending = point.checkpoint.dir === files.checkpoint("final")
        const moved = yield* extendRunDir(point)
        if (moved !== undefined) yield* Ref.set(last, { dir: moved, iteration: start })
        if (extending) {
          extendedFrom = start
          yield* Ref.update(record, (r) => extendedRecord(r, start, initial.training.iterations))
        }
      }
      // a kill between writing a checkpoint and pruning the old ones leaves one too many
      yield* writer.submit(
        pruneJob(files.checkpoints, initial.output.keepCheckpoints, initial.output.checkpointEvery),
      )
    }
    yield* updateRecord((r) => r)
    const view = yield* acquireTrainingView({
      spec: initial,
      files,
      start,
      record: yield* Ref.get(record),
      quiet: o.quiet ?? false,
    })
    for (const job of view.startJobs) yield* writer.submit(job)
    /** run.json's end record, then the final report (after every file it shows is on disk). */
    const end = (how: Omit<RunEnd, "at">) =>
      updateRecord((r) => endedRecord(r, how)).pipe(Effect.andThen(writer.flush), Effect.andThen(view.finish))

    const stop = yield* StopRequest
    const total = initial.training.iterations
    const stopwatch = yield* makeStopwatch
    const contextOf = (spec: PipelineSpec): OutputContext => ({ spec, files, writer, models, view })
    const started = performance.now()
    const snapshots = yield* makeSnapshots
    const completed = yield* Ref.make(start)
    // the summed time of the iterations after the first (kernel compilation, optimiser slots)
    const timing = yield* Ref.make({ ms: 0, count: 0 })
    const lastSeen = yield* Ref.make<LastFigures | undefined>(undefined)

    /** The stream of iterations `from`..total under `spec`: one attempt, which a divergence ends. */
    const attempt = (spec: PipelineSpec, from: number) =>
      Effect.gen(function* () {
        const { draft, revise, writeBack, updateDescriptor, teach } = stagesOf(spec)
        const context = contextOf(spec)
        if (spec.recovery.retries > 0 && (yield* snapshots.newest)?.iteration !== from)
          yield* snapshots.take(from)
        yield* withTensorScope(
          observedBatches(dataset, {
            // the data order keeps the run's seed whatever recoveries change (the stages' noise: stagesOf)
            seed: spec.seed,
            batchSize: spec.training.batchSize,
            iterations: total,
            startIteration: from,
            buffer: spec.buffers.batches,
          }).pipe(
            Stream.takeWhile(untilStopped(stop)),
            Stream.tap((batch) => Effect.sync(() => setLearningRates(models, spec, batch.iteration))),
            Stream.mapEffect(draft),
            Stream.mapEffect(revise),
            Stream.mapEffect(writeBack),
            Stream.mapEffect(updateDescriptor),
            Stream.mapEffect(teach),
            Stream.tap((record) => Effect.sync(() => advanceAverage(spec, models, record.iteration))),
            Stream.mapEffect((record) => Effect.map(stopwatch.lap, (ms): Finished => ({ record, ms }))),
            Stream.tap(writeMetrics(context)),
            Stream.tap(evaluateEvery(context, evaluator, stopwatch)),
            Stream.tap(writeGrids(context)),
            Stream.tap(keepSnapshot(spec, snapshots)),
            Stream.tap(checkpointEvery(context, last)),
            Stream.tap(showProgress(view.progress)),
            Stream.tap((f) => Ref.set(lastSeen, lastFigures(f.record))),
            Stream.tap((f) => Effect.sync(() => release(f.record))),
            Stream.runForEach((f: Finished) =>
              Effect.andThen(
                Ref.set(completed, f.record.iteration + 1),
                f.record.iteration > start
                  ? Ref.update(timing, (t) => ({ ms: t.ms + f.ms, count: t.count + 1 }))
                  : Effect.void,
              ),
            ),
          ),
        )
      })

    /** Records a recovery: metrics and samples back to the snapshot, its line, a checkpoint, config.json, run.json. */
    const recorded = (spec: PipelineSpec, entry: RecoveryEntry) =>
      Effect.gen(function* () {
        const made = spec.recovery.recovered.length
        yield* writer.submit(rewindJob(o.outDir, entry.backTo, made - 1))
        const line: RecoveryLine = { iteration: entry.backTo, recovery: entry }
        yield* writer.submit(metricsJob(files.metrics, line))
        // the restored state under the changed spec: what --resume continues from after a kill
        yield* writeCheckpoint(contextOf(spec), checkpointName(entry.backTo), entry.backTo, last)
        yield* writer.submit(fileJob(files.config, () => json(spec)))
        yield* updateRecord((r) => withRecoveries(r, spec.recovery.recovered, new Date().toISOString()))
        yield* Ref.set(completed, entry.backTo)
        view.progress.log(
          `[${spec.name}] recovered (${made} of ${spec.recovery.retries}): ${describeRecovery(entry)}; continuing with fresh noise.`,
        )
      })

    stop.listen(true)
    const ended = yield* withRecovery(initial, start, snapshots, attempt, recorded).pipe(
      Effect.catchTag("DivergenceError", (e) =>
        Effect.flatMap(Ref.get(last), (checkpoint) => Effect.fail(divergedAfter(e, checkpoint))),
      ),
      Effect.tapErrorTag("DivergenceError", (e) =>
        Effect.flatMap(Ref.get(completed), (iterations) =>
          end({ status: "diverged", iterations, message: e.message }).pipe(Effect.ignore),
        ),
      ),
      Effect.ensuring(Effect.sync(() => stop.listen(false))),
    )
    const spec = ended.spec
    const done = yield* Ref.get(completed)
    const stopped = done < total ? stop.requested() : undefined
    const checkpoint = stopped ? checkpointName(done) : "final"
    const wrote = !stopped || done > start
    if (wrote) yield* writeCheckpoint(contextOf(spec), checkpoint, done, last)
    const shown = yield* end({
      status: stopped ? "stopped" : "finished",
      iterations: done,
      ...(stopped ? { signal: stopped } : {}),
    })
    const { ms, count } = yield* Ref.get(timing)
    const result: TrainResult = {
      outDir: o.outDir,
      backend: backend.name,
      iterations: done,
      msPerIteration: count > 0 ? ms / count : 0,
      stopped,
      elapsedMs: performance.now() - started,
      last: yield* Ref.get(lastSeen),
      checkpoint: wrote ? files.checkpoint(checkpoint) : undefined,
      report: shown.report,
      tensorboard: spec.output.tensorboard ? files.tensorboard : undefined,
      recoveries: spec.recovery.recovered,
      extendedFrom,
    }
    return result
  }).pipe(
    // a write that failed (a full disk): say what is intact and how to continue
    Effect.catchTag("OutputError", (e) =>
      Effect.gen(function* () {
        const point = yield* findResumePoint(o.outDir).pipe(Effect.option)
        const next = Option.match(point, {
          onNone: () =>
            `The run cannot be resumed from what was written; once that is fixed, start it again with --force.`,
          onSome: (p) =>
            p.checkpoint === undefined
              ? `Once that is fixed, \`node dist/run.js --resume ${o.outDir}\` starts it again in the same directory (no checkpoint was written).`
              : `Checkpoints written before are intact; once that is fixed, \`node dist/run.js --resume ${o.outDir}\` continues from ${p.checkpoint.dir} (iteration ${p.iteration}).`,
        })
        return yield* Effect.fail(new OutputError({ message: `${e.message} ${next}` }))
      }),
    ),
  )
