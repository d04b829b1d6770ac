/** Nearest-neighbour distances between two sets of flattened images, as blocked tensor products. */
import * as tf from "@tensorflow/tfjs-core"

/**
 * For each of `queryCount` query rows, the Euclidean distance to its nearest
 * row among `referenceCount` reference rows (all rows of `dim` values).
 * ‖q − r‖² = ‖q‖² + ‖r‖² − 2 q·r, one matrix product per block of queries;
 * float32 rounding can make an exact copy's squared distance slightly
 * negative, so it is clamped at 0. Every tensor is disposed.
 */
export const nearestDistances = (
  queries: Float32Array,
  queryCount: number,
  references: Float32Array,
  referenceCount: number,
  dim: number,
  block = 256,
): Float32Array => {
  if (queries.length !== queryCount * dim || references.length !== referenceCount * dim)
    throw new RangeError(
      `expected ${queryCount}×${dim} queries and ${referenceCount}×${dim} references, got ${queries.length} and ${references.length} values`,
    )
  if (referenceCount === 0) throw new RangeError("no reference rows to compare with")
  const out = new Float32Array(queryCount)
  const ref = tf.tensor2d(references, [referenceCount, dim])
  const refNorms = tf.tidy(() => tf.sum(tf.square(ref), 1).reshape([1, referenceCount]))
  try {
    for (let first = 0; first < queryCount; first += block) {
      const m = Math.min(block, queryCount - first)
      const nearest = tf.tidy(() => {
        const q = tf.tensor2d(queries.subarray(first * dim, (first + m) * dim), [m, dim])
        const squared = tf.add(
          tf.sub(refNorms, tf.mul(2, tf.matMul(q, ref, false, true))),
          tf.sum(tf.square(q), 1, true),
        )
        return tf.sqrt(tf.relu(tf.min(squared, 1)))
      })
      out.set(nearest.dataSync() as Float32Array, first)
      nearest.dispose()
    }
  } finally {
    tf.dispose([ref, refNorms])
  }
  return out
}
