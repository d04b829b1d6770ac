/**
 * Activations and their gradients. ReLU gets its own gradient, dy·[x > 0]
 * (three ops): tfjs differentiates `relu` through `step`, which the native
 * backend composes from six full-size ops (`isNaN`, `greater`, two fills, two
 * selects). The others are differentiated as tfjs does.
 */
import * as tf from "@tensorflow/tfjs-core"

export type Activation = "leakyRelu" | "relu" | "tanh" | "none"

/** Leaky-ReLU slope of the official code (`lrelu(x, 0.2)`). */
export const LEAKY_SLOPE = 0.2

const reluGrad = (dy: tf.Tensor, x: tf.Tensor): tf.Tensor => tf.mul(dy, tf.cast(tf.greater(x, 0), "float32"))

const relu = (x: tf.Tensor4D): tf.Tensor4D =>
  tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [x, save] = args as [tf.Tensor, tf.GradSaveFunc]
    save([x])
    return {
      value: tf.relu(x),
      gradFunc: (dy: tf.Tensor, [input]: tf.Tensor[]) => reluGrad(dy, input as tf.Tensor),
    }
  })(x) as tf.Tensor4D

export const activate = (x: tf.Tensor4D, activation: Activation): tf.Tensor4D => {
  switch (activation) {
    case "leakyRelu":
      return tf.leakyRelu(x, LEAKY_SLOPE)
    case "relu":
      return relu(x)
    case "tanh":
      return tf.tanh(x)
    case "none":
      return x
  }
}

/** ∂input from ∂output, the activation's input `x` and its output `y` (the gradients tfjs would compute). */
export const activationBackward = (
  dy: tf.Tensor4D,
  x: tf.Tensor4D,
  y: tf.Tensor4D,
  activation: Activation,
): tf.Tensor4D => {
  switch (activation) {
    case "leakyRelu":
      return tf.where(tf.greater(x, 0), dy, tf.mul(dy, LEAKY_SLOPE))
    case "relu":
      return reluGrad(dy, x) as tf.Tensor4D
    case "tanh":
      return tf.mul(tf.sub(1, tf.square(y)), dy)
    case "none":
      return dy
  }
}
