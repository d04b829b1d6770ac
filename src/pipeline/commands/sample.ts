/**
 * `sample` mode: loads a checkpoint, draws N images from the generator and,
 * with K > 0, revises them with K descriptor Langevin steps (the official
 * test-time sampling uses 10). Writes one PNG per sample, a grid, and
 * `samples.npy` (N×H×W float32 in [0, 1], N×H×W×C for colour).
 */
import * as tf from "@tensorflow/tfjs-core"
import { Effect, Path } from "effect"
import { generate, langevinRevise, withLabels } from "../../models/coopnets.js"
import { architectures, CLASSES, type ImageShape, textureUpsampling } from "../../models/nets.js"
import { foldIn, normalTensor, rootKey } from "../../models/random.js"
import { oneHot } from "../../stages/chains-conditional.js"
import type { ModelsShape } from "../../stages/models.js"
import { imageShapeOf, latentSizeOf, netSpecsOf } from "../config/shapes.js"
import type { BackendChoice, PipelineSpec } from "../config/spec.js"
import { UsageError } from "../errors.js"
import { openTrainedRun, withTrainedModels } from "../nets/trained.js"
import { encodeNpy, encodePng, tile } from "../run-dir/image-files.js"
import * as WriterLayer from "../run-dir/writer.js"
import { fileJob, Writer } from "../run-dir/writer.js"

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
  /** side of the images for fully convolutional (texture) nets; default the training size */
  readonly size?: number | undefined
  /** class-conditional nets: the class of every sample (default: cycle through the classes) */
  readonly label?: number | undefined
}

export interface SampleResult {
  readonly outDir: string
  readonly count: number
  readonly shape: ReadonlyArray<number>
}

/** Draws `count` samples in batches of the training chain count (batch norm uses batch statistics). */
export const drawSamples = (
  models: ModelsShape,
  spec: PipelineSpec,
  count: number,
  langevinSteps: number,
  seed: number,
  image: ImageShape = imageShapeOf(spec),
  /** conditional nets: the class of every sample; default sample i is of class i mod 10 */
  label?: number,
): Float32Array => {
  const [h, w, c] = image
  const size = h * w * c
  // Fully convolutional nets reuse the trained weights at another image size.
  const nets = netSpecsOf(spec, image)
  const generator = { spec: nets.generator, params: models.generator.params }
  const descriptor = { spec: nets.descriptor, params: models.descriptor.params }
  const latent = latentSizeOf(spec, image)
  const out = new Float32Array(count * size)
  const key = foldIn(rootKey(seed), "sample")
  for (let first = 0, b = 0; first < count; first += spec.training.chains, b++) {
    const m = Math.min(spec.training.chains, count - first)
    const values = tf.tidy(() => {
      const z = normalTensor(foldIn(key, "z", b), [m, latent])
      const labels = oneHot(Int32Array.from({ length: m }, (_, j) => label ?? (first + j) % CLASSES))
      const x = generate(withLabels(generator, labels), z)
      if (langevinSteps === 0) return x.dataSync() as Float32Array
      const { revised } = langevinRevise(
        withLabels(descriptor, labels),
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

/** The image shape to sample: the training one, or `size` x `size` for a fully convolutional net. */
export const sampleShape = (
  spec: PipelineSpec,
  size: number | undefined,
): Effect.Effect<ImageShape, UsageError> => {
  const image = imageShapeOf(spec)
  if (size === undefined || size === image[0]) return Effect.succeed(image)
  if (!architectures[spec.model.arch].fullyConvolutional)
    return Effect.fail(
      new UsageError({
        message: `--size needs a fully convolutional net (model.arch "texture"); this checkpoint's "${spec.model.arch}" nets make ${image[0]}x${image[1]} images only.`,
      }),
    )
  const factor = textureUpsampling(spec.model)
  return size % factor === 0
    ? Effect.succeed([size, size, image[2]] as const)
    : Effect.fail(
        new UsageError({
          message: `--size must be a multiple of ${factor} for this texture generator (each of its ${spec.model.generatorChannels.length + 1} transposed convs doubles the side), got ${size}.`,
        }),
      )
}

export const sample = (o: SampleOptions) =>
  Effect.gen(function* () {
    const path = yield* Path.Path
    const run = yield* openTrainedRun(o.location, o.outDir, o.force, "sampled")
    const { spec, outDir } = run
    const image = yield* sampleShape(spec, o.size)
    if (o.label !== undefined && (spec.model.arch !== "mnistConditional" || o.label >= CLASSES))
      return yield* new UsageError({
        message:
          spec.model.arch === "mnistConditional"
            ? `--class must be a digit from 0 to ${CLASSES - 1}, got ${o.label}.`
            : `--class needs class-conditional nets (model.arch "mnistConditional"); this checkpoint's "${spec.model.arch}" nets take no class.`,
      })
    const values = yield* withTrainedModels(run, o.backend, o.quiet, (models) =>
      drawSamples(models, spec, o.count, o.langevinSteps, o.seed, image, o.label),
    )
    const [h, w, c] = image
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
