/**
 * Single native TensorFlow ops for kernels the models define as compositions
 * (src/models/activations.ts): `LeakyReluGrad` and `ReluGrad` take one pass
 * over the activations where the composition takes three (measured: half the
 * time on 144x14x14x64). Called once the native backend has loaded; other
 * backends keep the compositions.
 */
import { createRequire } from "node:module"
import * as tf from "@tensorflow/tfjs-core"
import { ACTIVATION_GRAD_KERNELS, LEAKY_SLOPE } from "../../models/activations.js"

interface OpAttr {
  readonly name: string
  readonly type: number
  readonly value: unknown
}
/** The parts of tfjs-node's backend (dist/nodejs_kernel_backend.js) its own kernels use to run a TensorFlow op. */
interface NativeBackend {
  readonly binding: { readonly TF_ATTR_FLOAT: number }
  executeSingleOutput(
    name: string,
    attrs: ReadonlyArray<OpAttr>,
    inputs: ReadonlyArray<tf.TensorInfo>,
  ): tf.Tensor
}
interface NodeKernelBackendModule {
  createTensorsTypeOpAttr(name: string, dtype: tf.DataType): OpAttr
}

const require = createRequire(import.meta.url)

/** Registers the native kernels on the "tensorflow" backend (idempotent); false if that backend is not loaded. */
export const registerNativeKernels = (packageName = "@tensorflow/tfjs-node"): boolean => {
  const backend = tf.findBackend("tensorflow") as unknown as NativeBackend | null
  if (backend === null || typeof backend.executeSingleOutput !== "function") return false
  const { createTensorsTypeOpAttr } = require(
    `${packageName}/dist/nodejs_kernel_backend.js`,
  ) as NodeKernelBackendModule
  const grad =
    (op: string, extra: ReadonlyArray<OpAttr>): tf.KernelFunc =>
    ({ inputs }) => {
      const { dy, x } = inputs as { dy: tf.TensorInfo; x: tf.TensorInfo }
      return backend.executeSingleOutput(op, [createTensorsTypeOpAttr("T", x.dtype), ...extra], [dy, x])
    }
  const kernels: ReadonlyArray<readonly [string, tf.KernelFunc]> = [
    [
      ACTIVATION_GRAD_KERNELS.leakyRelu,
      grad("LeakyReluGrad", [{ name: "alpha", type: backend.binding.TF_ATTR_FLOAT, value: LEAKY_SLOPE }]),
    ],
    [ACTIVATION_GRAD_KERNELS.relu, grad("ReluGrad", [])],
  ]
  for (const [kernelName, kernelFunc] of kernels) {
    if (tf.getKernel(kernelName, "tensorflow") !== undefined) tf.unregisterKernel(kernelName, "tensorflow")
    tf.registerKernel({ kernelName, backendName: "tensorflow", kernelFunc })
  }
  return true
}
