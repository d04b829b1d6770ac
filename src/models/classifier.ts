/**
 * A small all-convolutional MNIST classifier for judging samples: its
 * penultimate activations are the features of the Fréchet distance, its
 * softmax the predictions of the Inception-score analogue and the class
 * histogram. No batch norm, so a digit's features never depend on the other
 * images in its batch. Plain tfjs; training is seeded through keyed
 * randomness (weights, data order, shifts), so the same settings on the same
 * backend give the same weights.
 */
import * as tf from "@tensorflow/tfjs-core"
import { type ConvLayer, forward, initParams, type NetSpec, type Params, paramSpecs } from "./layers.js"
import { foldIn, permutation, rootKey, uniforms } from "./random.js"

export const CLASSIFIER_CLASSES = 10
const SIDE = 28
const PIXELS = SIDE * SIDE

const conv = (
  name: string,
  kernel: number,
  stride: number,
  padding: "same" | "valid",
  inputs: number,
  filters: number,
  activation: "relu" | "none",
): ConvLayer => ({
  kind: "conv",
  name,
  kernel,
  stride,
  padding,
  filters,
  activation,
  // He initialisation for ReLU layers, Glorot-like for the linear output
  initStd: Math.sqrt((activation === "relu" ? 2 : 1) / (kernel * kernel * inputs)),
})

/** 28x28x1 → 14x14x32 → 7x7x64 → 1x1x128 (the features) → 10 logits. */
const featureLayers: ReadonlyArray<ConvLayer> = [
  conv("conv1", 3, 2, "same", 1, 32, "relu"),
  conv("conv2", 3, 2, "same", 32, 64, "relu"),
  conv("features", 7, 1, "valid", 64, 128, "relu"),
]
const logitsLayer = conv("logits", 1, 1, "valid", 128, CLASSIFIER_CLASSES, "none")

/** The whole classifier, 28x28x1 digits in [-1, 1] to logits. */
export const classifierSpec: NetSpec = {
  inputShape: [SIDE, SIDE, 1],
  layers: [...featureLayers, logitsLayer],
}
const featureNet: NetSpec = { inputShape: [SIDE, SIDE, 1], layers: featureLayers }
const head: NetSpec = { inputShape: [1, 1, 128], layers: [logitsLayer] }

/** Dimension of the features the Fréchet distance is computed on. */
export const FEATURE_DIM = 128

export interface ClassifierSettings {
  readonly seed: number
  /** Adam steps */
  readonly steps: number
  readonly batchSize: number
  readonly learningRate: number
  /** the learning rate decays linearly to this fraction of itself by the last step */
  readonly finalLearningRateFraction: number
  /** each training digit is shifted by up to this many pixels in x and y (data augmentation) */
  readonly maxShift: number
}

/** What the shipped evaluation uses (about 6 passes over the 9,000 training digits). */
export const defaultClassifierSettings: ClassifierSettings = {
  seed: 0,
  steps: 900,
  batchSize: 64,
  learningRate: 0.002,
  finalLearningRateFraction: 0.05,
  maxShift: 2,
}

export interface Classifier {
  readonly params: Params
}

/** Variables need unique names while alive: each classifier gets its own scope. */
let instances = 0
const scope = (): string => `mnist-classifier-${instances++}`

/** A classifier with the given weights (e.g. from a cache), as non-trainable variables. */
export const classifierFromValues = (values: ReadonlyMap<string, Float32Array>): Classifier => {
  const name = scope()
  return {
    params: new Map(
      paramSpecs(classifierSpec).map((p) => {
        const v = values.get(p.name)
        const size = p.shape.reduce((a, b) => a * b, 1)
        if (v === undefined || v.length !== size)
          throw new RangeError(`parameter ${p.name} should hold ${size} values, got ${v?.length ?? "none"}`)
        const initial = tf.tensor(v, [...p.shape])
        const variable = tf.variable(initial, false, `${name}/${p.name}`)
        initial.dispose()
        return [p.name, variable] as const
      }),
    ),
  }
}

export const disposeClassifier = (c: Classifier): void => tf.dispose([...c.params.values()])

/** The weights, named as in `classifierSpec`, in its order. */
export const classifierWeights = (c: Classifier): ReadonlyArray<{ name: string; tensor: tf.Tensor }> =>
  paramSpecs(classifierSpec).map((p) => ({ name: p.name, tensor: c.params.get(p.name) as tf.Tensor }))

/** Copies `count` digits, each moved by (dx, dy) ∈ [−maxShift, maxShift]², background (−1) filled in. */
const shifted = (images: Float32Array, count: number, maxShift: number, key: number): Float32Array => {
  if (maxShift === 0) return images
  const u = uniforms(key, 2 * count)
  const out = new Float32Array(count * PIXELS).fill(-1)
  for (let i = 0; i < count; i++) {
    const dx = Math.floor((u[2 * i] as number) * (2 * maxShift + 1)) - maxShift
    const dy = Math.floor((u[2 * i + 1] as number) * (2 * maxShift + 1)) - maxShift
    for (let y = Math.max(0, dy); y < Math.min(SIDE, SIDE + dy); y++) {
      const from = i * PIXELS + (y - dy) * SIDE
      const to = i * PIXELS + y * SIDE
      for (let x = Math.max(0, dx); x < Math.min(SIDE, SIDE + dx); x++)
        out[to + x] = images[from + x - dx] as number
    }
  }
  return out
}

/**
 * Trains a fresh classifier on `count` digits (28x28, [-1, 1]) with labels
 * 0-9: softmax cross-entropy, Adam, batches drawn by a keyed per-epoch
 * permutation, random shifts keyed by step.
 */
export const trainClassifier = (
  images: Float32Array,
  labels: Int32Array,
  count: number,
  settings: ClassifierSettings,
  onStep?: (step: number, loss: number) => void,
): Classifier => {
  const key = foldIn(rootKey(settings.seed), "mnist-classifier")
  const params = initParams(classifierSpec, foldIn(key, "init"), scope())
  const optimizer = tf.train.adam(settings.learningRate)
  const perEpoch = Math.max(1, Math.floor(count / settings.batchSize))
  const batch = Math.min(settings.batchSize, count)
  let order = permutation(foldIn(key, "order", 0), count)
  try {
    for (let step = 0; step < settings.steps; step++) {
      const epoch = Math.floor(step / perEpoch)
      if (step % perEpoch === 0 && step > 0) order = permutation(foldIn(key, "order", epoch), count)
      const first = (step % perEpoch) * batch
      const x = new Float32Array(batch * PIXELS)
      const y = new Int32Array(batch)
      for (let b = 0; b < batch; b++) {
        const j = order[first + b] as number
        x.set(images.subarray(j * PIXELS, (j + 1) * PIXELS), b * PIXELS)
        y[b] = labels[j] as number
      }
      const progress = settings.steps > 1 ? step / (settings.steps - 1) : 0
      // tfjs's Adam reads its (protected) learningRate at every step
      ;(optimizer as unknown as { learningRate: number }).learningRate =
        settings.learningRate * (1 - (1 - settings.finalLearningRateFraction) * progress)
      const loss = tf.tidy(() => {
        const input = tf.tensor4d(shifted(x, batch, settings.maxShift, foldIn(key, "shift", step)), [
          batch,
          SIDE,
          SIDE,
          1,
        ])
        const target = tf.oneHot(tf.tensor1d(y, "int32"), CLASSIFIER_CLASSES)
        return optimizer.minimize(
          () =>
            tf.losses.softmaxCrossEntropy(
              target,
              tf.reshape(forward(classifierSpec, params, input), [batch, CLASSIFIER_CLASSES]),
            ) as tf.Scalar,
          true,
          [...params.values()],
        ) as tf.Scalar
      })
      if (onStep) onStep(step, loss.dataSync()[0] as number)
      loss.dispose()
    }
  } catch (e) {
    tf.dispose([...params.values()])
    throw e
  } finally {
    optimizer.dispose()
  }
  return { params }
}

export interface Classified {
  /** count × FEATURE_DIM penultimate activations */
  readonly features: Float32Array
  /** count × 10 softmax probabilities */
  readonly probabilities: Float32Array
}

/** Features and class probabilities of `count` 28x28 digits in [-1, 1], in batches. */
export const classify = (c: Classifier, images: Float32Array, count: number, batch = 500): Classified => {
  if (images.length !== count * PIXELS)
    throw new RangeError(`expected ${count} 28x28 images (${count * PIXELS} values), got ${images.length}`)
  const features = new Float32Array(count * FEATURE_DIM)
  const probabilities = new Float32Array(count * CLASSIFIER_CLASSES)
  for (let first = 0; first < count; first += batch) {
    const m = Math.min(batch, count - first)
    const [f, p] = tf.tidy(() => {
      const x = tf.tensor4d(images.subarray(first * PIXELS, (first + m) * PIXELS), [m, SIDE, SIDE, 1])
      const h = forward(featureNet, c.params, x)
      const logits = forward(head, c.params, h)
      return [tf.reshape(h, [m, FEATURE_DIM]), tf.softmax(tf.reshape(logits, [m, CLASSIFIER_CLASSES]))]
    })
    features.set(f.dataSync() as Float32Array, first * FEATURE_DIM)
    probabilities.set(p.dataSync() as Float32Array, first * CLASSIFIER_CLASSES)
    tf.dispose([f, p])
  }
  return { features, probabilities }
}

/** Fraction of digits whose most probable class is their label. */
export const accuracyOf = (probabilities: Float32Array, labels: Int32Array): number => {
  let right = 0
  for (let i = 0; i < labels.length; i++) {
    let best = 0
    for (let c = 1; c < CLASSIFIER_CLASSES; c++)
      if (
        (probabilities[i * CLASSIFIER_CLASSES + c] as number) >
        (probabilities[i * CLASSIFIER_CLASSES + best] as number)
      )
        best = c
    if (best === labels[i]) right++
  }
  return labels.length === 0 ? 0 : right / labels.length
}
