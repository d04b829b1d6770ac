/** One-hot class labels for the class-conditional nets. */
import * as tf from "@tensorflow/tfjs-core"
import { CLASSES } from "./nets.js"

/** [n, CLASSES] one-hot rows of `labels`. */
export const oneHot = (labels: Int32Array): tf.Tensor2D =>
  tf.tidy(() => tf.oneHot(tf.tensor1d(labels, "int32"), CLASSES).toFloat() as tf.Tensor2D)
