/**
 * Spatial-temporal (3-D) layers for videos, NDHWC: [batch, frames, height, width, channels].
 * The layer specs join the vocabulary of `layers.ts`; the ops here are plain tfjs.
 *
 * Padding follows the official spatial-temporal CoopNets code
 * (github.com/jianwen-xie/Spatial-Temporal-CoopNets, src/ops.py): "same" and "valid" are
 * TensorFlow's (the odd pixel of SAME goes after), and an explicit `[t, h, w]` pads that
 * many zeros on both sides of each axis before a VALID convolution.
 */
import * as tf from "@tensorflow/tfjs-core"
import type { Activation } from "./layers.js"

export type Triple = readonly [number, number, number]
export type Padding3d = "same" | "valid" | Triple

/** 3-D convolution; filters are [kt, kh, kw, in, out]. */
export interface Conv3dLayer {
  readonly kind: "conv3d"
  readonly name: string
  readonly kernel: Triple
  readonly stride: Triple
  readonly padding: Padding3d
  readonly filters: number
  readonly activation: Activation
  readonly initStd: number
}

/** 3-D transposed convolution to a fixed output size [t, h, w]; filters are [kt, kh, kw, out, in]. */
export interface ConvTranspose3dLayer {
  readonly kind: "convTranspose3d"
  readonly name: string
  readonly kernel: Triple
  readonly stride: Triple
  readonly padding: "same" | "valid"
  readonly filters: number
  readonly outSize: Triple
  readonly batchNorm: boolean
  readonly activation: Activation
  readonly initStd: number
}

export type Layer3d = Conv3dLayer | ConvTranspose3dLayer

export const is3d = (layer: { readonly kind: string }): layer is Layer3d =>
  layer.kind === "conv3d" || layer.kind === "convTranspose3d"

/** Parameter shapes of a 3-D layer with `cin` input channels (same naming as the 2-D layers). */
export const paramSpecs3d = (
  layer: Layer3d,
  cin: number,
): ReadonlyArray<{
  readonly name: string
  readonly shape: ReadonlyArray<number>
  readonly initStd: number
}> => {
  const [kt, kh, kw] = layer.kernel
  if (layer.kind === "conv3d")
    return [
      { name: `${layer.name}/w`, shape: [kt, kh, kw, cin, layer.filters], initStd: layer.initStd },
      { name: `${layer.name}/b`, shape: [layer.filters], initStd: 0 },
    ]
  return [
    { name: `${layer.name}/w`, shape: [kt, kh, kw, layer.filters, cin], initStd: layer.initStd },
    { name: layer.batchNorm ? `${layer.name}/beta` : `${layer.name}/b`, shape: [layer.filters], initStd: 0 },
  ]
}

const mutable = (t: Triple): [number, number, number] => [t[0], t[1], t[2]]

/** Convolution without bias or activation; explicit padding is zero-padding, then VALID. */
export const conv3dOp = (x: tf.Tensor5D, w: tf.Tensor5D, layer: Conv3dLayer): tf.Tensor5D => {
  const strides = mutable(layer.stride)
  if (typeof layer.padding === "string") return tf.conv3d(x, w, strides, layer.padding)
  const [pt, ph, pw] = layer.padding
  const padded = tf.pad(x, [
    [0, 0],
    [pt, pt],
    [ph, ph],
    [pw, pw],
    [0, 0],
  ])
  return tf.conv3d(padded, w, strides, "valid")
}

/**
 * y = conv3dTranspose(x, w): TensorFlow's Conv3DBackpropInputV2 with `outShape`.
 * tfjs registers no gradient for that kernel, so it is given here:
 * ∂L/∂x = conv3d(dy, w) (the forward convolution it transposes) and
 * ∂L/∂w = Conv3DBackpropFilter(input dy, output-gradient x).
 */
export const conv3dTransposeOp = (
  x: tf.Tensor5D,
  w: tf.Tensor5D,
  outShape: [number, number, number, number, number],
  stride: Triple,
  padding: "same" | "valid",
): tf.Tensor5D => {
  const strides = mutable(stride)
  const op = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [xi, wi, save] = args as [tf.Tensor5D, tf.Tensor5D, tf.GradSaveFunc]
    save([xi, wi])
    return {
      value: tf.conv3dTranspose(xi, wi, outShape, strides, padding),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xs, ws] = saved as [tf.Tensor5D, tf.Tensor5D]
        const d = dy as tf.Tensor5D
        return [
          tf.conv3d(d, ws, strides, padding),
          // tfjs-core exports no conv3DBackpropFilter op; its kernel is registered by every backend
          tf
            .engine()
            .runKernel(
              tf.Conv3DBackpropFilterV2,
              { x: d, dy: xs },
              { strides, pad: padding, filterShape: ws.shape },
            ) as tf.Tensor5D,
        ]
      },
    }
  })
  return op(x, w) as tf.Tensor5D
}

/** The transposed convolution of `layer` on a batch of `x.shape[0]`. */
export const convTranspose3dOp = (
  x: tf.Tensor5D,
  w: tf.Tensor5D,
  layer: ConvTranspose3dLayer,
): tf.Tensor5D => {
  const [t, h, wd] = layer.outSize
  return conv3dTransposeOp(x, w, [x.shape[0], t, h, wd, layer.filters], layer.stride, layer.padding)
}

/** Output [t, h, w] of a 3-D layer on an input of [t, h, w] (TensorFlow's SAME/VALID arithmetic). */
export const outSize3d = (layer: Layer3d, inSize: Triple): Triple => {
  if (layer.kind === "convTranspose3d") return layer.outSize
  const axis = (i: 0 | 1 | 2): number => {
    const n = inSize[i]
    const k = layer.kernel[i]
    const s = layer.stride[i]
    if (layer.padding === "same") return Math.ceil(n / s)
    const pad = layer.padding === "valid" ? 0 : 2 * layer.padding[i]
    return Math.floor((n + pad - k) / s) + 1
  }
  return [axis(0), axis(1), axis(2)]
}

/** Multiply-accumulates of one example through a 3-D layer (as `flops.ts` counts 2-D ones). */
export const macs3d = (layer: Layer3d, inSize: Triple, cin: number): number => {
  const [kt, kh, kw] = layer.kernel
  // a transposed conv scatters a kernel-sized patch per input position; a conv gathers one per output
  const positions = layer.kind === "convTranspose3d" ? inSize : outSize3d(layer, inSize)
  return positions[0] * positions[1] * positions[2] * kt * kh * kw * cin * layer.filters
}
