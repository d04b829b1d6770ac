/**
 * Sample quality of 28x28 single-channel images against MNIST, judged by the
 * project's classifier (src/pipeline/evaluation/mnist-classifier.ts):
 *
 * - frechetDistance: squared Fréchet distance between Gaussians fitted to the
 *   classifier's 128-d penultimate features of the images and of the 1,000
 *   held-out digits (mnist split "test"), as FID;
 * - inceptionScore: exp(E_x KL(p(y|x) ‖ p(y))), one split, natural logs;
 * - classHistogram / classEntropy: how many images the classifier puts in each
 *   class, and that histogram's entropy in nats (ln 10 ≈ 2.303 when balanced);
 * - copyFraction: fraction of images whose nearest training digit (pixel L2,
 *   pixels in [0, 1], over the 9,000 "train" digits) is closer than
 *   `copyThreshold`, the 1st percentile of the same distance for the held-out
 *   digits: closer to a training digit than 99% of genuinely new digits are;
 * - medianNearestTrainDistance: the median of that nearest-training-digit distance.
 */
import { Effect, type FileSystem } from "effect"
import { classify } from "../../models/classifier.js"
import {
  classHistogram,
  fitGaussian,
  fractionBelow,
  frechetDistance,
  type Gaussian,
  histogramEntropy,
  inceptionScore,
  quantile,
} from "../../models/frechet.js"
import { nearestDistances } from "../../models/nearest.js"
import { foldIn, permutation, rootKey } from "../../models/random.js"
import type { Dataset } from "../../stages/load.js"
import { loadMnistSplit } from "../data/mnist.js"
import type { DataError } from "../errors.js"
import type { LoadedClassifier } from "./mnist-classifier.js"

const PIXELS = 28 * 28
const CLASSES = 10
/** Held-out digits closer to the training set than this quantile count as copies: 1%. */
export const COPY_QUANTILE = 0.01

/** A type, not an interface: metrics.jsonl's evaluation lines hold it as a record of figures. */
export type SampleQuality = {
  /** images judged */
  readonly count: number
  readonly frechetDistance: number
  readonly inceptionScore: number
  /** images per class 0-9 (the classifier's most probable class) */
  readonly classHistogram: ReadonlyArray<number>
  /** nats */
  readonly classEntropy: number
  readonly copyFraction: number
  /** pixel L2 distance, pixels in [0, 1] */
  readonly medianNearestTrainDistance: number
}

/** What every evaluation compares with, computed once. */
export interface MnistReference {
  readonly classifier: LoadedClassifier
  readonly train: Dataset
  readonly heldOut: Dataset
  /** the Gaussian of the held-out digits' features */
  readonly heldOutFeatures: Gaussian
  readonly heldOutProbabilities: Float32Array
  /** each held-out digit's distance to its nearest training digit ([0, 1] pixels) */
  readonly heldOutNearest: Float32Array
  /** the COPY_QUANTILE quantile of `heldOutNearest` */
  readonly copyThreshold: number
}

/** Distances to the nearest "train" digit in [0, 1] pixel units (the images are in [-1, 1]: half the L2). */
const nearestTrain = (train: Dataset, images: Float32Array, count: number): Float32Array =>
  nearestDistances(images, count, train.images, train.count, PIXELS).map((d) => d / 2)

export const prepareMnistReference = (
  classifier: LoadedClassifier,
): Effect.Effect<MnistReference, DataError, FileSystem.FileSystem> =>
  Effect.gen(function* () {
    const train = yield* loadMnistSplit("train")
    const heldOut = yield* loadMnistSplit("test")
    const { features, probabilities } = classify(classifier.classifier, heldOut.images, heldOut.count)
    const heldOutFeatures = fitGaussian(features, heldOut.count, features.length / heldOut.count)
    const heldOutNearest = nearestTrain(train, heldOut.images, heldOut.count)
    return {
      classifier,
      train,
      heldOut,
      heldOutFeatures,
      heldOutProbabilities: probabilities,
      heldOutNearest,
      copyThreshold: quantile(heldOutNearest, COPY_QUANTILE),
    }
  })

const summarise = (
  ref: MnistReference,
  count: number,
  features: Float32Array,
  probabilities: Float32Array,
  nearest: Float32Array,
): SampleQuality => {
  const histogram = classHistogram(probabilities, count, CLASSES)
  return {
    count,
    frechetDistance: frechetDistance(
      fitGaussian(features, count, features.length / count),
      ref.heldOutFeatures,
    ),
    inceptionScore: inceptionScore(probabilities, count, CLASSES),
    classHistogram: [...histogram],
    classEntropy: histogramEntropy(histogram),
    copyFraction: fractionBelow(nearest, ref.copyThreshold),
    medianNearestTrainDistance: quantile(nearest, 0.5),
  }
}

/** The metrics of `count` 28x28x1 images in [-1, 1] (at least 2, for a covariance). */
export const sampleQuality = (ref: MnistReference, images: Float32Array, count: number): SampleQuality => {
  if (count < 2) throw new RangeError(`sample quality needs at least 2 images, got ${count}`)
  const { features, probabilities } = classify(ref.classifier.classifier, images, count)
  return summarise(ref, count, features, probabilities, nearestTrain(ref.train, images, count))
}

/**
 * The same numbers for real digits, as a floor to read the samples' against.
 * The Fréchet distance is that of `count` "train" digits (a seeded subset,
 * the samples' count, so that the estimate has the same small-sample bias)
 * against the held-out digits; the other metrics are the held-out digits'
 * own (the classifier never saw them; their copy fraction is ≈ COPY_QUANTILE
 * by the threshold's definition).
 */
export const realDigitsQuality = (
  ref: MnistReference,
  count: number,
): SampleQuality & { readonly frechetCount: number } => {
  const n = Math.max(2, Math.min(count, ref.train.count))
  const order = permutation(foldIn(rootKey(0), "sample-quality", "real-subset"), ref.train.count)
  const subset = new Float32Array(n * PIXELS)
  for (let i = 0; i < n; i++) {
    const j = order[i] as number
    subset.set(ref.train.images.subarray(j * PIXELS, (j + 1) * PIXELS), i * PIXELS)
  }
  const { features } = classify(ref.classifier.classifier, subset, n)
  const histogram = classHistogram(ref.heldOutProbabilities, ref.heldOut.count, CLASSES)
  return {
    count: ref.heldOut.count,
    frechetCount: n,
    frechetDistance: frechetDistance(fitGaussian(features, n, features.length / n), ref.heldOutFeatures),
    inceptionScore: inceptionScore(ref.heldOutProbabilities, ref.heldOut.count, CLASSES),
    classHistogram: [...histogram],
    classEntropy: histogramEntropy(histogram),
    copyFraction: fractionBelow(ref.heldOutNearest, ref.copyThreshold),
    medianNearestTrainDistance: quantile(ref.heldOutNearest, 0.5),
  }
}
