/**
 * Activations and their gradients. The gradients of ReLU and leaky ReLU are
 * kernels of their own (`ACTIVATION_GRAD_KERNELS`), registered here as
 * compositions of ops for any backend; a backend may register a single native
 * op under the same name instead (the native TensorFlow backend registers
 * `ReluGrad` / `LeakyReluGrad`: src/pipeline/backend/native-kernels.ts). tfjs
 * itself differentiates leaky ReLU with three full-size ops, and ReLU through
 * `step`, which the native backend composes from six.
 */
import * as tf from "@tensorflow/tfjs-core"

export type Activation = "leakyRelu" | "relu" | "tanh" | "none"

/** Leaky-ReLU slope of the official code (`lrelu(x, 0.2)`). */
export const LEAKY_SLOPE = 0.2

/** Kernel names: inputs {dy, x}; attrs {alpha} for leaky ReLU. */
export const ACTIVATION_GRAD_KERNELS = {
  leakyRelu: "CoopnetsLeakyReluGrad",
  relu: "CoopnetsReluGrad",
} as const

const composite: Record<keyof typeof ACTIVATION_GRAD_KERNELS, tf.KernelFunc> = {
  // dy where x > 0, α·dy elsewhere (as tfjs's LeakyRelu gradient)
  leakyRelu: ({ inputs, attrs }) =>
    tf.tidy(() => {
      const { dy, x } = inputs as { dy: tf.Tensor; x: tf.Tensor }
      return tf.where(tf.greater(x, 0), dy, tf.mul(dy, (attrs as { alpha: number }).alpha))
    }),
  // dy·[x > 0]
  relu: ({ inputs }) =>
    tf.tidy(() => {
      const { dy, x } = inputs as { dy: tf.Tensor; x: tf.Tensor }
      return tf.mul(dy, tf.cast(tf.greater(x, 0), "float32"))
    }),
}

/** Registers the composite gradient kernels on the current backend where it has none of its own. */
const ensureKernels = (): void => {
  const backendName = tf.getBackend()
  for (const [activation, kernelName] of Object.entries(ACTIVATION_GRAD_KERNELS))
    if (tf.getKernel(kernelName, backendName) === undefined)
      tf.registerKernel({
        kernelName,
        backendName,
        kernelFunc: composite[activation as keyof typeof ACTIVATION_GRAD_KERNELS],
      })
}

const gradient = (activation: "leakyRelu" | "relu", dy: tf.Tensor, x: tf.Tensor): tf.Tensor => {
  ensureKernels()
  const attrs = activation === "leakyRelu" ? { alpha: LEAKY_SLOPE } : {}
  return tf.engine().runKernel(ACTIVATION_GRAD_KERNELS[activation], { dy, x }, attrs) as tf.Tensor
}

const withGradient = (activation: "leakyRelu" | "relu", x: tf.Tensor4D): tf.Tensor4D =>
  tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [input, save] = args as [tf.Tensor, tf.GradSaveFunc]
    save([input])
    return {
      value: activation === "leakyRelu" ? tf.leakyRelu(input, LEAKY_SLOPE) : tf.relu(input),
      gradFunc: (dy: tf.Tensor, [saved]: tf.Tensor[]) => gradient(activation, dy, saved as tf.Tensor),
    }
  })(x) as tf.Tensor4D

export const activate = (x: tf.Tensor4D, activation: Activation): tf.Tensor4D => {
  switch (activation) {
    case "leakyRelu":
    case "relu":
      return withGradient(activation, x)
    case "tanh":
      return tf.tanh(x)
    case "none":
      return x
  }
}

/** ∂input from ∂output, the activation's input `x` and its output `y` (the gradients `activate` has). */
export const activationBackward = (
  dy: tf.Tensor4D,
  x: tf.Tensor4D,
  y: tf.Tensor4D,
  activation: Activation,
): tf.Tensor4D => {
  switch (activation) {
    case "leakyRelu":
    case "relu":
      return gradient(activation, dy, x) as tf.Tensor4D
    case "tanh":
      return tf.mul(tf.sub(1, tf.square(y)), dy)
    case "none":
      return dy
  }
}
