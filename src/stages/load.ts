/**
 * load: a stream of observed batches from an in-memory dataset (decoded once),
 * reshuffled every epoch by a permutation keyed on (seed, epoch). The batch of
 * iteration i depends only on (seed, i), so a run can start at any iteration.
 */
import * as tf from "@tensorflow/tfjs-core"
import { Effect, Stream } from "effect"
import { foldIn, permutation, rootKey } from "../models/random.js"
import type { Observed } from "./records.js"

export interface Dataset {
  /** count × (h × w × c, or t × h × w × c for videos) values in [-1, 1] */
  readonly images: Float32Array
  readonly labels: Int32Array
  readonly count: number
  /** one example: [h, w, c], or [t, h, w, c] for videos */
  readonly shape: readonly [number, number, number] | readonly [number, number, number, number]
}

/** Values in one example of the dataset. */
export const exampleSize = (dataset: Pick<Dataset, "shape">): number =>
  dataset.shape.reduce((a: number, b: number) => a * b, 1)

export interface LoadOptions {
  readonly seed: number
  readonly batchSize: number
  readonly iterations: number
  readonly startIteration?: number
  /** batches prepared ahead of the consumer (backpressure beyond this) */
  readonly buffer: number
}

export const batchesPerEpoch = (dataset: Dataset, batchSize: number): number =>
  Math.floor(dataset.count / batchSize)

/** Host-side batch of iteration `i` (no tensors): used by the stream and by tests. */
export const batchAt = (
  dataset: Dataset,
  o: Pick<LoadOptions, "seed" | "batchSize">,
  iteration: number,
  order: (epoch: number) => Int32Array = (epoch) =>
    permutation(foldIn(rootKey(o.seed), "data", epoch), dataset.count),
): { readonly epoch: number; readonly images: Float32Array; readonly labels: Int32Array } => {
  const perEpoch = batchesPerEpoch(dataset, o.batchSize)
  const epoch = Math.floor(iteration / perEpoch)
  const first = (iteration % perEpoch) * o.batchSize
  const perm = order(epoch)
  const size = exampleSize(dataset)
  const images = new Float32Array(o.batchSize * size)
  const labels = new Int32Array(o.batchSize)
  for (let b = 0; b < o.batchSize; b++) {
    const index = perm[first + b] as number
    images.set(dataset.images.subarray(index * size, (index + 1) * size), b * size)
    labels[b] = dataset.labels[index] as number
  }
  return { epoch, images, labels }
}

export const observedBatches = (dataset: Dataset, o: LoadOptions): Stream.Stream<Observed> => {
  const start = o.startIteration ?? 0
  let cached: { epoch: number; perm: Int32Array } | undefined
  const order = (epoch: number): Int32Array => {
    if (cached?.epoch !== epoch)
      cached = { epoch, perm: permutation(foldIn(rootKey(o.seed), "data", epoch), dataset.count) }
    return cached.perm
  }
  return Stream.range(start, o.iterations - 1).pipe(
    Stream.mapEffect((iteration) =>
      Effect.sync((): Observed => {
        const t0 = performance.now()
        const batch = batchAt(dataset, o, iteration, order)
        // videos are rank 5 under the records' rank-4 static type (every stage is rank-agnostic)
        const tensor: tf.Tensor = tf.tensor(batch.images, [o.batchSize, ...dataset.shape])
        const images = tensor as tf.Tensor4D
        return {
          iteration,
          epoch: batch.epoch,
          images,
          labels: batch.labels,
          timings: { load: performance.now() - t0 },
        }
      }),
    ),
    Stream.buffer({ capacity: o.buffer }),
  )
}
