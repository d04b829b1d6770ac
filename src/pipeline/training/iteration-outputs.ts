/**
 * What the scheduler does with each finished iteration, one step each: the
 * metrics line, the periodic sample-quality evaluation, the sample grids, the
 * periodic checkpoint, and the progress line. Every file goes through the
 * writer's bounded queue, so encoding and disk stay off the compute path.
 */
import * as tf from "@tensorflow/tfjs-core"
import { Effect, Ref } from "effect"
import type { Models, ModelsShape } from "../../stages/models.js"
import type { Taught } from "../../stages/records.js"
import type { PipelineSpec } from "../config/spec.js"
import type { OutputError } from "../errors.js"
import type { TrainingEvaluator } from "../evaluation/training-evaluator.js"
import type { Progress } from "../report/progress-lines.js"
import type { TrainingView } from "../report/training-view.js"
import { captureState, checkpointJob } from "../run-dir/checkpoint.js"
import { encodePng, tile } from "../run-dir/image-files.js"
import { checkpointName, type RunFiles } from "../run-dir/layout.js"
import { type IterationLine, metricsJob } from "../run-dir/metrics.js"
import { pruneJob } from "../run-dir/resume.js"
import { encodeGif, type Videos, videoGrid } from "../run-dir/video-files.js"
import type { WriteJob, WriterShape } from "../run-dir/writer.js"
import { type Snapshots, snapshotDue } from "./recovery.js"

/** An iteration whose stages have all run, with its wall time (from the end of the previous one). */
export interface Finished {
  readonly record: Taught
  readonly ms: number
}

const round2 = (v: number): number => Math.round(v * 100) / 100

export const iterationLine = ({ record: r, ms }: Finished): IterationLine => ({
  iteration: r.iteration + 1,
  epoch: r.epoch,
  energy: {
    observed: r.descriptor?.observedEnergy ?? null,
    drafted: r.draftEnergy,
    revised: r.descriptor?.revisedEnergy ?? null,
  },
  descriptorLoss: r.descriptor?.loss ?? null,
  generatorLoss: r.generator?.loss ?? null,
  reconstructionError: r.generator?.reconstructionError ?? null,
  memory: { tensors: tf.memory().numTensors, rssMb: Math.round(process.memoryUsage.rss() / 2 ** 20) },
  ms: {
    ...Object.fromEntries(Object.entries(r.timings).map(([k, v]) => [k, round2(v)])),
    iteration: round2(ms),
  },
})

/**
 * Wall time per iteration, measured between consecutive finished iterations;
 * time spent in work that is not training (the periodic evaluation) is left out.
 */
export interface Stopwatch {
  readonly lap: Effect.Effect<number>
  readonly exclude: (ms: number) => Effect.Effect<void>
}

// suspended: the clock starts when the run does, not when this module is loaded
export const makeStopwatch: Effect.Effect<Stopwatch> = Effect.suspend(() =>
  Effect.map(Ref.make(performance.now()), (last) => ({
    lap: Effect.flatMap(
      Effect.sync(() => performance.now()),
      (now) => Ref.modify(last, (before) => [now - before, now] as const),
    ),
    exclude: (ms) => Ref.update(last, (t) => t + ms),
  })),
)

export interface OutputContext {
  readonly spec: PipelineSpec
  readonly files: RunFiles
  readonly writer: WriterShape
  readonly models: ModelsShape
  /** the TensorBoard log, report.html and the terminal (../report/training-view.ts) */
  readonly view: TrainingView
}

const submitAll = (c: OutputContext, jobs: ReadonlyArray<WriteJob>): Effect.Effect<void, OutputError> =>
  Effect.forEach(jobs, (job) => c.writer.submit(job), { discard: true })

const done = (f: Finished): number => f.record.iteration + 1

/** metrics.jsonl: one line per iteration; the same figures as TensorBoard scalars. */
export const writeMetrics =
  (c: OutputContext) =>
  (f: Finished): Effect.Effect<void, OutputError> => {
    const line = iterationLine(f)
    return submitAll(c, [metricsJob(c.files.metrics, line), ...c.view.scalarJobs(line)])
  }

/** Every `evaluation.every` iterations: the sample quality of the current nets, one more metrics line. */
export const evaluateEvery =
  (c: OutputContext, evaluator: TrainingEvaluator | undefined, stopwatch: Stopwatch) =>
  (f: Finished): Effect.Effect<void, OutputError> =>
    evaluator === undefined || done(f) % evaluator.every !== 0
      ? Effect.void
      : Effect.gen(function* () {
          // reads the weights, draws with its own keys: the training is untouched
          const line = evaluator.evaluate(c.models, done(f))
          yield* stopwatch.exclude(line.evaluation.ms)
          yield* submitAll(c, [metricsJob(c.files.metrics, line), ...c.view.scalarJobs(line)])
        })

/** A PNG grid of images; for videos an animated GIF with the first observed clip on the left. */
const gridJob = (c: OutputContext, f: Finished, kind: string, tensor: tf.Tensor): WriteJob => {
  const values = tensor.dataSync() as Float32Array
  const [count, ...image] = tensor.shape as [number, ...Array<number>]
  if (image.length === 4) {
    const shape = tensor.shape as [number, number, number, number, number]
    const observed = f.record.images
    const clip = observed.shape.slice(1).reduce((a, b) => a * b, 1)
    const lead: Videos = {
      values: (observed.dataSync() as Float32Array).slice(0, clip),
      shape: [1, ...(shape.slice(1) as [number, number, number, number])],
    }
    return c.view.gridJob(c.files.grid(kind, done(f), "gif"), kind, done(f), () =>
      encodeGif(videoGrid({ values, shape }, { lead, columns: Math.min(count, 4) })),
    )
  }
  return c.view.gridJob(c.files.grid(kind, done(f)), kind, done(f), () =>
    encodePng(tile(values, count, image as [number, number, number])),
  )
}

/**
 * Every `output.sampleEvery` iterations and at the last: grids of the drafts and the revised
 * samples (PNG; animated GIF beside the observed clip for videos; also TensorBoard images),
 * then a rebuild of report.html with them.
 */
export const writeGrids =
  (c: OutputContext) =>
  (f: Finished): Effect.Effect<void, OutputError> =>
    done(f) % c.spec.output.sampleEvery !== 0 && done(f) !== c.spec.training.iterations
      ? Effect.void
      : Effect.forEach(
          [
            ["drafts", f.record.drafts],
            ["revised", f.record.revised],
          ] as const,
          ([kind, tensor]) => c.writer.submit(gridJob(c, f, kind, tensor)),
          { discard: true },
        ).pipe(Effect.andThen(submitAll(c, c.view.refreshJob)))

/** The newest checkpoint written, for the divergence message. */
export type LastCheckpoint = Ref.Ref<{ readonly dir: string; readonly iteration: number } | undefined>

/** Writes `checkpoints/<name>` with everything trained so far, then prunes the `iter-` ones it supersedes. */
export const writeCheckpoint = (
  c: OutputContext,
  name: string,
  iteration: number,
  last: LastCheckpoint,
): Effect.Effect<void, OutputError, Models> =>
  Effect.gen(function* () {
    const state = yield* captureState(c.models)
    yield* c.writer.submit(checkpointJob(c.files.checkpoint(name), c.spec, iteration, state))
    yield* Ref.set(last, { dir: c.files.checkpoint(name), iteration })
    yield* c.writer.submit(
      pruneJob(c.files.checkpoints, c.spec.output.keepCheckpoints, c.spec.output.checkpointEvery),
    )
  })

/** Every `output.checkpointEvery` iterations (but the last, which writes `final`): a checkpoint. */
export const checkpointEvery =
  (c: OutputContext, last: LastCheckpoint) =>
  (f: Finished): Effect.Effect<void, OutputError, Models> => {
    const every = c.spec.output.checkpointEvery
    return every > 0 && done(f) % every === 0 && done(f) !== c.spec.training.iterations
      ? writeCheckpoint(c, checkpointName(done(f)), done(f), last)
      : Effect.void
  }

/** With recovery on: an in-memory copy of the trained state every `recovery.snapshotEvery` iterations and at checkpoints. */
export const keepSnapshot =
  (spec: PipelineSpec, snapshots: Snapshots) =>
  (f: Finished): Effect.Effect<void, never, Models> =>
    spec.recovery.retries > 0 && snapshotDue(spec, done(f)) ? snapshots.take(done(f)) : Effect.void

/** The progress line (every `output.logEvery` iterations). */
export const showProgress =
  (progress: Progress) =>
  (f: Finished): Effect.Effect<void> =>
    Effect.sync(() => progress.update(f.record, f.ms))
