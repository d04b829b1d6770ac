/**
 * The two baselines a completion must beat, on the same images and masks
 * (images [n, h, w, c] flat, masks [n, h, w], 1 visible / 0 hidden):
 *
 *   mean fill          hidden pixels ← the mean of the image's visible pixels (per channel)
 *   nearest neighbour  hidden pixels ← those of the training image closest on the visible pixels
 */
import * as tf from "@tensorflow/tfjs-core"

export const meanFill = (
  images: Float32Array,
  masks: Float32Array,
  count: number,
  channels: number,
): Float32Array => {
  const out = images.slice()
  const perImage = masks.length / count
  for (let i = 0; i < count; i++)
    for (let c = 0; c < channels; c++) {
      let sum = 0
      let visible = 0
      for (let p = i * perImage; p < (i + 1) * perImage; p++)
        if (masks[p] !== 0) {
          sum += images[p * channels + c] as number
          visible++
        }
      const mean = visible === 0 ? 0 : sum / visible
      for (let p = i * perImage; p < (i + 1) * perImage; p++) if (masks[p] === 0) out[p * channels + c] = mean
    }
  return out
}

/** Queries per matrix product (bounds the [queries, training] distance matrix). */
const QUERY_BLOCK = 256

/**
 * Index of the training image closest to each query on the query's visible pixels:
 * Σ_p M_p (x_p − t_p)² = Σ M x² − 2 Σ (M x) t + Σ M t², three matrix products.
 */
export const nearestOnVisible = (
  queries: Float32Array,
  masks: Float32Array,
  count: number,
  training: Float32Array,
  trainingCount: number,
  channels: number,
): Int32Array => {
  const values = queries.length / count
  const pixels = values / channels
  const nearest = new Int32Array(count)
  const train = tf.tensor2d(training, [trainingCount, values])
  const trainSquared = tf.square(train)
  for (let first = 0; first < count; first += QUERY_BLOCK) {
    const m = Math.min(QUERY_BLOCK, count - first)
    const best = tf.tidy(() => {
      const x = tf.tensor2d(queries.subarray(first * values, (first + m) * values), [m, values])
      const mask = tf.reshape(
        tf.tile(
          tf.reshape(tf.tensor2d(masks.subarray(first * pixels, (first + m) * pixels), [m, pixels]), [
            m,
            pixels,
            1,
          ]),
          [1, 1, channels],
        ),
        [m, values],
      )
      const maskedX = tf.mul(mask, x)
      // Σ M x² is constant per query: it does not change the argmin and is left out.
      const distance = tf.sub(
        tf.matMul(mask, trainSquared, false, true),
        tf.mul(tf.matMul(maskedX, train, false, true), 2),
      )
      return tf.argMin(distance, 1)
    })
    nearest.set(best.dataSync() as Int32Array, first)
    best.dispose()
  }
  tf.dispose([train, trainSquared])
  return nearest
}

/** Hidden pixels from the nearest training image on the visible ones. */
export const nearestNeighbourFill = (
  images: Float32Array,
  masks: Float32Array,
  count: number,
  training: Float32Array,
  trainingCount: number,
  channels: number,
): Float32Array => {
  const nearest = nearestOnVisible(images, masks, count, training, trainingCount, channels)
  const out = images.slice()
  const values = images.length / count
  for (let i = 0; i < count; i++) {
    const j = nearest[i] as number
    for (let v = 0; v < values; v++)
      if (masks[i * (values / channels) + Math.floor(v / channels)] === 0)
        out[i * values + v] = training[j * values + v] as number
  }
  return out
}
