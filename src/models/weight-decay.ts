/**
 * Adam with decoupled weight decay (AdamW, Loshchilov & Hutter 2019): before
 * each Adam step every parameter the gradients name shrinks by the factor
 * 1 − η·λ (η the learning rate at that step, λ the decay), so
 * θ ← θ·(1 − η·λ) − η·adam(∇). Unlike an L2 term in the loss, the shrinking
 * is not rescaled by Adam's second moments: it bounds weights that Adam
 * would otherwise grow by η every step, as a descriptor that separates the
 * observed images from its samples too easily does.
 */
import * as tf from "@tensorflow/tfjs-core"

export class DecoupledAdam extends tf.AdamOptimizer {
  constructor(
    learningRate: number,
    beta1: number,
    beta2: number,
    epsilon: number,
    readonly weightDecay: number,
  ) {
    super(learningRate, beta1, beta2, epsilon)
  }

  override applyGradients(gradients: Parameters<tf.AdamOptimizer["applyGradients"]>[0]): void {
    const names = Array.isArray(gradients) ? gradients.map((g) => g.name) : Object.keys(gradients)
    const keep = 1 - this.learningRate * this.weightDecay
    tf.tidy(() => {
      for (const name of names) {
        const v = tf.engine().registeredVariables[name]
        if (v === undefined) throw new Error(`weight decay: no variable named ${name}`)
        v.assign(tf.mul(v, keep))
      }
    })
    super.applyGradients(gradients)
  }
}

/** Adam, with decoupled weight decay when `weightDecay` > 0. */
export const adamWithDecay = (o: {
  readonly learningRate: number
  readonly beta1: number
  readonly beta2: number
  readonly epsilon: number
  readonly weightDecay: number
}): tf.Optimizer =>
  o.weightDecay > 0
    ? new DecoupledAdam(o.learningRate, o.beta1, o.beta2, o.epsilon, o.weightDecay)
    : tf.train.adam(o.learningRate, o.beta1, o.beta2, o.epsilon)
