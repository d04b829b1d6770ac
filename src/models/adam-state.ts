/**
 * Adam's complete state, exactly. tfjs's `getWeights()` gives the step count
 * and both moments, but its `setWeights()` recomputes the bias-correction
 * powers β^(t+1) with `pow`, while an uninterrupted run holds them as a
 * running float32 product; the two differ in the last bits (β2 = 0.999), and a
 * resumed run would drift from the run it continues. So the powers are saved
 * and put back as they were, and the tensors handed to `setWeights` (which
 * copies them into new variables) are disposed.
 */
import * as tf from "@tensorflow/tfjs-core"

/** The fields of tfjs 4.x `AdamOptimizer` that `getWeights`/`setWeights` do not round-trip. */
interface AdamInternals {
  accBeta1: tf.Variable
  accBeta2: tf.Variable
  accumulatedFirstMoment: Array<{ variable: tf.Variable }>
  accumulatedSecondMoment: Array<{ variable: tf.Variable }>
}

const internals = (optimizer: tf.Optimizer): AdamInternals => {
  const o = optimizer as unknown as Partial<AdamInternals>
  if (!(o.accBeta1 instanceof tf.Variable) || !(o.accBeta2 instanceof tf.Variable))
    throw new Error("exact optimiser state needs tfjs's Adam (accBeta1/accBeta2 not found)")
  return o as AdamInternals
}

/** β1^(t+1) and β2^(t+1) as the optimiser holds them (the variables themselves: copy before they change). */
export const adamPowers = (optimizer: tf.Optimizer): ReadonlyArray<{ name: string; tensor: tf.Tensor }> => {
  const o = internals(optimizer)
  return [
    { name: "beta1Power", tensor: o.accBeta1 },
    { name: "beta2Power", tensor: o.accBeta2 },
  ]
}

/**
 * Replaces the optimiser's state: `weights` as `getWeights()` gave them (`iter`,
 * then first and second moments), `powers` as `adamPowers` gave them. Takes
 * ownership of every tensor passed.
 */
export const restoreAdam = async (
  optimizer: tf.Optimizer,
  weights: ReadonlyArray<{ name: string; tensor: tf.Tensor }>,
  powers: { readonly beta1Power: number; readonly beta2Power: number } | undefined,
): Promise<void> => {
  const o = internals(optimizer)
  tf.dispose([...o.accumulatedFirstMoment, ...o.accumulatedSecondMoment].map((m) => m.variable))
  await optimizer.setWeights([...weights])
  tf.dispose(weights.map((w) => w.tensor))
  if (powers === undefined) return
  tf.tidy(() => {
    o.accBeta1.assign(tf.scalar(powers.beta1Power))
    o.accBeta2.assign(tf.scalar(powers.beta2Power))
  })
}

/**
 * Changes the learning rate of a tfjs Adam optimiser in place, keeping its
 * moments and step count (tfjs 4.x reads `learningRate` at every step).
 */
export const setLearningRate = (optimizer: tf.Optimizer, learningRate: number): void => {
  const o = optimizer as unknown as { learningRate?: unknown }
  if (typeof o.learningRate !== "number")
    throw new Error("changing the learning rate needs tfjs's Adam (learningRate not found)")
  o.learningRate = learningRate
}
