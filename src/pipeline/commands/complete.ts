/**
 * `complete` mode (Exp 6 of the paper): occlude images, recover the hidden
 * pixels with a trained run, and score the recovery against two baselines on
 * the same images and masks. For each mask writes `<mask>/triplets.png`
 * (original / occluded / recovered), `<mask>/comparison.png` (plus the two
 * baselines' fills) and `<mask>/{original,occluded,recovered,masks}.npy`
 * (float32 in [0, 1]); then `report.md` and `report.json` for all masks.
 */

import { existsSync, readFileSync } from "node:fs"
import * as tf from "@tensorflow/tfjs-core"
import { Effect, Path } from "effect"
import { Argument, Command } from "effect/cli"
import { CLASSIFIER_CLASSES, classify } from "../../models/classifier.js"
import { complete, encodedBank, type LatentBank, latentBank, latentBankOf } from "../../models/completion.js"
import { meanFill, nearestNeighbourFill } from "../../models/completion-baselines.js"
import { type CompletionScores, meanScores, scoreImages, toUnit } from "../../models/completion-metrics.js"
import { hiddenFraction, squareMasks } from "../../models/masks.js"
import { type ImageShape, isVideoShape } from "../../models/nets.js"
import { foldIn, permutation, rootKey } from "../../models/random.js"
import type { Dataset } from "../../stages/load.js"
import type { ModelsShape } from "../../stages/models.js"
import type { CompletionSpec, MaskSpec } from "../config/completion-spec.js"
import { maskName } from "../config/completion-spec.js"
import { imageShapeOf, latentSizeOf, netSpecsOf } from "../config/shapes.js"
import type { BackendChoice, PipelineSpec } from "../config/spec.js"
import { loadDataset } from "../data/dataset.js"
import { decodeImage } from "../data/decode.js"
import { loadFolder } from "../data/folder.js"
import { readNpyImages } from "../data/image-sets.js"
import { loadMnistSplit, MNIST_HELD_OUT } from "../data/mnist.js"
import { ConfigError, DataError, UsageError } from "../errors.js"
import {
  acquireClassifier,
  type ClassifierSource,
  defaultClassifierSource,
  type LoadedClassifier,
} from "../evaluation/mnist-classifier.js"
import { openTrainedRun, withTrainedModelsEffect } from "../nets/trained.js"
import { decodeNpy, encodeNpy, encodePng, tile } from "../run-dir/image-files.js"
import * as WriterLayer from "../run-dir/writer.js"
import { fileJob, Writer, type WriterShape } from "../run-dir/writer.js"
import { forceFlag, given, invoke, outFlag, setFlag, UsageHint } from "./flags.js"

export const completeCommand = Command.make(
  "complete",
  {
    file: Argument.String("completion.json").pipe(
      Argument.withDescription("the completion file (see config/mnist-completion.json)"),
    ),
    set: setFlag("a completion field, e.g. --set inference.restarts=5 (repeatable)"),
    out: outFlag("the output directory (default <run-dir>/completed)"),
    force: forceFlag("overwrite the files of an existing output directory"),
  },
  invoke((a) => ({
    kind: "complete" as const,
    file: a.file,
    overrides: a.set,
    outDir: given(a.out),
    force: a.force,
  })),
).pipe(
  Command.withDescription(
    "Pattern completion: hide part of each image (square masks, centred or at seeded random positions, or a mask image), infer z from the visible pixels (restarts × Langevin steps, the best fit kept), optionally refine the hidden pixels with descriptor Langevin, and score the recovery (MAE on the hidden pixels and the whole image, PSNR) against the mean-of-visible fill and the nearest training image. Writes <mask>/triplets.png, comparison.png, {original,occluded,recovered,masks}.npy and report.md/json.",
  ),
  Command.annotate(
    UsageHint,
    "complete needs exactly one completion file, e.g. `node dist/run.js complete config/mnist-completion.json`.",
  ),
)

export interface CompleteOptions {
  readonly spec: CompletionSpec
  /** the completion file, for messages */
  readonly source: string
  readonly outDir: string | undefined
  readonly force: boolean
  readonly backend?: typeof BackendChoice.Type | undefined
  readonly quiet?: boolean
  /** where the MNIST classifier of the class-agreement column is cached and how it is trained (default: the project's) */
  readonly classifier?: ClassifierSource
}

/** Descriptor refinement of the hidden pixels: the completion file's settings, its step size defaulting to the run's. */
export const refinementOf = (spec: CompletionSpec, run: PipelineSpec) => ({
  steps: spec.refine.steps,
  stepSize: spec.refine.stepSize ?? run.langevin.stepSize,
})

export type Method = "coopnets" | "generator" | "meanFill" | "nearestNeighbour"

export const METHOD_LABELS: Readonly<Record<Method, string>> = {
  coopnets: "CoopNets",
  generator: "generator only (before refinement)",
  meanFill: "mean of visible pixels",
  nearestNeighbour: "nearest training image",
}

/** A method's scores: the pixel errors, and for 28x28 grey images its class agreement. */
export type MethodScores = CompletionScores & {
  /** fraction of images whose completion the MNIST classifier labels as it labels the original */
  readonly classAgreement?: number
}

export interface MaskReport {
  readonly name: string
  readonly hiddenFraction: number
  readonly scores: Partial<Record<Method, MethodScores>>
  /** CoopNets has the lower hidden-pixel MAE than the baseline */
  readonly beats: { readonly meanFill: boolean; readonly nearestNeighbour: boolean }
  /** 28x28 grey images: CoopNets has the higher class agreement than the baseline */
  readonly beatsOnClasses?: { readonly meanFill: boolean; readonly nearestNeighbour: boolean }
}

export interface CompletionReport {
  readonly checkpoint: string
  readonly iteration: number
  readonly images: string
  readonly count: number
  readonly inference: CompletionSpec["inference"]
  /** the refinement as run: the step size is the completion file's, else the trained run's langevin.stepSize */
  readonly refine: { readonly steps: number; readonly stepSize: number }
  readonly masks: ReadonlyArray<MaskReport>
  readonly seconds: number
}

export interface CompleteResult {
  readonly outDir: string
  readonly report: CompletionReport
  readonly table: string
}

/** The images to complete, [-1, 1] NHWC, and a phrase naming them. */
const loadImages = (spec: CompletionSpec, run: PipelineSpec, source: string) =>
  Effect.gen(function* () {
    const [h, w, c] = imageShapeOf(run)
    const images = spec.images
    const take = (d: Dataset, what: string) =>
      d.count < images.count
        ? Effect.fail(
            new DataError({
              message: `${source}: images.count is ${images.count} but there are ${d.count} ${what}; lower images.count.`,
            }),
          )
        : Effect.succeed({ images: d.images.slice(0, images.count * h * w * c), what })
    switch (images.source) {
      case "held-out": {
        if (run.data.source !== "mnist")
          return yield* new UsageError({
            message: `${source}: images.source "held-out" means the held-out MNIST digits, but ${spec.checkpoint} was trained on data.source "${run.data.source}"; use images.source "folder" or "npy".`,
          })
        // a seeded order, so the first images shown are of every class (the split is stored 0s first)
        const all = yield* loadMnistSplit("test")
        const order = permutation(foldIn(rootKey(spec.seed), "held-out"), all.count)
        const shuffled = new Float32Array(all.images.length)
        order.forEach((j, i) => {
          shuffled.set(all.images.subarray(j * h * w * c, (j + 1) * h * w * c), i * h * w * c)
        })
        return yield* take({ ...all, images: shuffled }, `held-out MNIST digits (of ${MNIST_HELD_OUT})`)
      }
      case "folder": {
        const d = yield* loadFolder(
          {
            source: "folder",
            path: images.path,
            size: h,
            channels: c as 1 | 3,
            normalize: "linear",
            strict: true,
          },
          () => {},
        )
        return yield* take(d, `images in folder ${images.path}`)
      }
      case "npy": {
        const set = yield* readNpyImages(images.path)
        if (set.shape.join("x") !== `${h}x${w}x${c}`)
          return yield* new DataError({
            message: `${source}: images.path ${images.path} holds ${set.shape.join("x")} images, but ${spec.checkpoint} makes ${h}x${w}x${c} images; save N×${h}×${w}${c === 1 ? "" : `×${c}`} float32 values in [0, 1].`,
          })
        return yield* take({ ...set, labels: new Int32Array(set.count) }, `images in ${images.path}`)
      }
    }
  })

/** Masks [count, h, w] for one mask spec: 1 visible, 0 hidden. */
const buildMasks = (
  mask: MaskSpec,
  index: number,
  count: number,
  image: ImageShape,
  seed: number,
  source: string,
) =>
  Effect.gen(function* () {
    const [h, w] = image
    if (mask.kind === "square") {
      if (mask.size >= Math.min(h, w))
        return yield* new ConfigError({
          message: `${source}: masks[${index}].size is ${mask.size}, but the images are ${h}x${w}; a square mask must be smaller than the image (e.g. ${Math.round(h / 2)}).`,
        })
      return squareMasks(
        count,
        h,
        w,
        mask.size,
        mask.position ?? "center",
        foldIn(rootKey(seed), "masks", index),
      )
    }
    const raw = yield* Effect.tryPromise({
      try: () => decodeImage(mask.path, { channels: 1 }),
      catch: () =>
        new DataError({
          message: `${source}: masks[${index}].path ${mask.path} cannot be read as an image; give a PNG with white (visible) and black (hidden) pixels.`,
        }),
    })
    if (raw.width !== w || raw.height !== h)
      return yield* new DataError({
        message: `${source}: masks[${index}].path ${mask.path} is ${raw.width}x${raw.height}, but the images are ${w}x${h}; draw the mask at the images' size.`,
      })
    const one = Float32Array.from(raw.pixels, (p) => (p >= 128 ? 1 : 0))
    if (!one.includes(0))
      return yield* new DataError({
        message: `${source}: masks[${index}].path ${mask.path} hides no pixel (all white); paint the region to recover black.`,
      })
    const masks = new Float32Array(count * h * w)
    for (let i = 0; i < count; i++) masks.set(one, i * h * w)
    return masks
  })

const netsOf = (models: ModelsShape, run: PipelineSpec, image: ImageShape) => {
  const nets = netSpecsOf(run, image)
  return {
    generator: { spec: nets.generator, params: models.generator.params },
    descriptor: { spec: nets.descriptor, params: models.descriptor.params },
  }
}

const batchSizeOf = (spec: CompletionSpec, run: PipelineSpec) => spec.batchSize || run.training.chains

/** What the encoded training images depend on besides the checkpoint, for the cache's name. */
const encodingKey = (spec: CompletionSpec, run: PipelineSpec) =>
  `s${spec.inference.encodeSteps}-d${spec.inference.stepSize}-sigma${spec.inference.sigma ?? run.generatorSigma}-bank${spec.inference.bank}-seed${spec.seed}`

/**
 * The run's training images encoded by the generator (inference.starts
 * "training"): their latent vectors read from `file` (in the checkpoint's
 * directory) when an earlier call cached them for the same settings, else
 * inferred (12 minutes for 9,000 digits at one thread) and cached there.
 */
const trainingBank = (
  generator: ReturnType<typeof netsOf>["generator"],
  zDim: number,
  run: PipelineSpec,
  spec: CompletionSpec,
  training: Dataset,
  image: ImageShape,
  samples: LatentBank | undefined,
  out: { readonly file: string; readonly log: (line: string) => void; readonly writer: WriterShape },
) =>
  Effect.gen(function* () {
    const batch = batchSizeOf(spec, run)
    // a cache of another shape, or one that cannot be read, is encoded again (and replaced)
    const exists = existsSync(out.file)
    const cached = yield* Effect.try(() => {
      if (!exists) return undefined
      const npy = decodeNpy(readFileSync(out.file))
      return npy.shape.length === 2 && npy.shape[0] === training.count && npy.shape[1] === zDim
        ? npy.values
        : undefined
    }).pipe(Effect.orElseSucceed(() => undefined))
    if (cached === undefined && exists)
      out.log(`[complete] ${out.file} does not hold ${training.count}x${zDim} latent vectors; encoding again`)
    if (cached !== undefined) {
      out.log(`[complete] the encoded training images read from ${out.file}`)
      return latentBankOf(generator, tf.tensor2d(cached, [training.count, zDim]), batch)
    }
    out.log(
      `[complete] encoding the ${training.count} training images (${spec.inference.encodeSteps} gradient steps each${samples === undefined ? "" : `, from the best of ${spec.inference.bank} samples`}) …`,
    )
    const started = performance.now()
    const [h, w, c] = image
    const bank = encodedBank(
      generator,
      training.images,
      [h, w, c],
      training.count,
      zDim,
      batch,
      {
        ...spec.inference,
        restarts: 1,
        steps: spec.inference.encodeSteps,
        noise: false,
        anneal: false,
        sigma: spec.inference.sigma ?? run.generatorSigma,
      },
      foldIn(rootKey(spec.seed), "encode"),
      samples,
    )
    const z = bank.z.dataSync() as Float32Array
    yield* out.writer.submit(fileJob(out.file, () => encodeNpy(z, [training.count, zDim])))
    out.log(
      `[complete] encoded them in ${((performance.now() - started) / 1000).toFixed(0)} s; cached in ${out.file}`,
    )
    return bank
  })

/**
 * The model's completions of every image under one set of masks, in batches of about `batch`,
 * yielding to the event loop between batches (a signal stops the command there).
 */
const completeAll = (
  models: ModelsShape,
  run: PipelineSpec,
  spec: CompletionSpec,
  images: Float32Array,
  masks: Float32Array,
  maskIndex: number,
  image: ImageShape,
  bank: LatentBank | undefined,
) =>
  Effect.gen(function* () {
    const [h, w, c] = image
    const count = spec.images.count
    const { generator, descriptor } = netsOf(models, run, image)
    // equal batches near the training batch size: batch norm uses batch statistics
    const batches = Math.ceil(count / batchSizeOf(spec, run))
    const completed = new Float32Array(count * h * w * c)
    const generated = new Float32Array(count * h * w * c)
    const key = foldIn(rootKey(spec.seed), "complete", maskIndex)
    for (let b = 0; b < batches; b++) {
      yield* Effect.yieldNow
      const first = Math.floor((b * count) / batches)
      const last = Math.floor(((b + 1) * count) / batches)
      const m = last - first
      const [done, drafted] = tf.tidy(() => {
        const observed = tf.tensor4d(images.subarray(first * h * w * c, last * h * w * c), [m, h, w, c])
        const mask = tf.tensor4d(masks.subarray(first * h * w, last * h * w), [m, h, w, 1])
        const result = complete(
          generator,
          descriptor,
          observed,
          mask,
          latentSizeOf(run, image),
          { ...spec.inference, sigma: spec.inference.sigma ?? run.generatorSigma },
          { ...run.langevin, ...refinementOf(spec, run) },
          foldIn(key, b),
          bank,
        )
        return [result.completed, result.generated] as const
      })
      completed.set(done.dataSync() as Float32Array, first * h * w * c)
      generated.set(drafted.dataSync() as Float32Array, first * h * w * c)
      tf.dispose([done, drafted])
    }
    return { completed, generated }
  })

/** The images with their hidden pixels taken from `fill` (a number: that value, e.g. 0 = mid-grey for display). */
const replaceHidden = (
  images: Float32Array,
  masks: Float32Array,
  channels: number,
  fill: Float32Array | number,
): Float32Array =>
  images.map((v, i) =>
    masks[Math.floor(i / channels)] === 0 ? (typeof fill === "number" ? fill : (fill[i] as number)) : v,
  )

const fmt = (v: number, digits = 4) => v.toFixed(digits)

export const reportTable = (report: CompletionReport): string => {
  const lines = [
    `Completion of ${report.count} ${report.images} by ${report.checkpoint} (iteration ${report.iteration}); z inferred by ${report.inference.restarts} restart${report.inference.restarts === 1 ? "" : "s"}${report.inference.starts === "training" ? ` (from the best fits among the encoded training images)` : report.inference.bank > 0 ? ` (from the best fits among ${report.inference.bank} generator samples)` : ""} × ${report.inference.steps} ${report.inference.anneal ? "annealed " : ""}${report.inference.noise ? "Langevin" : "gradient-descent"} steps${report.inference.average > 1 ? `, the fill the pixelwise ${report.inference.combine} over the ${report.inference.average} best restarts` : ""}${report.refine.steps > 0 ? `, then ${report.refine.steps} descriptor Langevin steps on the hidden pixels` : ""}. Pixels in [0, 1].`,
    "",
    "| mask | hidden | method | MAE hidden | MAE whole | PSNR (dB) | class agreement |",
    "|---|---|---|---|---|---|---|",
  ]
  for (const m of report.masks) {
    let first = true
    for (const [method, s] of Object.entries(m.scores) as Array<[Method, MethodScores]>) {
      const agreement = s.classAgreement === undefined ? "–" : `${(s.classAgreement * 100).toFixed(1)}%`
      lines.push(
        `| ${first ? m.name : ""} | ${first ? `${(m.hiddenFraction * 100).toFixed(1)}%` : ""} | ${METHOD_LABELS[method]} | ${fmt(s.hiddenMae)} | ${fmt(s.wholeMae)} | ${s.psnr.toFixed(2)} | ${agreement} |`,
      )
      first = false
    }
  }
  lines.push("")
  const beats = (b: boolean) => (b ? "beats" : "does not beat")
  for (const m of report.masks)
    lines.push(
      `- ${m.name}: CoopNets ${beats(m.beats.meanFill)} the mean fill and ${beats(m.beats.nearestNeighbour)} the nearest training image on the hidden pixels' MAE${m.beatsOnClasses === undefined ? "" : `; on class agreement it ${beats(m.beatsOnClasses.meanFill)} the mean fill and ${beats(m.beatsOnClasses.nearestNeighbour)} the nearest training image`}.`,
    )
  if (report.masks.some((m) => m.beatsOnClasses !== undefined))
    lines.push(
      "",
      "Class agreement: the fraction of images whose completion the project's MNIST classifier (the one `evaluate` uses) puts in the class it gives the original image.",
    )
  return `${lines.join("\n")}\n`
}

export const completeRun = (o: CompleteOptions) =>
  Effect.gen(function* () {
    const path = yield* Path.Path
    const started = performance.now()
    const spec = o.spec
    const run = yield* openTrainedRun(spec.checkpoint, o.outDir, o.force, "completed")
    const image = imageShapeOf(run.spec)
    if (isVideoShape(image))
      return yield* new UsageError({
        message: `${o.source}: ${spec.checkpoint} holds video nets (model.arch "${run.spec.model.arch}"); complete recovers occluded images. Use it with a run trained on images.`,
      })
    const [h, w, c] = image
    if (run.spec.model.arch === "mnistConditional")
      return yield* new UsageError({
        message: `${o.source}: ${spec.checkpoint} holds class-conditional nets; complete infers z for unconditional generators only. Train with model.arch "mnist".`,
      })
    const log = o.quiet ? () => {} : (line: string) => process.stderr.write(`${line}\n`)
    if (
      spec.images.source === "held-out" &&
      run.spec.data.source === "mnist" &&
      run.spec.data.split === "all"
    )
      log(
        `warning: ${spec.checkpoint} was trained with data.split "all", so the held-out digits were in its training set.`,
      )
    const { images, what } = yield* loadImages(spec, run.spec, o.source)
    const training = yield* loadDataset(run.spec.data, { seed: run.spec.seed, batchSize: 1, warn: () => {} })
    const count = spec.images.count
    const truth = toUnit(images)
    const writer = yield* Writer
    const reports: Array<MaskReport> = []
    // every mask is checked before any inference; the nets are restored once for all of them
    const maskSets = yield* Effect.forEach(spec.masks, (maskSpec, index) =>
      buildMasks(maskSpec, index, count, image, spec.seed, o.source),
    )
    const completions = yield* withTrainedModelsEffect(run, o.backend, true, (models) =>
      Effect.gen(function* () {
        const generator = netsOf(models, run.spec, image).generator
        const zDim = latentSizeOf(run.spec, image)
        // one bank of the generator's samples serves every mask
        const samples =
          spec.inference.bank > 0
            ? latentBank(
                generator,
                zDim,
                spec.inference.bank,
                batchSizeOf(spec, run.spec),
                foldIn(rootKey(spec.seed), "complete"),
              )
            : undefined
        const bank =
          spec.inference.starts === "training"
            ? yield* trainingBank(generator, zDim, run.spec, spec, training, image, samples, {
                // derived from these weights: cached beside them
                file: path.join(run.checkpoint.dir, `encoded-training-${encodingKey(spec, run.spec)}.npy`),
                log,
                writer,
              })
            : samples
        if (samples !== undefined && bank !== samples)
          tf.dispose([samples.z, samples.images, samples.squared])
        const from =
          bank === undefined
            ? ""
            : spec.inference.starts === "training"
              ? ` from the best of ${training.count} encoded training images`
              : ` from the best of ${spec.inference.bank} samples`
        return yield* Effect.forEach(maskSets, (masks, index) =>
          Effect.sync(() =>
            log(
              `[complete] ${maskName(spec.masks[index] as MaskSpec)}: ${count} images, ${spec.inference.restarts}×${spec.inference.steps} z steps${from} …`,
            ),
          ).pipe(Effect.andThen(completeAll(models, run.spec, spec, images, masks, index, image, bank))),
        ).pipe(
          Effect.ensuring(
            Effect.sync(() => {
              if (bank !== undefined) tf.dispose([bank.z, bank.images, bank.squared])
            }),
          ),
        )
      }),
    )
    // 28x28 grey images: the MNIST classifier labels the originals and every completion
    const classifier =
      spec.classAgreement && h === 28 && w === 28 && c === 1
        ? yield* acquireClassifier(o.classifier ?? defaultClassifierSource(), log)
        : undefined
    const labelsOf =
      classifier === undefined ? undefined : (values: Float32Array) => mostProbable(classifier, values, count)
    const originalLabels = labelsOf?.(images)
    const agreement = (labels: Int32Array) =>
      labels.reduce((n, label, i) => n + (label === originalLabels?.[i] ? 1 : 0), 0) / count
    for (const [index, maskSpec] of spec.masks.entries()) {
      const name = maskName(maskSpec)
      const masks = maskSets[index] as Float32Array
      const { completed, generated } = completions[index] as (typeof completions)[number]
      const fills: Partial<Record<Method, Float32Array>> = {
        coopnets: completed,
        ...(spec.refine.steps > 0 ? { generator: replaceHidden(images, masks, c, generated) } : {}),
        meanFill: meanFill(images, masks, count, c),
        nearestNeighbour: nearestNeighbourFill(images, masks, count, training.images, training.count, c),
      }
      const scores = Object.fromEntries(
        Object.entries(fills).map(([method, fill]): [string, MethodScores] => {
          const pixels = meanScores(scoreImages(truth, toUnit(fill), masks, count, c))
          return [
            method,
            labelsOf === undefined ? pixels : { ...pixels, classAgreement: agreement(labelsOf(fill)) },
          ]
        }),
      ) as Partial<Record<Method, MethodScores>>
      const ours = scores.coopnets as MethodScores
      const other = (method: Method) => scores[method] as MethodScores
      reports.push({
        name,
        hiddenFraction: hiddenFraction(masks),
        scores,
        beats: {
          meanFill: ours.hiddenMae < other("meanFill").hiddenMae,
          nearestNeighbour: ours.hiddenMae < other("nearestNeighbour").hiddenMae,
        },
        ...(labelsOf === undefined
          ? {}
          : {
              beatsOnClasses: {
                meanFill: (ours.classAgreement as number) > (other("meanFill").classAgreement as number),
                nearestNeighbour:
                  (ours.classAgreement as number) > (other("nearestNeighbour").classAgreement as number),
              },
            }),
      })
      const occluded = replaceHidden(images, masks, c, 0)
      const shown = Math.min(spec.show, count)
      const rows = (sets: ReadonlyArray<Float32Array>) => {
        const out = new Float32Array(sets.length * shown * h * w * c)
        sets.forEach((set, r) => {
          out.set(set.subarray(0, shown * h * w * c), r * shown * h * w * c)
        })
        return out
      }
      const at = (file: string) => path.join(run.outDir, name, file)
      const triplets = rows([images, occluded, completed])
      const comparison = rows([
        images,
        occluded,
        completed,
        fills.nearestNeighbour as Float32Array,
        fills.meanFill as Float32Array,
      ])
      yield* writer.submit(
        fileJob(at("triplets.png"), () => encodePng(tile(triplets, 3 * shown, image, shown))),
      )
      yield* writer.submit(
        fileJob(at("comparison.png"), () => encodePng(tile(comparison, 5 * shown, image, shown))),
      )
      const shape = c === 1 ? [count, h, w] : [count, h, w, c]
      for (const [file, values] of [
        ["original.npy", truth],
        ["occluded.npy", toUnit(occluded)],
        ["recovered.npy", toUnit(completed)],
      ] as const)
        yield* writer.submit(fileJob(at(file), () => encodeNpy(values, shape)))
      yield* writer.submit(fileJob(at("masks.npy"), () => encodeNpy(masks, [count, h, w])))
    }
    const report: CompletionReport = {
      checkpoint: run.checkpoint.dir,
      iteration: run.checkpoint.manifest.iteration,
      images: what,
      count,
      inference: spec.inference,
      refine: refinementOf(spec, run.spec),
      masks: reports,
      seconds: Math.round((performance.now() - started) / 100) / 10,
    }
    const table = reportTable(report)
    const encoder = new TextEncoder()
    yield* writer.submit(fileJob(path.join(run.outDir, "report.md"), () => encoder.encode(table)))
    yield* writer.submit(
      fileJob(path.join(run.outDir, "report.json"), () =>
        encoder.encode(`${JSON.stringify({ spec, ...report }, null, 2)}\n`),
      ),
    )
    yield* writer.flush
    const result: CompleteResult = { outDir: run.outDir, report, table }
    return result
  }).pipe(Effect.scoped, Effect.provide(WriterLayer.layer(8)))

/** The classifier's most probable class of each of `count` 28x28 images in [-1, 1]. */
const mostProbable = (classifier: LoadedClassifier, images: Float32Array, count: number): Int32Array => {
  const { probabilities } = classify(classifier.classifier, images, count)
  return Int32Array.from({ length: count }, (_, i) => {
    const p = probabilities.subarray(i * CLASSIFIER_CLASSES, (i + 1) * CLASSIFIER_CLASSES)
    return p.indexOf(Math.max(...p))
  })
}

export type CompleteInvocation = {
  readonly kind: "complete"
  /** the completion file */
  readonly file: string
  readonly overrides: ReadonlyArray<string>
  readonly outDir: string | undefined
  readonly force: boolean
}
