/**
 * Drawing samples from trained nets, as `sample`, `evaluate` and the training
 * loop's evaluation do, with one of two samplers:
 *
 * - "generator": z ~ N(0, I) keyed by the seed, g(z) in batches of the
 *   training chain count (the generator's batch norm uses batch statistics),
 *   then optionally K descriptor Langevin steps. Fully convolutional nets draw
 *   at other image sizes with the same weights.
 * - "chains": as the run made its revised samples in training — its chains
 *   variant starts them (fresh noise for the descriptor alone, g(z), the
 *   persistent buffer, …) and its revise variant revises them (langevin.steps
 *   descriptor steps, or none) — then K further Langevin steps. Persistent
 *   chains continue batch after batch from a copy of the buffer (the run's own
 *   state is left as it was). The fair sampler for an ablation whose generator
 *   is never taught.
 */
import * as tf from "@tensorflow/tfjs-core"
import { Effect } from "effect"
import { generate, langevinRevise, withLabels } from "../../models/coopnets.js"
import { oneHot } from "../../models/labels.js"
import { architectures, CLASSES, type SampleShape, textureUpsampling } from "../../models/nets.js"
import { foldIn, normalTensor, rootKey } from "../../models/random.js"
import { Models, type ModelsShape } from "../../stages/models.js"
import { type Drafted, type Observed, type Revised, release } from "../../stages/records.js"
import { variantNamed } from "../../stages/registry.js"
import type { Stage } from "../../stages/stage.js"
import { imageShapeOf, latentSizeOf, netSpecsOf } from "../config/shapes.js"
import type { PipelineSpec } from "../config/spec.js"
import { optionsFor } from "../config/stage-options.js"
import { UsageError } from "../errors.js"

export type Sampler = "generator" | "chains"

/** How a run is sampled unless told otherwise: from its generator if it was taught, else as its chains were. */
export const defaultSampler = (spec: PipelineSpec): Sampler =>
  spec.stages.teach === "none" ? "chains" : "generator"

/** What a sampler starts from, in words (for log lines and reports). */
export const samplerDescription = (spec: PipelineSpec, sampler: Sampler): string =>
  sampler === "generator"
    ? "g(z)"
    : `chains "${spec.stages.chains}" revised by "${spec.stages.revise}"${spec.stages.revise === "langevin" ? ` (${spec.langevin.steps} steps)` : ""}`

/**
 * Draws `count` samples (values in [-1, 1], N×H×W×C) in batches of the training chain count
 * (batch norm uses batch statistics), with `sampler` (default "generator"), then `langevinSteps`
 * descriptor Langevin steps.
 */
export const drawSamples = (
  models: ModelsShape,
  spec: PipelineSpec,
  count: number,
  langevinSteps: number,
  seed: number,
  image: SampleShape = imageShapeOf(spec),
  /** conditional nets: the class of every sample; default sample i is of class i mod 10 */
  label?: number,
  sampler: Sampler = "generator",
): Float32Array => {
  if (sampler === "chains") return drawFromChains(models, spec, count, langevinSteps, seed, label)
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
  const size = image.reduce((a: number, b: number) => a * b, 1)
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

/** The "chains" sampler (see the top of this file). The stages run synchronously, as in training. */
const drawFromChains = (
  models: ModelsShape,
  spec: PipelineSpec,
  count: number,
  langevinSteps: number,
  seed: number,
  label: number | undefined,
): Float32Array => {
  const sampling: PipelineSpec = { ...spec, seed }
  const chainsVariant = variantNamed("chains", spec.stages.chains)
  const chainsOptions = optionsFor(sampling, chainsVariant)
  const draft = chainsVariant.make(chainsOptions) as Stage<Observed, Drafted>
  const writeBack: Stage<Revised, Revised> =
    chainsVariant.writeBack?.(chainsOptions) ?? ((r) => Effect.succeed(r))
  const reviseVariant = variantNamed("revise", spec.stages.revise)
  const revise = reviseVariant.make(optionsFor(sampling, reviseVariant)) as Stage<Drafted, Revised>
  // a copy of the run's extra state (the persistent buffer): sampling continues it, the run keeps its own
  const state = new Map([...models.state].map(([name, v]) => [name, tf.variable(v, false)] as const))
  const sampled: ModelsShape = { ...models, state }
  const [h, w, c] = imageShapeOf(spec)
  const size = h * w * c
  const chains = spec.training.chains
  const descriptor = { spec: netSpecsOf(spec).descriptor, params: models.descriptor.params }
  const out = new Float32Array(count * size)
  try {
    for (let first = 0, b = 0; first < count; first += chains, b++) {
      const m = Math.min(chains, count - first)
      const labels = Int32Array.from(
        { length: Math.max(chains, spec.training.batchSize) },
        (_, j) => label ?? (first + j) % CLASSES,
      )
      const observed: Observed = {
        // after the last training iteration: keys training never used; persistent chains continue
        iteration: spec.training.iterations + b,
        epoch: 0,
        images: tf.zeros([labels.length, h, w, c]) as tf.Tensor4D,
        labels,
        timings: {},
      }
      const record = Effect.runSync(
        draft(observed).pipe(
          Effect.flatMap(revise),
          Effect.flatMap(writeBack),
          Effect.provideService(Models, sampled),
        ),
      )
      const values = tf.tidy(() => {
        if (langevinSteps === 0) return record.revised.dataSync() as Float32Array
        const { revised } = langevinRevise(
          withLabels(descriptor, record.oneHotLabels),
          record.revised,
          { ...spec.langevin, steps: langevinSteps },
          foldIn(rootKey(seed), "sample", "chains", b),
        )
        return revised.dataSync() as Float32Array
      })
      out.set(values.subarray(0, m * size), first * size)
      release(record)
    }
  } finally {
    for (const v of state.values()) v.dispose()
  }
  return out
}
