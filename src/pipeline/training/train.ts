/**
 * The scheduler. One cooperative iteration is a stream of typed stages,
 * then the steps that report it:
 *
 *   load ─buffer(n)→ chains → revise → [write-back] → updateDescriptor → teach
 *        → metrics → evaluation → grids → checkpoint → progress → release
 *                    (files: bounded queue → writer fiber)
 *
 * tfjs runs its kernels synchronously on this thread, so the compute stages
 * are one sequential chain; what overlaps with them is batch preparation
 * (bounded buffer) and all file output (bounded queue, encoded and written by
 * a background fiber; sharp encodes on libuv's thread pool).
 */
import * as tf from "@tensorflow/tfjs-core"
import { Effect, Layer, Path, Ref, Stream } from "effect"
import { type Dataset, observedBatches } from "../../stages/load.js"
import { Models } from "../../stages/models.js"
import { release } from "../../stages/records.js"
import type { BackendReport } from "../backend/select.js"
import { useBackend } from "../backend/service.js"
import type { PipelineSpec } from "../config/spec.js"
import { loadDataset } from "../data/dataset.js"
import type { ClassifierSource } from "../evaluation/mnist-classifier.js"
import { acquireTrainingEvaluator, type TrainingEvaluator } from "../evaluation/training-evaluator.js"
import * as ModelsLayer from "../nets/build.js"
import { advanceAverage } from "../nets/generator-average.js"
import { restoreModels } from "../run-dir/checkpoint.js"
import { checkpointName, claimOutputDir, runFiles } from "../run-dir/layout.js"
import { pruneJob, type ResumePoint, rewindRunDir } from "../run-dir/resume.js"
import * as WriterLayer from "../run-dir/writer.js"
import { fileJob, Writer } from "../run-dir/writer.js"
import { divergedAfter } from "./diverged.js"
import {
  checkpointEvery,
  evaluateEvery,
  type Finished,
  type LastCheckpoint,
  makeStopwatch,
  type OutputContext,
  showProgress,
  writeCheckpoint,
  writeGrids,
  writeMetrics,
} from "./iteration-outputs.js"
import { progress } from "./progress.js"
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
}

const json = (value: unknown): Uint8Array => new TextEncoder().encode(`${JSON.stringify(value, null, 2)}\n`)

/** Selects the backend, loads the data, claims the run directory, then trains. */
export const train = (spec: PipelineSpec, o: TrainOptions) =>
  Effect.gen(function* () {
    const backend = yield* useBackend(spec.backend, o.quiet ? () => {} : undefined)
    const dataset = yield* loadDataset(spec.data, {
      seed: spec.seed,
      batchSize: spec.training.batchSize,
      warn: o.quiet ? () => {} : (line) => process.stderr.write(`warning: ${line}\n`),
    })
    return yield* Effect.scoped(
      Effect.gen(function* () {
        // before the run directory is claimed: a classifier that cannot be trained or cached leaves nothing behind
        const evaluator = yield* acquireTrainingEvaluator(
          spec,
          o.classifier,
          o.quiet ? () => {} : (line) => process.stderr.write(`${line}\n`),
        )
        if (o.resume === undefined)
          yield* claimOutputDir(o.outDir, { force: o.force, onForce: "replace", what: "Run directory" })
        return yield* trainOn(spec, o, backend, dataset, evaluator).pipe(
          Effect.provide(Layer.mergeAll(ModelsLayer.layer(spec), WriterLayer.layer(spec.buffers.writes))),
        )
      }),
    )
  })

const trainOn = (
  spec: PipelineSpec,
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
    if (o.resume === undefined) {
      yield* writer.submit(fileJob(files.config, () => json(spec)))
      yield* writer.submit(
        fileJob(files.record, () =>
          json({
            source: o.source,
            backend,
            tfjs: tf.version_core,
            node: process.version,
            started: new Date().toISOString(),
          }),
        ),
      )
    } else {
      if (o.resume.checkpoint) yield* restoreModels(o.resume.checkpoint, models, true)
      // only once the checkpoint is known to fit: a refused resume leaves the directory untouched
      yield* rewindRunDir(o.resume)
      // a kill between writing a checkpoint and pruning the old ones leaves one too many
      yield* writer.submit(pruneJob(files.checkpoints, spec.output.keepCheckpoints))
    }

    const stop = yield* StopRequest
    const { draft, revise, writeBack, updateDescriptor, teach } = stagesOf(spec)
    const total = spec.training.iterations
    const stopwatch = yield* makeStopwatch
    const context: OutputContext = { spec, files, writer, models }
    const shown = progress(spec.name, total, start, spec.output.logEvery, o.quiet ? () => {} : undefined)

    stop.listen(true)
    // completed iterations and the summed time of those after the first (kernel compilation, optimiser slots)
    const summary = yield* withTensorScope(
      observedBatches(dataset, {
        seed: spec.seed,
        batchSize: spec.training.batchSize,
        iterations: total,
        startIteration: start,
        buffer: spec.buffers.batches,
      }).pipe(
        Stream.takeWhile(untilStopped(stop)),
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
        Stream.tap(checkpointEvery(context, last)),
        Stream.tap(showProgress(shown)),
        Stream.tap((f) => Effect.sync(() => release(f.record))),
        Stream.runFold(
          () => ({ completed: start, timedMs: 0 }),
          (s, f: Finished) => ({
            completed: f.record.iteration + 1,
            timedMs: s.timedMs + (f.record.iteration > start ? f.ms : 0),
          }),
        ),
        Effect.catchTag("DivergenceError", (e) =>
          Effect.flatMap(Ref.get(last), (checkpoint) => Effect.fail(divergedAfter(e, checkpoint))),
        ),
        Effect.ensuring(Effect.sync(() => stop.listen(false))),
      ),
    )
    const { completed } = summary
    const stopped = completed < total ? stop.requested() : undefined
    if (!stopped || completed > start)
      yield* writeCheckpoint(context, stopped ? checkpointName(completed) : "final", completed, last)
    yield* writer.flush
    const timed = completed - start - 1
    const result: TrainResult = {
      outDir: o.outDir,
      backend: backend.name,
      iterations: completed,
      msPerIteration: timed > 0 ? summary.timedMs / timed : 0,
      stopped,
    }
    return result
  })
