/**
 * `sample` mode: loads a checkpoint, draws N images from the generator and,
 * with K > 0, revises them with K descriptor Langevin steps (the official
 * test-time sampling uses 10). Writes one PNG per sample, a grid, and
 * `samples.npy` (N×H×W float32 in [0, 1], N×H×W×C for colour). Video nets
 * write one animated GIF per sample, grid.gif (the observed clip on the left
 * when the run's data is still there), MP4s with --mp4, and `samples.npy`
 * N×T×H×W×C float32 in [0, 1].
 */
import { Effect, Path } from "effect"
import { Command, Flag } from "effect/cli"
import { CLASSES, isVideoShape, type VideoShape } from "../../models/nets.js"
import { imageShapeOf } from "../config/shapes.js"
import type { BackendChoice, PipelineSpec } from "../config/spec.js"
import { observedClip } from "../data/video.js"
import { UsageError } from "../errors.js"
import { defaultSampler, drawSamples, type Sampler, sampleShape } from "../nets/draw.js"
import type { GeneratorWeights } from "../nets/generator-average.js"
import { openTrainedRun, withTrainedModels } from "../nets/trained.js"
import { encodeNpy, encodePng, tile } from "../run-dir/image-files.js"
import {
  encodeGif,
  encodeMp4,
  encodeVideosNpy,
  type Videos,
  videoAt,
  videoGrid,
} from "../run-dir/video-files.js"
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
  weightsFlag,
} from "./flags.js"

export interface SampleOptions {
  /** a run directory or a checkpoint directory */
  readonly location: string
  readonly count: number
  /** descriptor Langevin steps after the generator (default: the run's langevin.steps) */
  readonly langevinSteps: number | undefined
  readonly seed: number
  readonly outDir: string | undefined
  readonly force: boolean
  readonly backend?: typeof BackendChoice.Type | undefined
  readonly quiet?: boolean
  /** side of the images for fully convolutional (texture) nets; default the training size */
  readonly size?: number | undefined
  /** class-conditional nets: the class of every sample (default: cycle through the classes) */
  readonly label?: number | undefined
  /** "generator" or "chains" (nets/draw.ts); default: the run's (`defaultSampler`) */
  readonly sampler?: Sampler | undefined
  /** the generator's moving average when the run kept one (default), or its last weights */
  readonly weights?: GeneratorWeights | undefined
  /** video nets: MP4s too (H.264, through the ffmpeg of @ffmpeg-installer/ffmpeg) */
  readonly mp4?: boolean | undefined
}

export const sampleCommand = Command.make(
  "sample",
  {
    location: trainedRunArgument,
    n: intFlag("n", 1, "how many samples").pipe(Flag.withDefault(64)),
    langevin: intFlag(
      "langevin",
      0,
      "descriptor Langevin steps after the generator (default: the run's langevin.steps, the revision it trained with; 0: the generator alone)",
    ).pipe(Flag.optional),
    seed: intFlag("seed", 0, "the seed of the latent draws and the Langevin noise").pipe(Flag.withDefault(0)),
    size: intFlag(
      "size",
      1,
      "texture nets: synthesise S×S images with the same weights (larger than the training crops)",
    ).pipe(Flag.optional),
    class: intFlag(
      "class",
      0,
      "class-conditional nets: every sample of digit K (default: the classes 0, 1, …, 9 in turn)",
    ).pipe(Flag.optional),
    sampler: choiceFlag(
      "sampler",
      ["generator", "chains"],
      '"generator": g(z); "chains": as the run\'s own chains and revise stages made its samples in training; then --langevin steps. Default: "generator" for runs whose generator was taught, else "chains"',
      (raw) => `--sampler must be "generator" or "chains", got "${raw}".`,
    ).pipe(Flag.optional),
    weights: weightsFlag.pipe(Flag.withDefault("average" as const)),
    mp4: Flag.Boolean("mp4").pipe(
      Flag.withDescription("video nets: also write mp4/NNNNNN.mp4 and grid.mp4 (H.264)"),
      Flag.withDefault(false),
    ),
    out: outFlag("the output directory (default <run-dir>/sampled)"),
    force: forceFlag("overwrite the files of an existing output directory"),
  },
  invoke((a) => ({
    kind: "sample" as const,
    location: a.location,
    count: a.n,
    langevinSteps: given(a.langevin),
    seed: a.seed,
    size: given(a.size),
    label: given(a.class),
    sampler: given(a.sampler),
    weights: a.weights,
    outDir: given(a.out),
    force: a.force,
    mp4: a.mp4,
  })),
).pipe(
  Command.withDescription(
    "Draw N samples from the generator (its moving average when the run kept one; or, with --sampler chains, as the run's own chains and revise stages made them in training: the default for runs whose generator was never taught), then K descriptor Langevin steps (--langevin K; default the run's langevin.steps after the generator, none after the chains). Writes png/NNNNNN.png, grid.png and samples.npy (N×H×W[×C] float32 in [0, 1]); video nets write gif/NNNNNN.gif, grid.gif (beside the observed clip), samples.npy (N×T×H×W×C) and, with --mp4, MP4s.",
  ),
  Command.annotate(
    UsageHint,
    "sample needs exactly one run or checkpoint directory, e.g. `node dist/run.js sample runs/mnist-quick`.",
  ),
)

export interface SampleResult {
  readonly outDir: string
  readonly count: number
  readonly shape: ReadonlyArray<number>
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
    const sampler = o.sampler ?? defaultSampler(spec)
    if (sampler === "chains" && image[0] !== imageShapeOf(spec)[0])
      return yield* new UsageError({
        message: `--size draws from the generator at another size; --sampler chains draws as training did, at ${imageShapeOf(spec)[0]}x${imageShapeOf(spec)[1]}. Pass --sampler generator with --size.`,
      })
    const langevinSteps = o.langevinSteps ?? (sampler === "chains" ? 0 : spec.langevin.steps)
    const values = yield* withTrainedModels(
      run,
      o.backend,
      o.quiet,
      (models) => drawSamples(models, spec, o.count, langevinSteps, o.seed, image, o.label, sampler),
      o.weights,
    )
    if (isVideoShape(image)) return yield* writeVideoSamples(o, spec, outDir, values, image)
    if (o.mp4 === true)
      return yield* new UsageError({
        message: `--mp4 needs video nets; this checkpoint's "${spec.model.arch}" nets make images.`,
      })
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

/** Videos: gif/NNNNNN.gif, grid.gif (the observed clip first, if the run's data decodes), samples.npy, MP4s with --mp4. */
const writeVideoSamples = (
  o: SampleOptions,
  spec: PipelineSpec,
  outDir: string,
  values: Float32Array,
  video: VideoShape,
) =>
  Effect.gen(function* () {
    const path = yield* Path.Path
    const writer = yield* Writer
    const videos: Videos = { values, shape: [o.count, ...video] }
    const name = (i: number) => String(i).padStart(6, "0")
    for (let i = 0; i < o.count; i++) {
      const one = videoAt(videos, i)
      yield* writer.submit(fileJob(path.join(outDir, "gif", `${name(i)}.gif`), () => encodeGif(one)))
      if (o.mp4 === true)
        yield* writer.submit(fileJob(path.join(outDir, "mp4", `${name(i)}.mp4`), () => encodeMp4(one)))
    }
    const clip = yield* observedClip(spec.data, video)
    const lead: Videos | undefined =
      clip === undefined ? undefined : { values: clip.frames, shape: [1, ...video] }
    if (lead === undefined && o.quiet !== true)
      process.stderr.write(
        `note: the run's observed clip (data.path ${spec.data.source === "video" ? spec.data.path : ""}) cannot be read here; grid.gif shows the samples alone.\n`,
      )
    const grid = videoGrid(videos, { lead, columns: Math.min(o.count, 4) })
    yield* writer.submit(fileJob(path.join(outDir, "grid.gif"), () => encodeGif(grid)))
    if (o.mp4 === true) yield* writer.submit(fileJob(path.join(outDir, "grid.mp4"), () => encodeMp4(grid)))
    const shape = [o.count, ...video]
    yield* writer.submit(fileJob(path.join(outDir, "samples.npy"), () => encodeVideosNpy(videos)))
    yield* writer.flush
    const result: SampleResult = { outDir, count: o.count, shape }
    return result
  })

export type SampleInvocation = SampleOptions & { readonly kind: "sample" }
