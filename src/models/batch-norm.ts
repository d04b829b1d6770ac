/**
 * Batch norm with the statistics of the batch, a learned shift and no scale
 * (`tf.contrib.layers.batch_norm` as the official code calls it: center, no
 * scale, epsilon 1e-3, always in training mode), with its gradient written out
 * (Ioffe & Szegedy 2015, arXiv:1502.03167, section 3) instead of differentiated
 * through `tf.moments`: half as many full-size passes over the activations.
 *
 * Over the n positions of a channel (batch × height × width), with xc = x − mean,
 * r = 1/√(var + ε):
 *   y  = xc·r + β
 *   ∂β = Σ dy
 *   ∂x = r·(dy − mean(dy) − xc·r²·mean(dy·xc))
 */
import * as tf from "@tensorflow/tfjs-core"

/** `tf.contrib.layers.batch_norm` default epsilon. */
export const BATCH_NORM_EPSILON = 1e-3

const AXES = [0, 1, 2]

export const batchNorm = (x: tf.Tensor4D, beta: tf.Tensor): tf.Tensor4D =>
  tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [x, beta, save] = args as [tf.Tensor, tf.Tensor, tf.GradSaveFunc]
    const centred = tf.sub(x, tf.mean(x, AXES))
    const r = tf.rsqrt(tf.add(tf.mean(tf.square(centred), AXES), BATCH_NORM_EPSILON))
    save([centred, r])
    return {
      value: tf.add(tf.mul(centred, r), beta),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xc, rs] = saved as [tf.Tensor, tf.Tensor]
        const dBeta = tf.sum(dy, AXES)
        const n = dy.size / (dy.shape[3] as number)
        const meanDy = tf.div(dBeta, n)
        const k = tf.mul(tf.square(rs), tf.mean(tf.mul(dy, xc), AXES))
        const dx = tf.mul(tf.sub(tf.sub(dy, meanDy), tf.mul(xc, k)), rs)
        return [dx, dBeta]
      },
    }
  })(x, beta) as tf.Tensor4D
