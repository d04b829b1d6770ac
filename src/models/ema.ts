/**
 * An exponential moving average of a net's weights (Polyak averaging of the
 * iterates), the weights modern generators sample from: Karras et al., 2018,
 * "Progressive Growing of GANs" (arXiv:1710.10196, §A.1), and Yazıcı et al.,
 * 2019, "The Unusual Effectiveness of Averaging in GAN Training"
 * (arXiv:1806.04498). After every training step
 *
 *   θ̄ ← β_t·θ̄ + (1 − β_t)·θ,   β_t = min(β, (1 + t)/(10 + t))
 *
 * with t the number of updates so far: the warm-up of TensorFlow's
 * `tf.train.ExponentialMovingAverage(num_updates=…)`, so that a short run's
 * average is not dominated by the initial weights.
 */
import * as tf from "@tensorflow/tfjs-core"
import type { Params } from "./layers.js"

/** The decay of update number `t` (0-based) for a target decay `decay`. */
export const averageDecay = (decay: number, t: number): number => Math.min(decay, (1 + t) / (10 + t))

/** A copy of `params` as non-trainable variables named `<scope>/<name>`, the average's starting point. */
export const createAverage = (params: Params, scope: string): Map<string, tf.Variable> =>
  new Map(
    [...params].map(([name, p]) => {
      const copy = tf.variable(p, false, `${scope}/${name}`)
      return [name, copy] as const
    }),
  )

/** θ̄ ← β_t·θ̄ + (1 − β_t)·θ for every parameter, in place; `t` is the number of earlier updates. */
export const updateAverage = (average: Params, params: Params, decay: number, t: number): void => {
  const beta = averageDecay(decay, t)
  tf.tidy(() => {
    for (const [name, p] of params) {
      const a = average.get(name)
      if (a === undefined) throw new Error(`moving average: no parameter ${name}`)
      a.assign(tf.add(tf.mul(a, beta), tf.mul(p, 1 - beta)))
    }
  })
}
