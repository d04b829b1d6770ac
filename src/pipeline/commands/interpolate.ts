/**
 * `interpolate` mode: loads a trained generator, walks `steps` frames from one
 * latent vector to another for each of `pairs` pairs (linear or spherical),
 * optionally revises every frame with K descriptor Langevin steps, and writes
 * grid.png (one row per pair) and frames.npy (pairs×steps×H×W[×C] float32 in [0, 1]).
 */
import * as tf from "@tensorflow/tfjs-core"
import { Effect, Path } from "effect"
import { Command, Flag } from "effect/cli"
import { langevinRevise, withLabels } from "../../models/coopnets.js"
import { generateEach, type InterpolationMode, interpolationPaths } from "../../models/interpolation.js"
import { oneHot } from "../../models/labels.js"
import { CLASSES, isVideoShape } from "../../models/nets.js"
import { foldIn, normals, normalTensor, rootKey } from "../../models/random.js"
import type { ModelsShape } from "../../stages/models.js"
import { imageShapeOf, latentSizeOf } from "../config/shapes.js"
import type { BackendChoice, PipelineSpec } from "../config/spec.js"
import { openTrainedRun, withTrainedModels } from "../nets/trained.js"
import { encodeNpy, encodePng, tile } from "../run-dir/image-files.js"
import { encodeGif, encodeVideosNpy, type Videos, videoGrid } from "../run-dir/video-files.js"
import * as WriterLayer from "../run-dir/writer.js"
import { fileJob, Writer } from "../run-dir/writer.js"
import {
  choiceFlag,
  forceFlag,
  given,
  intFlag,
  invoke,
  outFlag,
  trainedRunArgument,
  UsageHint,
} from "./flags.js"

export interface InterpolateOptions {
  /** a run directory or a checkpoint directory */
  readonly location: string
  readonly steps: number
  readonly pairs: number
  readonly mode: InterpolationMode
  readonly langevinSteps: number
  readonly seed: number
  readonly outDir: string | undefined
  readonly force: boolean
  readonly backend?: typeof BackendChoice.Type | undefined
  readonly quiet?: boolean
}

export const interpolateCommand = Command.make(
  "interpolate",
  {
    location: trainedRunArgument,
    steps: intFlag("steps", 2, "frames from one latent vector to the other").pipe(Flag.withDefault(8)),
    pairs: intFlag("pairs", 1, "pairs of latent vectors (a row each)").pipe(Flag.withDefault(4)),
    mode: choiceFlag(
      "mode",
      ["linear", "spherical"],
      "linear, or spherical (slerp: keeps a Gaussian latent near the norm where N(0, I) puts its mass)",
      (raw) => `--mode must be "linear" or "spherical", got "${raw}".`,
    ).pipe(Flag.withDefault("linear" as const)),
    langevin: intFlag("langevin", 0, "descriptor Langevin steps revising every frame").pipe(
      Flag.withDefault(0),
    ),
    seed: intFlag("seed", 0, "the seed of the latent pairs").pipe(Flag.withDefault(0)),
    out: outFlag("the output directory (default <run-dir>/interpolated)"),
    force: forceFlag("overwrite the files of an existing output directory"),
  },
  invoke((a) => ({
    kind: "interpolate" as const,
    location: a.location,
    steps: a.steps,
    pairs: a.pairs,
    mode: a.mode,
    langevinSteps: a.langevin,
    seed: a.seed,
    outDir: given(a.out),
    force: a.force,
  })),
).pipe(
  Command.withDescription(
    "For each pair of latent vectors, STEPS frames from one to the other, each optionally revised by K descriptor Langevin steps. Writes grid.png (a row per pair) and frames.npy (pairs×steps×H×W float32 in [0, 1]); video nets: grid.gif and frames.npy (pairs×steps×T×H×W×C). Class-conditional nets: pair p is of class p mod 10.",
  ),
  Command.annotate(
    UsageHint,
    "interpolate needs exactly one run or checkpoint directory, e.g. `node dist/run.js interpolate runs/mnist-quick`.",
  ),
)

export interface InterpolateResult {
  readonly outDir: string
  /** [pairs, steps, h, w(, c)] */
  readonly shape: ReadonlyArray<number>
}

export interface Frames {
  /** the latent of every frame, row p·steps + i */
  readonly latents: Float32Array
  /** the frames, NHWC values (generator outputs, or revised with K > 0) */
  readonly images: Float32Array
}

/**
 * The latents every frame is generated beside (training.chains − 1 of them, so
 * the generator sees a batch of its training size): batch norm uses the
 * statistics of the batch, and this fixed company makes each frame a function
 * of its own latent alone.
 */
export const interpolationReference = (spec: PipelineSpec, dim: number, seed: number): tf.Tensor2D =>
  normalTensor(foldIn(rootKey(seed), "interpolate", "reference"), [
    Math.max(1, spec.training.chains - 1),
    dim,
  ]) as tf.Tensor2D

/** The frames of `pairs` interpolations; endpoints and Langevin noise are keyed by `seed`. */
export const interpolationFrames = (
  models: ModelsShape,
  spec: PipelineSpec,
  o: Pick<InterpolateOptions, "steps" | "pairs" | "mode" | "langevinSteps" | "seed">,
): Frames => {
  const dim = latentSizeOf(spec)
  const key = foldIn(rootKey(o.seed), "interpolate")
  const starts = normals(foldIn(key, "start"), o.pairs * dim)
  const ends = normals(foldIn(key, "end"), o.pairs * dim)
  const latents = interpolationPaths(starts, ends, dim, o.steps, o.mode)
  const images = tf.tidy(() => {
    const reference = interpolationReference(spec, dim, o.seed)
    // class-conditional nets: pair p is of class p mod 10 (other nets ignore labels)
    const labels = {
      reference: oneHot(Int32Array.from({ length: reference.shape[0] }, (_, j) => j % CLASSES)),
      rows: oneHot(
        Int32Array.from({ length: o.pairs * o.steps }, (_, r) => Math.floor(r / o.steps) % CLASSES),
      ),
    }
    const x = generateEach(
      models.generator,
      tf.tensor2d(latents, [o.pairs * o.steps, dim]),
      reference,
      labels,
    )
    if (o.langevinSteps === 0) return x.dataSync() as Float32Array
    const { revised } = langevinRevise(
      withLabels(models.descriptor, labels.rows),
      x,
      { ...spec.langevin, steps: o.langevinSteps },
      foldIn(key, "revise"),
    )
    return revised.dataSync() as Float32Array
  })
  return { latents, images }
}

export const interpolateRun = (o: InterpolateOptions) =>
  Effect.gen(function* () {
    const path = yield* Path.Path
    const run = yield* openTrainedRun(o.location, o.outDir, o.force, "interpolated")
    const { spec, outDir } = run
    const frames = yield* withTrainedModels(run, o.backend, o.quiet, (models) =>
      interpolationFrames(models, spec, o),
    )
    const sampleShape = imageShapeOf(spec)
    const writer = yield* Writer
    if (isVideoShape(sampleShape)) {
      // each frame of the walk is a whole clip: grid.gif plays them, a row per pair
      const videos: Videos = { values: frames.images, shape: [o.pairs * o.steps, ...sampleShape] }
      const shape = [o.pairs, o.steps, ...sampleShape]
      yield* writer.submit(
        fileJob(path.join(outDir, "frames.npy"), () => encodeVideosNpy({ values: videos.values, shape })),
      )
      yield* writer.submit(
        fileJob(path.join(outDir, "grid.gif"), () => encodeGif(videoGrid(videos, { columns: o.steps }))),
      )
      yield* writer.flush
      const result: InterpolateResult = { outDir, shape }
      return result
    }
    const [h, w, c] = sampleShape
    const shape = c === 1 ? [o.pairs, o.steps, h, w] : [o.pairs, o.steps, h, w, c]
    const unit = frames.images.map((v) => Math.min(1, Math.max(0, (v + 1) / 2)))
    yield* writer.submit(fileJob(path.join(outDir, "frames.npy"), () => encodeNpy(unit, shape)))
    yield* writer.submit(
      fileJob(path.join(outDir, "grid.png"), () =>
        encodePng(tile(frames.images, o.pairs * o.steps, [h, w, c], o.steps)),
      ),
    )
    yield* writer.flush
    const result: InterpolateResult = { outDir, shape }
    return result
  }).pipe(Effect.provide(WriterLayer.layer(4)))

export type InterpolateInvocation = InterpolateOptions & { readonly kind: "interpolate" }
