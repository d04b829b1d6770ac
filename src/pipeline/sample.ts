/**
 * `sample` mode: loads a checkpoint, draws N images from the generator and,
 * with K > 0, revises them with K descriptor Langevin steps (the official
 * test-time sampling uses 10). Writes one PNG per sample, a grid, and
 * `samples.npy` (N×H×W float32 in [0, 1], N×H×W×C for colour).
 */
import * as tf from "@tensorflow/tfjs-core"
import { Effect, FileSystem, Path, Schema } from "effect"
import { generate, langevinRevise } from "../models/coopnets.js"
import { architectures } from "../models/nets.js"
import { foldIn, normalTensor, rootKey } from "../models/random.js"
import { useBackend } from "./backend-service.js"
import { readCheckpoint, restoreModels } from "./checkpoint.js"
import { CheckpointError, OutputError } from "./errors.js"
import { encodeNpy, encodePng, tile } from "./images.js"
import { buildModels, disposeModels } from "./models-layer.js"
import { type BackendChoice, PipelineSpec } from "./spec.js"
import * as WriterLayer from "./writer.js"
import { fileJob, Writer } from "./writer.js"

export interface SampleOptions {
  /** a run directory or a checkpoint directory */
  readonly location: string
  readonly count: number
  readonly langevinSteps: number
  readonly seed: number
  readonly outDir: string | undefined
  readonly force: boolean
  readonly backend?: typeof BackendChoice.Type | undefined
  readonly quiet?: boolean
}

export interface SampleResult {
  readonly outDir: string
  readonly count: number
  readonly shape: ReadonlyArray<number>
}

/** Draws `count` samples in batches of the training chain count (batch norm uses batch statistics). */
export const drawSamples = (
  models: ReturnType<typeof buildModels>,
  spec: PipelineSpec,
  count: number,
  langevinSteps: number,
  seed: number,
): Float32Array => {
  const [h, w, c] = architectures[spec.model.arch].imageShape
  const size = h * w * c
  const out = new Float32Array(count * size)
  const key = foldIn(rootKey(seed), "sample")
  for (let first = 0, b = 0; first < count; first += spec.training.chains, b++) {
    const m = Math.min(spec.training.chains, count - first)
    const values = tf.tidy(() => {
      const z = normalTensor(foldIn(key, "z", b), [m, spec.model.zDim])
      const x = generate(models.generator, z)
      if (langevinSteps === 0) return x.dataSync() as Float32Array
      const { revised } = langevinRevise(
        models.descriptor,
        x,
        { ...spec.langevin, steps: langevinSteps },
        foldIn(key, "revise", b),
      )
      return revised.dataSync() as Float32Array
    })
    out.set(values, first * size)
  }
  return out
}

export const sample = (o: SampleOptions) =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const checkpoint = yield* readCheckpoint(o.location)
    const spec = yield* Schema.decodeUnknownEffect(PipelineSpec)(checkpoint.manifest.spec).pipe(
      Effect.mapError(
        (e) =>
          new CheckpointError({
            message: `${checkpoint.dir}/checkpoint.json holds a pipeline spec this version cannot read (${e.message}).`,
          }),
      ),
    )
    const outDir =
      o.outDir ??
      (checkpoint.dir.endsWith(path.join("checkpoints", "final"))
        ? path.join(checkpoint.dir, "..", "..", "sampled")
        : `${checkpoint.dir}-samples`)
    const existing = yield* fs.readDirectory(outDir).pipe(Effect.orElseSucceed(() => [] as Array<string>))
    if (existing.length > 0 && !o.force)
      return yield* new OutputError({
        message: `${outDir} already exists and is not empty. Pass --out DIR to write elsewhere, or --force to replace its files.`,
      })
    yield* useBackend(o.backend ?? spec.backend, o.quiet ? () => {} : undefined)
    const values = yield* Effect.acquireUseRelease(
      Effect.sync(() => buildModels(spec)),
      (models) =>
        restoreModels(checkpoint, models, false).pipe(
          Effect.andThen(Effect.sync(() => drawSamples(models, spec, o.count, o.langevinSteps, o.seed))),
        ),
      (models) => Effect.sync(() => disposeModels(models)),
    )
    const [h, w, c] = architectures[spec.model.arch].imageShape
    const size = h * w * c
    const unit = values.map((v) => Math.min(1, Math.max(0, (v + 1) / 2)))
    const writer = yield* Writer
    for (let i = 0; i < o.count; i++) {
      const one = values.subarray(i * size, (i + 1) * size)
      yield* writer.submit(
        fileJob(path.join(outDir, "png", `${String(i).padStart(6, "0")}.png`), () =>
          encodePng(tile(one, 1, [h, w, c])),
        ),
      )
    }
    const shape = c === 1 ? [o.count, h, w] : [o.count, h, w, c]
    yield* writer.submit(fileJob(path.join(outDir, "samples.npy"), () => encodeNpy(unit, shape)))
    yield* writer.submit(
      fileJob(path.join(outDir, "grid.png"), () => encodePng(tile(values, o.count, [h, w, c]))),
    )
    yield* writer.flush
    const result: SampleResult = { outDir, count: o.count, shape }
    return result
  }).pipe(Effect.provide(WriterLayer.layer(8)))
