/**
 * Batch norm with the statistics of the batch, a learned shift and no scale
 * (`tf.contrib.layers.batch_norm` as the official code calls it: center, no
 * scale, epsilon 1e-3, always in training mode), with its gradient written out
 * (Ioffe & Szegedy 2015, arXiv:1502.03167, section 3) instead of differentiated
 * through `tf.moments`: half as many full-size passes over the activations.
 *
 * Over the n positions of a channel (batch × height × width, and × frames for
 * videos), with xc = x − mean,
 * r = 1/√(var + ε):
 *   y  = xc·r + β
 *   ∂β = Σ dy
 *   ∂x = r·(dy − mean(dy) − xc·r²·mean(dy·xc))
 */
import * as tf from "@tensorflow/tfjs-core"

/** `tf.contrib.layers.batch_norm` default epsilon. */
export const BATCH_NORM_EPSILON = 1e-3

/** Every axis but the channels': N,H,W for images, N,T,H,W for videos. */
const axesOf = (x: tf.Tensor): Array<number> => x.shape.slice(0, -1).map((_, i) => i)

/** The forward pass and what its gradient needs: the centred input and 1/√(var + ε) per channel. */
export const batchNormParts = (
  x: tf.Tensor,
  beta: tf.Tensor,
): { readonly value: tf.Tensor4D; readonly centred: tf.Tensor4D; readonly r: tf.Tensor1D } => {
  const axes = axesOf(x)
  const centred = tf.sub(x, tf.mean(x, axes)) as tf.Tensor4D
  const r = tf.rsqrt(tf.add(tf.mean(tf.square(centred), axes), BATCH_NORM_EPSILON)) as tf.Tensor1D
  return { value: tf.add(tf.mul(centred, r), beta) as tf.Tensor4D, centred, r }
}

/** ∂x and ∂β from ∂y and the parts the forward pass kept. */
export const batchNormBackward = (
  dy: tf.Tensor,
  centred: tf.Tensor,
  r: tf.Tensor,
): { readonly dx: tf.Tensor4D; readonly dBeta: tf.Tensor1D } => {
  const axes = axesOf(dy)
  const dBeta = tf.sum(dy, axes) as tf.Tensor1D
  const n = dy.size / (dy.shape[dy.rank - 1] as number)
  const meanDy = tf.div(dBeta, n)
  const k = tf.mul(tf.square(r), tf.mean(tf.mul(dy, centred), axes))
  const dx = tf.mul(tf.sub(tf.sub(dy, meanDy), tf.mul(centred, k)), r) as tf.Tensor4D
  return { dx, dBeta }
}

export const batchNorm = <T extends tf.Tensor>(x: T, beta: tf.Tensor): T =>
  tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [x, beta, save] = args as [tf.Tensor, tf.Tensor, tf.GradSaveFunc]
    const { value, centred, r } = batchNormParts(x, beta)
    save([centred, r])
    return {
      value,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const { dx, dBeta } = batchNormBackward(dy, saved[0] as tf.Tensor, saved[1] as tf.Tensor)
        return [dx, dBeta]
      },
    }
  })(x, beta) as T
