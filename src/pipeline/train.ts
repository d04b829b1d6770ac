/**
 * The scheduler. One cooperative iteration is a stream of typed stages:
 *
 *   load ─buffer(n)→ draft → revise → updateDescriptor → teach → report
 *                                                                  └─queue(m)→ writer fiber (PNG, metrics, checkpoints)
 *
 * tfjs runs its kernels synchronously on this thread, so the compute stages
 * are one sequential chain; what overlaps with them is batch preparation
 * (bounded buffer) and all file output (bounded queue, encoded and written by
 * a background fiber; sharp encodes on libuv's thread pool).
 */
import * as tf from "@tensorflow/tfjs-core"
import { Effect, FileSystem, Layer, Path, Stream } from "effect"
import { type Dataset, observedBatches } from "../stages/load.js"
import { Models } from "../stages/models.js"
import { release, type Taught } from "../stages/records.js"
import { registry } from "../stages/registry.js"
import type { StageOptions } from "../stages/stage.js"
import type { BackendReport } from "./backend.js"
import { useBackend } from "./backend-service.js"
import { captureState, checkpointJob } from "./checkpoint.js"
import { OutputError } from "./errors.js"
import { encodePng, tile } from "./images.js"
import { loadMnist } from "./mnist.js"
import * as ModelsLayer from "./models-layer.js"
import { progress } from "./progress.js"
import type { PipelineSpec } from "./spec.js"
import * as WriterLayer from "./writer.js"
import { appendJob, fileJob, Writer } from "./writer.js"

export interface TrainOptions {
  /** the pipeline file, for messages and the run record */
  readonly source: string
  readonly outDir: string
  /** replace an existing run directory */
  readonly force: boolean
  /** print progress lines (off in tests) */
  readonly quiet?: boolean
}

export interface TrainResult {
  readonly outDir: string
  readonly backend: string
  readonly iterations: number
  readonly msPerIteration: number
}

export const stageOptions = (spec: PipelineSpec): StageOptions => ({
  seed: spec.seed,
  chains: spec.training.chains,
  zDim: spec.model.zDim,
  langevin: spec.langevin,
  latentLangevin: { ...spec.latentLangevin, sigma: spec.generatorSigma },
  generatorSigma: spec.generatorSigma,
})

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
    observed: r.descriptor.observedEnergy,
    drafted: r.draftEnergy,
    revised: r.descriptor.revisedEnergy,
  },
  descriptorLoss: r.descriptor.loss,
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
    const dataset = yield* loadMnist(spec.data.limit, spec.seed)
    yield* prepareRunDir(o.outDir, o.force)
    return yield* trainOn(spec, o, backend, dataset).pipe(
      Effect.provide(Layer.mergeAll(ModelsLayer.layer(spec), WriterLayer.layer(spec.buffers.writes))),
    )
  })

const trainOn = (spec: PipelineSpec, o: TrainOptions, backend: BackendReport, dataset: Dataset) =>
  Effect.gen(function* () {
    const path = yield* Path.Path
    const writer = yield* Writer
    const models = yield* Models
    const at = (...parts: Array<string>) => path.join(o.outDir, ...parts)
    yield* writer.submit(fileJob(at("config.json"), () => json(spec)))
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

    const options = stageOptions(spec)
    const draft = registry.chains[spec.stages.chains](options)
    const revise = registry.revise[spec.stages.revise](options)
    const updateDescriptor = registry.updateDescriptor[spec.stages.updateDescriptor](options)
    const teach = registry.teach[spec.stages.teach](options)
    const total = spec.training.iterations
    const shown = progress(spec.name, total, 0, spec.output.logEvery, o.quiet ? () => {} : undefined)
    const imageShape = dataset.shape
    let last = performance.now()
    let sumMs = 0

    const report = (r: Taught) =>
      Effect.gen(function* () {
        const now = performance.now()
        const iterationMs = now - last
        last = now
        if (r.iteration > 0) sumMs += iterationMs
        const done = r.iteration + 1
        yield* writer.submit(
          appendJob(
            at("metrics.jsonl"),
            new TextEncoder().encode(`${JSON.stringify(metricsLine(r, iterationMs))}\n`),
          ),
        )
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
          yield* writer.submit(
            checkpointJob(at("checkpoints", `iter-${String(done).padStart(6, "0")}`), spec, done, state),
          )
        }
        shown.update(r, iterationMs)
        release(r)
      })

    yield* observedBatches(dataset, {
      seed: spec.seed,
      batchSize: spec.training.batchSize,
      iterations: total,
      buffer: spec.buffers.batches,
    }).pipe(
      Stream.mapEffect(draft),
      Stream.mapEffect(revise),
      Stream.mapEffect(updateDescriptor),
      Stream.mapEffect(teach),
      Stream.mapEffect(report),
      Stream.runDrain,
    )
    const state = yield* captureState(models)
    yield* writer.submit(checkpointJob(at("checkpoints", "final"), spec, total, state))
    yield* writer.flush
    const result: TrainResult = {
      outDir: o.outDir,
      backend: backend.name,
      iterations: total,
      msPerIteration: total > 1 ? sumMs / (total - 1) : 0,
    }
    return result
  })
