/**
 * The sliced Wasserstein distance's one shared step: a distribution of
 * projected samples summarised by its quantiles. With the same quantiles of
 * two distributions along each direction, the mean absolute gap between them
 * is the sliced W1 distance (Rabin et al. 2011; Deshpande et al. 2018).
 */
import type * as tf from "@tensorflow/tfjs-core"

/**
 * `projected` holds one row per direction (its samples' projections onto it);
 * returns each row's values at `quantiles` evenly spaced ranks, rows one after
 * another: [directions × quantiles]. Disposes `projected`.
 */
export const rowQuantiles = (projected: tf.Tensor2D, quantiles: number): Float32Array => {
  const [rows, n] = projected.shape
  const values = projected.dataSync() as Float32Array
  projected.dispose()
  const out = new Float32Array(rows * quantiles)
  for (let d = 0; d < rows; d++) {
    const sorted = values.subarray(d * n, (d + 1) * n).sort()
    for (let q = 0; q < quantiles; q++)
      out[d * quantiles + q] = sorted[Math.min(n - 1, Math.floor(((q + 0.5) / quantiles) * n))] as number
  }
  return out
}
