/**
 * The scheduler. One cooperative iteration is a stream of typed stages:
 *
 *   load ─buffer(n)→ draft → revise → write-back → updateDescriptor → teach → report
 *                                                                               └─queue(m)→ writer fiber (PNG, metrics, checkpoints)
 *
 * draft and write-back are the two halves of the chains slot (write-back stores
 * the revised samples for persistent chains and is a no-op for the others).
 *
 * tfjs runs its kernels synchronously on this thread, so the compute stages
 * are one sequential chain; what overlaps with them is batch preparation
 * (bounded buffer) and all file output (bounded queue, encoded and written by
 * a background fiber; sharp encodes on libuv's thread pool).
 */
import * as tf from "@tensorflow/tfjs-core"
import { Effect, FileSystem, Layer, Path, Stream } from "effect"
import { type Dataset, observedBatches } from "../../stages/load.js"
import { Models } from "../../stages/models.js"
import { release, type Taught } from "../../stages/records.js"
import { chainsWriteBack, registry } from "../../stages/registry.js"
import type { StageOptions } from "../../stages/stage.js"
import type { BackendReport } from "../backend/select.js"
import { useBackend } from "../backend/service.js"
import { latentSizeOf } from "../config/shapes.js"
import type { PipelineSpec } from "../config/spec.js"
import { loadDataset } from "../data/dataset.js"
import { OutputError } from "../errors.js"
import type { ClassifierSource } from "../evaluation/mnist-classifier.js"
import { acquireTrainingEvaluator, type TrainingEvaluator } from "../evaluation/training-evaluator.js"
import * as ModelsLayer from "../nets/build.js"
import { captureState, checkpointJob, restoreModels } from "../run-dir/checkpoint.js"
import { encodePng, tile } from "../run-dir/image-files.js"
import { checkpointName, pruneJob, type ResumePoint, rewindRunDir } from "../run-dir/resume.js"
import * as WriterLayer from "../run-dir/writer.js"
import { appendJob, fileJob, Writer } from "../run-dir/writer.js"
import { divergedAfter } from "./diverged.js"
import { progress } from "./progress.js"
import { StopRequest, untilStopped } from "./stop.js"

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

export const stageOptions = (spec: PipelineSpec): StageOptions => ({
  seed: spec.seed,
  persistent: spec.persistent,
  chains: spec.training.chains,
  zDim: latentSizeOf(spec),
  langevin: spec.langevin,
  latentLangevin: { ...spec.latentLangevin, sigma: spec.generatorSigma },
  generatorSigma: spec.generatorSigma,
})

/** The stage implementations a spec names, in the scheduler's order (draft and write-back are the chains slot). */
export const stagesOf = (spec: PipelineSpec) => {
  const options = stageOptions(spec)
  return {
    draft: registry.chains[spec.stages.chains](options),
    revise: registry.revise[spec.stages.revise](options),
    writeBack: chainsWriteBack[spec.stages.chains](options),
    updateDescriptor: registry.updateDescriptor[spec.stages.updateDescriptor](options),
    teach: registry.teach[spec.stages.teach](options),
  }
}

/** Creates the run directory; an existing non-empty one is refused unless `force`. */
const prepareRunDir = (dir: string, force: boolean) =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const entries = yield* fs.readDirectory(dir).pipe(Effect.orElseSucceed(() => [] as Array<string>))
    if (entries.length > 0) {
      if (!force)
        return yield* new OutputError({
          message: `Run directory ${dir} already exists and is not empty. Pass --out DIR to write elsewhere, or --force to replace it.`,
        })
      yield* fs.remove(dir, { recursive: true })
    }
    yield* fs.makeDirectory(dir, { recursive: true })
  }).pipe(
    Effect.mapError((e) =>
      e instanceof OutputError
        ? e
        : new OutputError({ message: `Cannot create run directory ${dir}: ${e.message}` }),
    ),
  )

const json = (value: unknown): Uint8Array => new TextEncoder().encode(`${JSON.stringify(value, null, 2)}\n`)

const metricsLine = (r: Taught, iterationMs: number) => ({
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
    ...Object.fromEntries(Object.entries(r.timings).map(([k, v]) => [k, Math.round(v * 100) / 100])),
    iteration: Math.round(iterationMs * 100) / 100,
  },
})

/** Selects the backend, loads the data, prepares the run directory, then trains. */
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
        // before the run directory exists: a classifier that cannot be trained or cached leaves nothing behind
        const evaluator = yield* acquireTrainingEvaluator(
          spec,
          o.classifier,
          o.quiet ? () => {} : (line) => process.stderr.write(`${line}\n`),
        )
        if (o.resume === undefined) yield* prepareRunDir(o.outDir, o.force)
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
    const path = yield* Path.Path
    const writer = yield* Writer
    const models = yield* Models
    const at = (...parts: Array<string>) => path.join(o.outDir, ...parts)
    const start = o.resume?.iteration ?? 0
    if (o.resume?.checkpoint) yield* restoreModels(o.resume.checkpoint, models, true)
    // only once the checkpoint is known to fit: a refused resume leaves the directory untouched
    if (o.resume) yield* rewindRunDir(o.resume)
    // a kill between writing a checkpoint and pruning the old ones leaves one too many
    if (o.resume) yield* writer.submit(pruneJob(at("checkpoints"), spec.output.keepCheckpoints ?? 3))
    const stop = yield* StopRequest
    stop.listen(true)
    let lastCheckpoint = o.resume?.checkpoint && { dir: o.resume.checkpoint.dir, iteration: start }
    if (o.resume === undefined) yield* writer.submit(fileJob(at("config.json"), () => json(spec)))
    if (o.resume === undefined)
      yield* writer.submit(
        fileJob(at("run.json"), () =>
          json({
            source: o.source,
            backend,
            tfjs: tf.version_core,
            node: process.version,
            started: new Date().toISOString(),
          }),
        ),
      )

    const { draft, revise, writeBack, updateDescriptor, teach } = stagesOf(spec)
    const total = spec.training.iterations
    const keepCheckpoints = spec.output.keepCheckpoints ?? 3
    const shown = progress(spec.name, total, start, spec.output.logEvery, o.quiet ? () => {} : undefined)
    const imageShape = dataset.shape
    let last = performance.now()
    let sumMs = 0
    let completed = start

    const report = (r: Taught) =>
      Effect.gen(function* () {
        const now = performance.now()
        const iterationMs = now - last
        last = now
        if (r.iteration > start) sumMs += iterationMs
        const done = r.iteration + 1
        completed = done
        yield* writer.submit(
          appendJob(
            at("metrics.jsonl"),
            new TextEncoder().encode(`${JSON.stringify(metricsLine(r, iterationMs))}\n`),
          ),
        )
        // sample quality: reads the weights, draws with its own keys, leaves training untouched
        if (evaluator !== undefined && done % evaluator.every === 0) {
          const line = evaluator.evaluate(models, done)
          last += line.evaluation.ms // not counted in the next iteration's time
          yield* writer.submit(
            appendJob(at("metrics.jsonl"), new TextEncoder().encode(`${JSON.stringify(line)}\n`)),
          )
        }
        if (done % spec.output.sampleEvery === 0 || done === total) {
          const stamp = String(done).padStart(6, "0")
          for (const [kind, tensor] of [
            ["drafts", r.drafts],
            ["revised", r.revised],
          ] as const) {
            const values = tensor.dataSync() as Float32Array
            const count = tensor.shape[0]
            yield* writer.submit(
              fileJob(at("samples", `${kind}-${stamp}.png`), () =>
                encodePng(tile(values, count, imageShape)),
              ),
            )
          }
        }
        if (spec.output.checkpointEvery > 0 && done % spec.output.checkpointEvery === 0 && done !== total) {
          const state = yield* captureState(models)
          yield* writer.submit(checkpointJob(at("checkpoints", checkpointName(done)), spec, done, state))
          lastCheckpoint = { dir: at("checkpoints", checkpointName(done)), iteration: done }
          yield* writer.submit(pruneJob(at("checkpoints"), keepCheckpoints))
        }
        shown.update(r, iterationMs)
        release(r)
      })

    yield* observedBatches(dataset, {
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
      Stream.mapEffect(report),
      Stream.runDrain,
      Effect.mapError((e) => (e._tag === "DivergenceError" ? divergedAfter(e, lastCheckpoint) : e)),
      Effect.ensuring(Effect.sync(() => stop.listen(false))),
    )
    const stopped = completed < total ? stop.requested() : undefined
    if (!stopped || completed > start) {
      const state = yield* captureState(models)
      yield* writer.submit(
        checkpointJob(
          at("checkpoints", stopped ? checkpointName(completed) : "final"),
          spec,
          completed,
          state,
        ),
      )
      if (stopped) yield* writer.submit(pruneJob(at("checkpoints"), keepCheckpoints))
    }
    yield* writer.flush
    const timed = completed - start - 1
    const result: TrainResult = {
      outDir: o.outDir,
      backend: backend.name,
      iterations: completed,
      msPerIteration: timed > 0 ? sumMs / timed : 0,
      stopped,
    }
    return result
  })
