/**
 * `evaluate` mode: the sample quality of a trained run (N images sampled from
 * its checkpoint, as `sample` draws them) or of a set of images (a folder, an
 * .npy). 28x28 single-channel images get the MNIST metrics of
 * src/pipeline/evaluation/sample-quality.ts, with real digits as a reference row; any
 * images get the Fréchet distance on the features of a user-supplied tfjs
 * LayersModel against a user-supplied reference set (--features, --reference);
 * textures (a texture run, or any images with --exemplar) get the texture
 * measure of src/pipeline/evaluation/texture-quality.ts against the exemplar,
 * with its other-crops floor. Writes evaluation.json and evaluation.md
 * atomically; returns the table.
 */
import { Effect, FileSystem, Path } from "effect"
import { Argument, CliError, Command, Flag } from "effect/cli"
import { fitGaussian, frechetDistance } from "../../models/frechet.js"
import { isVideoShape } from "../../models/nets.js"
import { useBackend } from "../backend/service.js"
import { imageShapeOf } from "../config/shapes.js"
import type { BackendChoice, PipelineSpec } from "../config/spec.js"
import { type ImageSet, readImageSet } from "../data/image-sets.js"
import { loadMnist, MNIST_HELD_OUT } from "../data/mnist.js"
import { DataError, UsageError } from "../errors.js"
import {
  DEFAULT_VIDEO_SAMPLES,
  evaluateVideoRun,
  type VideoEvaluation,
  videoMarkdown,
} from "../evaluation/dynamic-texture.js"
import {
  adaptation,
  disposeFeatureModel,
  featuresOf,
  type InputRange,
  loadFeatureModel,
} from "../evaluation/feature-model.js"
import {
  acquireClassifier,
  type ClassifierSource,
  defaultClassifierSource,
} from "../evaluation/mnist-classifier.js"
import {
  COPY_QUANTILE,
  prepareMnistReference,
  realDigitsQuality,
  type SampleQuality,
  sampleQuality,
} from "../evaluation/sample-quality.js"
import {
  type ExemplarSource,
  type TextureQuality,
  textureMarkdown,
  textureQuality,
} from "../evaluation/texture-quality.js"
import {
  defaultSampler,
  drawFromNoise,
  drawSamples,
  type Sampler,
  samplerDescription,
  sampleShape,
} from "../nets/draw.js"
import type { GeneratorWeights } from "../nets/generator-average.js"
import { openTrainedRun, type TrainedRun, withTrainedModels } from "../nets/trained.js"
import { claimOutputDir } from "../run-dir/layout.js"
import { writeAtomic } from "../run-dir/writer.js"
import { choiceFlag, forceFlag, given, intFlag, invoke, outFlag, UsageHint, weightsFlag } from "./flags.js"

export const EVALUATION_FORMAT = "coopnets-evaluation/1"
/** The location that names the 1,000 held-out MNIST digits themselves (a check of the metrics). */
export const MNIST_TEST_LOCATION = "mnist:test"

/** Images sampled from a checkpoint when --n is not given. */
export const DEFAULT_EVALUATION_SAMPLES = 1000
/** Images sampled from a texture run when --n is not given (each is scored on its own). */
export const DEFAULT_TEXTURE_SAMPLES = 16

export interface EvaluateOptions {
  /** a run or checkpoint directory, a folder of images, or an .npy file */
  readonly location: string
  /** checkpoints: images to sample (default 1000); image sets: evaluate the first N (default all) */
  readonly count: number | undefined
  /** checkpoints only: descriptor Langevin steps after the generator (default: the run's langevin.steps, as `sample`) */
  readonly langevinSteps: number | undefined
  /** checkpoints only: the sampling seed (default 0) */
  readonly seed: number | undefined
  /**
   * checkpoints only: "generator" draws g(z), "chains" as the run's own chains and revise stages did
   * in training (nets/draw.ts), then `langevinSteps` descriptor steps; default: the run's (`defaultSampler`)
   */
  readonly sampler?: Sampler | undefined
  /** checkpoints only: the generator's moving average when the run kept one (default), or its last weights */
  readonly weights?: GeneratorWeights | undefined
  readonly outDir: string | undefined
  readonly force: boolean
  /** a tfjs LayersModel's model.json whose outputs (or `layer`'s) are the features of a Fréchet distance */
  readonly features: string | undefined
  readonly layer: string | undefined
  /** the real images that Fréchet distance compares with (folder or .npy) */
  readonly reference: string | undefined
  readonly range: InputRange
  readonly backend?: typeof BackendChoice.Type | undefined
  readonly quiet?: boolean
  /** where the MNIST classifier is cached and how it is trained (default: the project's) */
  readonly classifier?: ClassifierSource
  /** the texture exemplar to score against (default for a texture run: its data.path) */
  readonly exemplar?: string | undefined
  /** the exemplar's resize factor (default for a texture run: its data.scale, else 1) */
  readonly scale?: number | undefined
  /** texture runs: the side of the sampled images (default twice the training size) */
  readonly size?: number | undefined
}

/** A positive number flag (e.g. a scale factor), rejected with a message that names it. */
const positiveFlag = (name: string, description: string) =>
  Flag.String(name).pipe(
    Flag.withDescription(description),
    Flag.withMetavar("X"),
    Flag.mapEffect((raw) => {
      const x = Number(raw)
      return Number.isFinite(x) && x > 0
        ? Effect.succeed(x)
        : Effect.fail(
            new CliError.ValidationError({ message: `--${name} must be a number > 0, got "${raw}".` }),
          )
    }),
  )

export const evaluateCommand = Command.make(
  "evaluate",
  {
    location: Argument.String("run-dir|checkpoint-dir|folder|file.npy|mnist:test").pipe(
      Argument.withDescription(
        "samples drawn from a checkpoint, a folder of PNG/JPEG/WebP images, an .npy of N×H×W(×C) values in [0, 1], or the 1,000 held-out digits themselves (mnist:test)",
      ),
    ),
    n: intFlag(
      "n",
      1,
      `checkpoints: images to sample (default ${DEFAULT_EVALUATION_SAMPLES}); image sets: the first N`,
    ).pipe(Flag.optional),
    langevin: intFlag(
      "langevin",
      0,
      "checkpoints: descriptor Langevin steps after the generator (default: the run's langevin.steps, as sample)",
    ).pipe(Flag.optional),
    seed: intFlag("seed", 0, "checkpoints: the sampling seed").pipe(Flag.optional),
    sampler: choiceFlag(
      "sampler",
      ["generator", "chains"],
      'checkpoints: "generator": g(z); "chains": as the run\'s own chains and revise stages made its samples in training (noise + Langevin for the descriptor alone, g(z) for the generator alone, …); then --langevin steps. Default: "generator" for runs whose generator was taught, else "chains"',
      (raw) => `--sampler must be "generator" or "chains", got "${raw}".`,
    ).pipe(Flag.optional),
    weights: weightsFlag.pipe(Flag.optional),
    features: Flag.String("features").pipe(
      Flag.withDescription(
        "a tfjs LayersModel (model.json) whose outputs are the features of the Fréchet distance, for images other than MNIST digits",
      ),
      Flag.withMetavar("model.json"),
      Flag.optional,
    ),
    layer: Flag.String("layer").pipe(
      Flag.withDescription("with --features: the layer whose outputs are the features"),
      Flag.withMetavar("NAME"),
      Flag.optional,
    ),
    reference: Flag.String("reference").pipe(
      Flag.withDescription("with --features: the real images (a folder or an .npy)"),
      Flag.withMetavar("folder|npy"),
      Flag.optional,
    ),
    range: choiceFlag(
      "range",
      ["0,1", "-1,1"],
      "with --features: the pixel range the feature model reads",
      (raw) => `--range must be "0,1" (pixels fed to the feature model in [0, 1]) or "-1,1", got "${raw}".`,
    ).pipe(Flag.withDefault("0,1" as const)),
    exemplar: Flag.String("exemplar").pipe(
      Flag.withDescription(
        "score the images as textures against this exemplar image (a texture run's own exemplar by default), next to the floor of other crops of the exemplar",
      ),
      Flag.withMetavar("image"),
      Flag.optional,
    ),
    scale: positiveFlag(
      "scale",
      "with a texture: resize the exemplar by this factor first (default: a texture run's data.scale, else 1)",
    ).pipe(Flag.optional),
    size: intFlag(
      "size",
      1,
      "texture runs: the side of the sampled images (default twice the training size)",
    ).pipe(Flag.optional),
    out: outFlag(
      "the output directory (default <run-dir>/evaluation, <folder>-evaluation, <file>-evaluation)",
    ),
    force: forceFlag("overwrite the files of an existing output directory"),
  },
  invoke((a): EvaluateOptions & { readonly kind: "evaluate" } => ({
    kind: "evaluate",
    location: a.location,
    count: given(a.n),
    langevinSteps: given(a.langevin),
    seed: given(a.seed),
    sampler: given(a.sampler),
    weights: given(a.weights),
    outDir: given(a.out),
    force: a.force,
    features: given(a.features),
    layer: given(a.layer),
    reference: given(a.reference),
    range: a.range,
    exemplar: given(a.exemplar),
    scale: given(a.scale),
    size: given(a.size),
  })),
).pipe(
  Command.withDescription(
    "Sample quality. 28x28 grey images get the MNIST metrics of the project's classifier (trained once into .cache/mnist-classifier, or $COOPNETS_CLASSIFIER_DIR): Fréchet distance of its features to the held-out digits, Inception-score analogue, class histogram and entropy, fraction of copies of training digits, with real digits as a reference row. Textures (a texture run, or any images with --exemplar) get the texture measure: random-filter style distance, patch sliced Wasserstein distance, mean and contrast ratios, next to the floor of other crops of the exemplar. Writes evaluation.json and evaluation.md.",
  ),
  Command.annotate(
    UsageHint,
    "evaluate needs exactly one run or checkpoint directory, folder of images or .npy file, e.g. `node dist/run.js evaluate runs/mnist-quick --n 1000`.",
  ),
)

export interface EvaluationReport {
  readonly format: typeof EVALUATION_FORMAT
  readonly source: {
    readonly kind: "checkpoint" | "images"
    readonly path: string
    readonly count: number
    readonly shape: ReadonlyArray<number>
    readonly iteration?: number
    readonly langevinSteps?: number
    readonly seed?: number
    /** how the samples were drawn (`--sampler`) */
    readonly sampler?: Sampler
    /** which generator weights the samples were drawn with */
    readonly generatorWeights?: GeneratorWeights
  }
  readonly mnist?: {
    readonly classifier: {
      readonly dir: string
      readonly testAccuracy: number
      readonly trainSeconds: number
      readonly steps: number
    }
    /** nearest-training-digit distance below which an image counts as a copy ([0, 1] pixels) */
    readonly copyThreshold: number
    readonly samples: SampleQuality
    readonly realDigits: SampleQuality & { readonly frechetCount: number }
  }
  readonly texture?: TextureQuality
  readonly features?: {
    readonly model: string
    readonly layer: string | null
    readonly reference: {
      readonly path: string
      readonly count: number
      readonly shape: ReadonlyArray<number>
    }
    readonly dim: number
    readonly inputRange: InputRange
    readonly adapted: string | null
    readonly frechetDistance: number
  }
  /** video runs: the dynamic-texture measure */
  readonly video?: VideoEvaluation
  readonly skipped: ReadonlyArray<{ readonly metrics: string; readonly reason: string }>
}

export interface EvaluateResult {
  readonly outDir: string
  readonly report: EvaluationReport
  /** the Markdown of evaluation.md, also printed */
  readonly table: string
}

const MNIST_SHAPE = "28x28x1"
const shapeName = (s: ReadonlyArray<number>) => s.join("x")

/** A run directory or a checkpoint directory (as opposed to a folder of images). */
const isTrainedRun = (location: string) =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const has = (name: string) => fs.exists(path.join(location, name)).pipe(Effect.orElseSucceed(() => false))
    return (yield* has("checkpoint.json")) || (yield* has("checkpoints")) || (yield* has("config.json"))
  })

/** The output directory of an image set: `<folder>-evaluation`, `<file without .npy>-evaluation`. */
const claimOutDir = (location: string, outDir: string | undefined, force: boolean) => {
  const out = outDir ?? `${location.replace(/[/\\]+$/, "").replace(/\.npy$/i, "")}-evaluation`
  return claimOutputDir(out, { force, onForce: "overwrite" }).pipe(Effect.as(out))
}

interface Evaluated {
  readonly set: ImageSet
  readonly source: EvaluationReport["source"]
  readonly outDir: string
  /** the texture exemplar to score against, when there is one */
  readonly exemplar?: ExemplarSource
}

/** --exemplar and --scale, else a texture run's own exemplar. */
const exemplarOf = (o: EvaluateOptions, data?: PipelineSpec["data"]): ExemplarSource | undefined =>
  o.exemplar !== undefined
    ? { path: o.exemplar, scale: o.scale ?? (data?.source === "texture" ? data.scale : 1) }
    : data?.source === "texture"
      ? { path: data.path, scale: o.scale ?? data.scale }
      : undefined

/** The images to judge: sampled from a checkpoint, or read from a folder / .npy. */
const imagesToEvaluate = (o: EvaluateOptions, log: (line: string) => void) =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    if (o.location === MNIST_TEST_LOCATION) return yield* heldOutDigits(o, log)
    if (!(yield* fs.exists(o.location).pipe(Effect.orElseSucceed(() => false))))
      return yield* new DataError({
        message: `${o.location} does not exist. Pass a run or checkpoint directory, a folder of PNG images, or an .npy file of images in [0, 1].`,
      })
    if (yield* isTrainedRun(o.location)) {
      const run = yield* openTrainedRun(o.location, o.outDir, o.force, "evaluation")
      const spec = run.spec
      const exemplar = exemplarOf(o, spec.data)
      const texture = spec.data.source === "texture"
      if (o.size !== undefined && !texture)
        return yield* new UsageError({
          message: `--size applies to texture runs (fully convolutional nets); ${o.location} was trained on ${spec.data.source} images.`,
        })
      // Texture runs: fewer, larger samples (twice the training crops), revised as in training;
      // the descriptor alone's chains start from noise as they did in training.
      const count = o.count ?? (texture ? DEFAULT_TEXTURE_SAMPLES : DEFAULT_EVALUATION_SAMPLES)
      const sampler = o.sampler ?? defaultSampler(spec)
      // the chains sampler revises as training did: further steps only when asked
      const langevinSteps = o.langevinSteps ?? (sampler === "chains" && !texture ? 0 : spec.langevin.steps)
      const seed = o.seed ?? 0
      const shape = texture
        ? yield* sampleShape(spec, o.size ?? 2 * imageShapeOf(spec)[0])
        : imageShapeOf(spec)
      if (isVideoShape(shape))
        return yield* new DataError({ message: `${o.location} holds video nets; they are evaluated apart.` })
      yield* checkApplicable(shape, o, "samples", exemplar)
      // texture runs sampled as chains: from noise at the sampling size (the descriptor alone, as the 2016 model)
      const fromNoise = texture && sampler === "chains"
      log(
        `Sampling ${count} ${shapeName(shape)} images from ${run.checkpoint.dir}: ${fromNoise ? "chains from noise" : samplerDescription(spec, sampler)}, then langevin ${langevinSteps} (seed ${seed}) ...`,
      )
      const { images, weights } = yield* withTrainedModels(
        run,
        o.backend,
        o.quiet,
        (models, weights) => ({
          // pixels outside [-1, 1] (Langevin steps can overshoot) are clipped, as `sample` writes them and as
          // an image set is read: every source is scored on the same pixel range
          images: (fromNoise
            ? drawFromNoise(models, spec, count, langevinSteps, seed, shape)
            : drawSamples(models, spec, count, langevinSteps, seed, shape, undefined, sampler)
          ).map((v) => Math.min(1, Math.max(-1, v))),
          weights,
        }),
        o.weights ?? "average",
      )
      const evaluated: Evaluated = {
        set: { images, count, shape },
        source: {
          kind: "checkpoint",
          path: run.checkpoint.dir,
          count,
          shape,
          iteration: run.checkpoint.manifest.iteration,
          langevinSteps,
          seed,
          sampler,
          generatorWeights: weights,
        },
        outDir: run.outDir,
        ...(exemplar === undefined ? {} : { exemplar }),
      }
      return evaluated
    }
    if (
      o.langevinSteps !== undefined ||
      o.seed !== undefined ||
      o.size !== undefined ||
      o.weights !== undefined ||
      o.sampler !== undefined
    )
      return yield* new UsageError({
        message: `--langevin, --seed, --size, --weights and --sampler apply to sampling from a checkpoint; ${o.location} is a set of images.`,
      })
    if (o.scale !== undefined && o.exemplar === undefined)
      return yield* new UsageError({
        message: "--scale goes with --exemplar (the texture exemplar it resizes).",
      })
    const outDir = yield* claimOutDir(o.location, o.outDir, o.force)
    yield* useBackend(o.backend ?? "auto", o.quiet ? () => {} : log)
    const all = yield* readImageSet(o.location)
    if (o.count !== undefined && o.count > all.count)
      return yield* new UsageError({
        message: `--n ${o.count} asks for more images than ${o.location} holds (${all.count}); leave --n out to evaluate all of them.`,
      })
    const count = o.count ?? all.count
    const size = all.shape[0] * all.shape[1] * all.shape[2]
    const set: ImageSet = { ...all, images: all.images.subarray(0, count * size), count }
    const exemplar = exemplarOf(o)
    yield* checkApplicable(set.shape, o, "holds", exemplar)
    const evaluated: Evaluated = {
      set,
      source: { kind: "images", path: o.location, count, shape: set.shape },
      outDir,
      ...(exemplar === undefined ? {} : { exemplar }),
    }
    return evaluated
  })

/** `mnist:test`: the held-out digits (all, or N of them in a seeded order). */
const heldOutDigits = (o: EvaluateOptions, log: (line: string) => void) =>
  Effect.gen(function* () {
    if (
      o.langevinSteps !== undefined ||
      o.seed !== undefined ||
      o.weights !== undefined ||
      o.sampler !== undefined
    )
      return yield* new UsageError({
        message: `--langevin, --seed, --weights and --sampler apply to sampling from a checkpoint; ${MNIST_TEST_LOCATION} is a set of images.`,
      })
    if (o.count !== undefined && o.count > MNIST_HELD_OUT)
      return yield* new UsageError({
        message: `--n ${o.count} asks for more than the ${MNIST_HELD_OUT} held-out digits of ${MNIST_TEST_LOCATION}.`,
      })
    const outDir = yield* claimOutDir(o.outDir ?? "runs/mnist-test", undefined, o.force)
    yield* useBackend(o.backend ?? "auto", o.quiet ? () => {} : log)
    const count = o.count ?? MNIST_HELD_OUT
    const digits = yield* loadMnist(count, 0, "test")
    const evaluated: Evaluated = {
      set: { images: digits.images, count, shape: [28, 28, 1] },
      source: { kind: "images", path: MNIST_TEST_LOCATION, count, shape: digits.shape },
      outDir,
    }
    return evaluated
  })

/** Something must apply: the MNIST metrics (28x28x1), a feature model or a texture exemplar. */
const checkApplicable = (
  shape: ReadonlyArray<number>,
  o: EvaluateOptions,
  verb: string,
  exemplar: ExemplarSource | undefined,
) =>
  shapeName(shape) === MNIST_SHAPE || o.features !== undefined || exemplar !== undefined
    ? Effect.void
    : Effect.fail(
        new DataError({
          message: `${o.location} ${verb} ${shapeName(shape)} images; the MNIST metrics need 28x28 single-channel digits. For other images pass --features model.json (a tfjs LayersModel on disk) and --reference <folder|npy> of real images to compute the Fréchet distance on that model's features, or --exemplar IMAGE to score them as textures against that exemplar.`,
        }),
      )

const pct = (x: number) => `${(x * 100).toFixed(1)}%`
const num = (x: number, digits = 2) => x.toFixed(digits)

/** evaluation.md: the table, the class histograms and what each number means. */
export const markdown = (r: EvaluationReport): string => {
  const lines: Array<string> = [`# Sample quality of ${r.source.path}`, ""]
  const what =
    r.source.kind === "checkpoint"
      ? `${r.source.count} samples (iteration ${r.source.iteration}, langevin ${r.source.langevinSteps}, seed ${r.source.seed}${r.source.generatorWeights === "average" ? ", averaged generator weights" : ""})`
      : r.source.path
  if (r.mnist !== undefined) {
    const m = r.mnist
    const row = (name: string, n: string, q: SampleQuality) =>
      `| ${name} | ${n} | ${num(q.frechetDistance)} | ${num(q.inceptionScore)} | ${num(q.classEntropy, 3)} | ${pct(q.copyFraction)} | ${num(q.medianNearestTrainDistance)} |`
    lines.push(
      "| images | n | FD ↓ | IS ↑ | class entropy (nats) | copies | median distance to nearest train digit |",
      "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
      row(what, String(m.samples.count), m.samples),
      row(
        "real digits (held out; FD: train digits)",
        `${m.realDigits.count} (FD: ${m.realDigits.frechetCount})`,
        m.realDigits,
      ),
      "",
      "Class histograms (digits 0-9, by the classifier's most probable class):",
      "",
      "```",
      `evaluated    ${m.samples.classHistogram.map((c) => String(c).padStart(5)).join("")}`,
      `real digits  ${m.realDigits.classHistogram.map((c) => String(c).padStart(5)).join("")}`,
      "```",
      "",
      `- FD: squared Fréchet distance between Gaussians fitted to the MNIST classifier's 128-d penultimate features of the images and of the ${m.realDigits.count} held-out digits (as FID). The real-digits row uses ${m.realDigits.frechetCount} digits of the "train" split: the floor for this many images.`,
      "- IS: exp(E_x KL(p(y|x) ‖ p(y))) of the classifier's predictions, one split; 10 at best.",
      "- class entropy: of the class histogram, in nats (ln 10 = 2.303 when every digit is equally common).",
      `- copies: images closer (pixel L2, pixels in [0, 1]) to a "train" digit than ${num(m.copyThreshold, 3)}, the distance that ${pct(1 - COPY_QUANTILE)} of the held-out digits exceed. For the real digits row this is ${pct(COPY_QUANTILE)} by definition.`,
      `- classifier: ${m.classifier.dir}, ${pct(m.classifier.testAccuracy)} on the held-out digits (${m.classifier.steps} Adam steps, trained in ${m.classifier.trainSeconds} s).`,
      "",
    )
  }
  if (r.texture !== undefined) lines.push(...textureMarkdown(r.texture, what))
  if (r.features !== undefined) {
    const f = r.features
    lines.push(
      `Fréchet distance on the ${f.dim}-d features of ${f.model}${f.layer === null ? "" : ` (layer ${f.layer})`} between ${what} and ${f.reference.count} reference images (${f.reference.path}): **${num(f.frechetDistance, 3)}**.`,
      `Pixels were fed in [${f.inputRange}]${f.adapted === null ? "" : `; images ${f.adapted}`}.`,
      "",
    )
  }
  if (r.video !== undefined) lines.push(...videoMarkdown(r.video, what))
  for (const s of r.skipped) lines.push(`Skipped ${s.metrics}: ${s.reason}`, "")
  return `${lines.join("\n").trimEnd()}\n`
}

export const evaluate = (o: EvaluateOptions) =>
  Effect.gen(function* () {
    const path = yield* Path.Path
    const log = o.quiet ? () => {} : (line: string) => process.stderr.write(`${line}\n`)
    if (o.features === undefined && (o.reference !== undefined || o.layer !== undefined))
      return yield* new UsageError({
        message: "--reference and --layer go with --features model.json (a tfjs LayersModel on disk).",
      })
    if (o.features !== undefined && o.reference === undefined)
      return yield* new UsageError({
        message: `--features ${o.features} needs --reference <folder|npy>: the real images to compare with.`,
      })
    const videoRun = yield* videoRunAt(o)
    if (videoRun !== undefined) return yield* evaluateVideo(o, videoRun, log)
    const { set, source, outDir, exemplar } = yield* imagesToEvaluate(o, log)
    const skipped: Array<{ metrics: string; reason: string }> = []

    let mnist: EvaluationReport["mnist"]
    if (shapeName(set.shape) === MNIST_SHAPE) {
      if (set.count < 2)
        return yield* new DataError({
          message: `${o.location}: the metrics need at least 2 images (a covariance), got ${set.count}.`,
        })
      mnist = yield* Effect.scoped(
        Effect.gen(function* () {
          const classifier = yield* acquireClassifier(o.classifier ?? defaultClassifierSource(), log)
          const ref = yield* prepareMnistReference(classifier)
          return {
            classifier: {
              dir: classifier.dir,
              testAccuracy: classifier.manifest.testAccuracy,
              trainSeconds: classifier.manifest.trainSeconds,
              steps: classifier.manifest.settings.steps,
            },
            copyThreshold: ref.copyThreshold,
            samples: sampleQuality(ref, set.images, set.count),
            realDigits: realDigitsQuality(ref, set.count),
          }
        }),
      )
    } else if (exemplar === undefined)
      skipped.push({
        metrics: "the MNIST metrics (classifier FD, IS, class histogram and entropy, copy fraction)",
        reason: `the images are ${shapeName(set.shape)}; the MNIST classifier and the training digits are ${MNIST_SHAPE}.`,
      })

    const texture = exemplar === undefined ? undefined : yield* textureQuality(set, exemplar, source.path)

    let features: EvaluationReport["features"]
    if (o.features !== undefined && o.reference !== undefined) {
      const file = o.features
      const referencePath = o.reference
      const reference = yield* readImageSet(referencePath)
      if (reference.count < 2 || set.count < 2)
        return yield* new DataError({
          message: `The Fréchet distance needs at least 2 images on each side; got ${set.count} to evaluate and ${reference.count} in ${referencePath}.`,
        })
      features = yield* Effect.acquireUseRelease(
        loadFeatureModel(file, o.layer),
        (model) =>
          Effect.try({
            try: () => {
              const a = featuresOf(model, set, o.range)
              const b = featuresOf(model, reference, o.range)
              const adapted = [adaptation(model, set.shape), adaptation(model, reference.shape)]
              return {
                model: file,
                layer: o.layer ?? null,
                reference: { path: referencePath, count: reference.count, shape: reference.shape },
                dim: a.dim,
                inputRange: o.range,
                adapted:
                  adapted[0] === undefined && adapted[1] === undefined
                    ? null
                    : `evaluated: ${adapted[0] ?? "as they are"}; reference: ${adapted[1] ?? "as they are"}`,
                frechetDistance: frechetDistance(
                  fitGaussian(a.rows, set.count, a.dim),
                  fitGaussian(b.rows, reference.count, b.dim),
                ),
              }
            },
            catch: (e) =>
              e instanceof DataError
                ? e
                : new DataError({
                    message: `--features ${file}: computing the features failed (${(e as Error)?.message ?? String(e)}). Check that the model takes images of this kind.`,
                  }),
          }),
        (model) => Effect.sync(() => disposeFeatureModel(model)),
      )
    } else if (mnist !== undefined && exemplar === undefined)
      skipped.push({
        metrics: "the Fréchet distance on a user-supplied feature model",
        reason: "no --features model.json given (the MNIST classifier's features are used above).",
      })

    const report: EvaluationReport = {
      format: EVALUATION_FORMAT,
      source,
      ...(mnist === undefined ? {} : { mnist }),
      ...(texture === undefined ? {} : { texture }),
      ...(features === undefined ? {} : { features }),
      skipped,
    }
    return yield* writeReport(path, outDir, report)
  })

const writeReport = (path: Path.Path, outDir: string, report: EvaluationReport) =>
  Effect.gen(function* () {
    const table = markdown(report)
    const encode = (s: string) => new TextEncoder().encode(s)
    yield* writeAtomic(path.join(outDir, "evaluation.json"), encode(`${JSON.stringify(report, null, 2)}\n`))
    yield* writeAtomic(path.join(outDir, "evaluation.md"), encode(table))
    const result: EvaluateResult = { outDir, report, table }
    return result
  })

/** A trained run of video nets at `o.location`, or undefined (anything else is evaluated as images). */
const videoRunAt = (o: EvaluateOptions) =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    if (o.location === MNIST_TEST_LOCATION) return undefined
    if (!(yield* fs.exists(o.location).pipe(Effect.orElseSucceed(() => false)))) return undefined
    if (!(yield* isTrainedRun(o.location))) return undefined
    const run = yield* openTrainedRun(o.location, o.outDir, o.force, "evaluation")
    return isVideoShape(imageShapeOf(run.spec)) ? run : undefined
  })

/** Video runs: the dynamic-texture measure of N sampled clips against the observed clip, with its floor. */
const evaluateVideo = (o: EvaluateOptions, run: TrainedRun, log: (line: string) => void) =>
  Effect.gen(function* () {
    const path = yield* Path.Path
    if (o.features !== undefined)
      return yield* new UsageError({
        message: `--features applies to images; ${o.location} holds video nets, which get the dynamic-texture measure.`,
      })
    const count = o.count ?? DEFAULT_VIDEO_SAMPLES
    const langevinSteps = o.langevinSteps ?? 0
    const seed = o.seed ?? 0
    const shape = imageShapeOf(run.spec)
    log(`Sampling ${count} clips from ${run.checkpoint.dir} (langevin ${langevinSteps}, seed ${seed}) ...`)
    const video = yield* evaluateVideoRun(run, {
      count,
      langevinSteps,
      seed,
      backend: o.backend,
      quiet: o.quiet,
    })
    const report: EvaluationReport = {
      format: EVALUATION_FORMAT,
      source: {
        kind: "checkpoint",
        path: run.checkpoint.dir,
        count,
        shape,
        iteration: run.checkpoint.manifest.iteration,
        langevinSteps,
        seed,
      },
      video,
      skipped: [
        {
          metrics: "the MNIST metrics and the Fréchet distance on a feature model",
          reason: `the samples are ${shapeName(shape)} videos.`,
        },
      ],
    }
    return yield* writeReport(path, run.outDir, report)
  })

export type EvaluateInvocation = EvaluateOptions & { readonly kind: "evaluate" }
