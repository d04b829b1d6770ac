/**
 * Drawing samples from trained nets, as `sample`, `evaluate` and the training
 * loop's evaluation do: z ~ N(0, I) keyed by the seed, g(z) in batches of the
 * training chain count (the generator's batch norm uses batch statistics),
 * then optionally K descriptor Langevin steps. Fully convolutional nets draw
 * at other image sizes with the same weights.
 */
import * as tf from "@tensorflow/tfjs-core"
import { Effect } from "effect"
import { generate, langevinRevise, withLabels } from "../../models/coopnets.js"
import { oneHot } from "../../models/labels.js"
import { architectures, CLASSES, type SampleShape, textureUpsampling } from "../../models/nets.js"
import { foldIn, normalTensor, rootKey } from "../../models/random.js"
import type { ModelsShape } from "../../stages/models.js"
import { imageShapeOf, latentSizeOf, netSpecsOf } from "../config/shapes.js"
import type { PipelineSpec } from "../config/spec.js"
import { UsageError } from "../errors.js"

/** Draws `count` samples in batches of the training chain count (batch norm uses batch statistics). */
export const drawSamples = (
  models: ModelsShape,
  spec: PipelineSpec,
  count: number,
  langevinSteps: number,
  seed: number,
  image: SampleShape = imageShapeOf(spec),
  /** conditional nets: the class of every sample; default sample i is of class i mod 10 */
  label?: number,
): Float32Array => {
  const size = image.reduce((a: number, b: number) => a * b, 1)
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

/**
 * Draws `count` samples as the chains of the descriptor alone start
 * (stages.chains "noise", "persistent", "uniform"): N(0, s²) noise, s =
 * langevin.refSigma, revised by `langevinSteps` descriptor Langevin steps, in
 * batches of the training chain count. No generator is used.
 */
export const drawFromNoise = (
  models: ModelsShape,
  spec: PipelineSpec,
  count: number,
  langevinSteps: number,
  seed: number,
  image: SampleShape = imageShapeOf(spec),
): Float32Array => {
  const size = image[0] * image[1] * image[2]
  const descriptor = { spec: netSpecsOf(spec, image).descriptor, params: models.descriptor.params }
  const out = new Float32Array(count * size)
  const key = foldIn(rootKey(seed), "sample-noise")
  for (let first = 0, b = 0; first < count; first += spec.training.chains, b++) {
    const m = Math.min(spec.training.chains, count - first)
    const values = tf.tidy(() => {
      const x = normalTensor(foldIn(key, "start", b), [m, ...image], spec.langevin.refSigma) as tf.Tensor4D
      const { revised } = langevinRevise(
        descriptor,
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

/** The shape to sample: the training one, or `size` x `size` for a fully convolutional net. */
export const sampleShape = (
  spec: PipelineSpec,
  size: number | undefined,
): Effect.Effect<SampleShape, UsageError> => {
  const image = imageShapeOf(spec)
  if (size === undefined || (image.length === 3 && size === image[0])) return Effect.succeed(image)
  if (!architectures[spec.model.arch].fullyConvolutional || image.length !== 3)
    return Effect.fail(
      new UsageError({
        message: `--size needs a fully convolutional net (model.arch "texture"); this checkpoint's "${spec.model.arch}" nets make ${image.slice(0, -1).join("x")} ${image.length === 4 ? "videos" : "images"} only.`,
      }),
    )
  const factor = textureUpsampling(spec.model)
  return size % factor === 0
    ? Effect.succeed([size, size, image[2]] as const)
    : Effect.fail(
        new UsageError({
          message: `--size must be a multiple of ${factor} for this texture generator (each of its ${spec.model.generatorChannels.length + 1} upsampling layers doubles the side), got ${size}.`,
        }),
      )
}
