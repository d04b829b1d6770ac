/**
 * A user-supplied feature extractor for the Fréchet distance on images that
 * are not MNIST digits: a tfjs LayersModel saved on disk (`model.json` plus
 * its weight files, as `model.save("file://…")` or `tensorflowjs_converter
 * --output_format tfjs_layers_model` write them). Read with the file system
 * and `tf.io.fromMemory`: nothing is fetched from the network.
 */
import * as nodePath from "node:path"
import { model as functionalModel, type LayersModel, loadLayersModel } from "@tensorflow/tfjs"
import * as tf from "@tensorflow/tfjs-core"
import { Effect, FileSystem } from "effect"
import type { ImageSet } from "../data/image-sets.js"
import { DataError } from "../errors.js"

/** How pixels in [-1, 1] are handed to the model: "0,1" rescales them to [0, 1], "-1,1" leaves them. */
export type InputRange = "0,1" | "-1,1"

export interface FeatureModel {
  readonly model: LayersModel
  /** the layer whose output is the feature vector (default: the model's output) */
  readonly layer: string | undefined
  /** one example's input shape, e.g. [299, 299, 3] or [784] */
  readonly inputShape: ReadonlyArray<number>
  readonly file: string
}

interface ModelJson {
  readonly format?: string
  readonly modelTopology?: unknown
  readonly weightsManifest?: ReadonlyArray<{
    readonly paths: ReadonlyArray<string>
    readonly weights: ReadonlyArray<tf.io.WeightsManifestEntry>
  }>
}

/** Loads `file` (model.json) and the weight files it names; `layer` picks an inner layer's output as the features. */
export const loadFeatureModel = (
  file: string,
  layer: string | undefined,
): Effect.Effect<FeatureModel, DataError, FileSystem.FileSystem> =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const fail = (why: string) => new DataError({ message: `--features ${file}: ${why}` })
    const text = yield* fs
      .readFileString(file)
      .pipe(
        Effect.mapError(() =>
          fail("no such file or not readable. Pass the model.json of a tfjs LayersModel."),
        ),
      )
    const json = yield* Effect.try({
      try: () => JSON.parse(text) as ModelJson,
      catch: () => fail("is not valid JSON. Pass the model.json of a tfjs LayersModel."),
    })
    if (json.format === "graph-model")
      return yield* fail(
        "is a tfjs graph model; --features needs a LayersModel (convert with `tensorflowjs_converter --output_format tfjs_layers_model`).",
      )
    if (json.modelTopology === undefined || json.weightsManifest === undefined)
      return yield* fail("has no modelTopology or weightsManifest; it is not a saved tfjs LayersModel.")
    const manifest = json.weightsManifest
    const dir = nodePath.dirname(file)
    const parts: Array<Uint8Array> = []
    for (const group of manifest)
      for (const p of group.paths) {
        const weightsFile = nodePath.join(dir, p)
        parts.push(
          yield* fs
            .readFile(weightsFile)
            .pipe(Effect.mapError(() => fail(`names the weight file ${weightsFile}, which cannot be read.`))),
        )
      }
    const total = parts.reduce((n, p) => n + p.byteLength, 0)
    const weightData = new Uint8Array(total)
    let offset = 0
    for (const p of parts) {
      weightData.set(p, offset)
      offset += p.byteLength
    }
    const loaded = yield* Effect.tryPromise({
      try: () =>
        loadLayersModel(
          tf.io.fromMemory({
            modelTopology: json.modelTopology as tf.io.ModelArtifacts["modelTopology"],
            weightSpecs: manifest.flatMap((g) => g.weights),
            weightData: weightData.buffer,
          }),
        ),
      catch: (e) => fail(`cannot be loaded as a tfjs LayersModel (${String((e as Error)?.message ?? e)}).`),
    })
    const inputs = loaded.inputs
    if (inputs.length !== 1) {
      loaded.dispose()
      return yield* fail(`has ${inputs.length} inputs; a feature model takes one batch of images.`)
    }
    if (layer !== undefined && !loaded.layers.some((l) => l.name === layer)) {
      const names = loaded.layers.map((l) => l.name)
      loaded.dispose()
      return yield* fail(`has no layer named "${layer}"; its layers are ${names.join(", ")}.`)
    }
    const inputShape = (inputs[0] as (typeof inputs)[number]).shape.slice(1)
    if (inputShape.some((d) => d === null) || (inputShape.length !== 1 && inputShape.length !== 3)) {
      loaded.dispose()
      return yield* fail(
        `takes inputs of shape [${inputShape.map((d) => d ?? "?").join(", ")}]; a feature model must take images of a fixed H×W×C or flattened vectors of a fixed length.`,
      )
    }
    const result: FeatureModel = { model: loaded, layer, inputShape: inputShape as Array<number>, file }
    return result
  })

export const disposeFeatureModel = (m: FeatureModel): void => {
  m.model.dispose()
}

/** What `featuresOf` does to the images to fit the model, in words (for the report); undefined: nothing. */
export const adaptation = (m: FeatureModel, shape: readonly [number, number, number]): string | undefined => {
  const [h, w, c] = shape
  if (m.inputShape.length === 1) return undefined
  const [mh, mw, mc] = m.inputShape as [number, number, number]
  const steps = [
    ...(h !== mh || w !== mw ? [`resized bilinearly from ${h}x${w} to ${mh}x${mw}`] : []),
    ...(c !== mc ? [c === 1 ? "grey repeated to 3 channels" : "RGB averaged to grey"] : []),
  ]
  return steps.length === 0 ? undefined : steps.join(", ")
}

/**
 * The model's (or the chosen layer's) output for every image, flattened to
 * one row per image. Images are resized and their channels converted to fit
 * an image input; a vector input must hold exactly H·W·C values.
 */
export const featuresOf = (
  m: FeatureModel,
  set: ImageSet,
  range: InputRange,
  batch = 64,
): { readonly rows: Float32Array; readonly dim: number } => {
  const [h, w, c] = set.shape
  const size = h * w * c
  if (m.inputShape.length === 1 && m.inputShape[0] !== size)
    throw new DataError({
      message: `--features ${m.file} takes vectors of ${m.inputShape[0]} values but the images are ${h}x${w}x${c} (${size} values).`,
    })
  if (m.inputShape.length === 3 && m.inputShape[2] !== 1 && m.inputShape[2] !== 3)
    throw new DataError({
      message: `--features ${m.file} takes images with ${m.inputShape[2]} channels; only 1 or 3 can be fed.`,
    })
  const extractor =
    m.layer === undefined
      ? m.model
      : functionalModel({ inputs: m.model.inputs, outputs: m.model.getLayer(m.layer).output })
  const chunks: Array<Float32Array> = []
  let dim = 0
  for (let first = 0; first < set.count; first += batch) {
    const n = Math.min(batch, set.count - first)
    const rows = tf.tidy(() => {
      let x: tf.Tensor = tf.tensor4d(set.images.subarray(first * size, (first + n) * size), [n, h, w, c])
      if (range === "0,1") x = tf.div(tf.add(x, 1), 2)
      if (m.inputShape.length === 1) x = tf.reshape(x, [n, size])
      else {
        const [mh, mw, mc] = m.inputShape as [number, number, number]
        if (mh !== h || mw !== w) x = tf.image.resizeBilinear(x as tf.Tensor4D, [mh, mw])
        if (mc === 3 && c === 1) x = tf.tile(x, [1, 1, 1, 3])
        if (mc === 1 && c === 3) x = tf.mean(x, 3, true)
      }
      const out = extractor.predict(x)
      const y = Array.isArray(out) ? (out[0] as tf.Tensor) : (out as tf.Tensor)
      return tf.reshape(y, [n, -1])
    })
    dim = rows.shape[1] as number
    chunks.push(rows.dataSync() as Float32Array)
    rows.dispose()
  }
  const out = new Float32Array(set.count * dim)
  chunks.forEach((chunk, i) => {
    out.set(chunk, i * batch * dim)
  })
  return { rows: out, dim }
}
