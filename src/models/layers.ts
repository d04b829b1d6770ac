/**
 * Nets as data: a net is a list of layer specs; its parameters are a flat,
 * ordered map of named variables. Forward passes are plain functions of
 * (params, input), so gradients w.r.t. inputs (Langevin) and w.r.t. params
 * (learning) come from the same code.
 */
// tfjs-core alone registers no gradients; the union package's bundle registers them all.
import "@tensorflow/tfjs"
import * as tf from "@tensorflow/tfjs-core"
import { type Activation, activate } from "./activations.js"
import { batchNorm } from "./batch-norm.js"
import { conv2d, conv2dTranspose, type Padding } from "./conv.js"
import {
  type Conv3dLayer,
  type ConvTranspose3dLayer,
  conv3dOp,
  convTranspose3dOp,
  is3d,
  type Layer3d,
  paramSpecs3d,
} from "./layers3d.js"
import { foldIn, type Key, normalTensor } from "./random.js"

export type { Activation } from "./activations.js"
export type { Padding } from "./conv.js"

/** Convolution (NHWC). `padding: "same"` follows TensorFlow: the odd pixel goes bottom/right. */
export interface ConvLayer {
  readonly kind: "conv"
  readonly name: string
  readonly kernel: number
  readonly stride: number
  readonly padding: Padding
  readonly filters: number
  readonly activation: Activation
  readonly initStd: number
}

/** Transposed convolution to a fixed output size, optionally batch-normalised. */
export interface ConvTransposeLayer {
  readonly kind: "convTranspose"
  readonly name: string
  readonly kernel: number
  readonly stride: number
  readonly padding: Padding
  readonly filters: number
  readonly outSize: readonly [number, number]
  readonly batchNorm: boolean
  readonly activation: Activation
  readonly initStd: number
  /**
   * Stride 1, odd kernel, padding "same" only: pad the input periodically instead of with
   * zeros (the map on a torus), so every output position sees the same kind of neighbourhood
   * and no position can tell where the border is. Default false.
   */
  readonly wrap?: boolean
}

/**
 * Conditional nets: appends the one-hot class labels, tiled over every
 * position, to the channels (jianwen-xie/Conditional-CoopNets, modules.py). No parameters.
 */
export interface ConcatLabelsLayer {
  readonly kind: "concatLabels"
  readonly name: string
  readonly classes: number
  /** channels after the concatenation: the previous layer's (or the input's) plus `classes` */
  readonly filters: number
}

/**
 * Nearest-neighbour upsampling by `factor` (each pixel becomes a factor x
 * factor block); followed by a stride-1 convolution it is the "resize-convolution"
 * that, unlike a strided transposed convolution, makes no checkerboard
 * (Odena, Dumoulin & Olah, "Deconvolution and checkerboard artifacts", Distill 2016).
 * No parameters; `filters` is the channel count it passes through.
 */
export interface UpsampleLayer {
  readonly kind: "upsample"
  readonly name: string
  readonly factor: number
  readonly filters: number
}

export type Layer =
  | ConvLayer
  | ConvTransposeLayer
  | ConcatLabelsLayer
  | UpsampleLayer
  | Conv3dLayer
  | ConvTranspose3dLayer

export interface NetSpec {
  /** Shape of one input example, e.g. [28, 28, 1] or [1, 1, 100]. */
  readonly inputShape: ReadonlyArray<number>
  readonly layers: ReadonlyArray<Layer>
}

export type Params = ReadonlyMap<string, tf.Variable>

export interface ParamSpec {
  readonly name: string
  readonly shape: ReadonlyArray<number>
  readonly initStd: number // 0: zeros
}

export { LEAKY_SLOPE } from "./activations.js"
export { BATCH_NORM_EPSILON } from "./batch-norm.js"

const channelsOf = (spec: NetSpec, index: number): number =>
  index === 0
    ? (spec.inputShape[spec.inputShape.length - 1] as number)
    : (spec.layers[index - 1] as Layer).filters

/**
 * Parameter shapes. Conv filters are [k, k, in, out]; transposed-conv filters
 * are [k, k, out, in] (tfjs convention). A transposed conv followed by batch
 * norm has no bias (batch norm removes it exactly) but a learned shift `beta`;
 * like the official code there is no scale `gamma`.
 */
export const paramSpecs = (spec: NetSpec): ReadonlyArray<ParamSpec> =>
  spec.layers.flatMap((layer, i): ReadonlyArray<ParamSpec> => {
    if (layer.kind === "concatLabels" || layer.kind === "upsample") return []
    const cin = channelsOf(spec, i)
    if (is3d(layer)) return paramSpecs3d(layer, cin)
    const k = layer.kernel
    if (layer.kind === "conv")
      return [
        { name: `${layer.name}/w`, shape: [k, k, cin, layer.filters], initStd: layer.initStd },
        { name: `${layer.name}/b`, shape: [layer.filters], initStd: 0 },
      ]
    const w: ParamSpec = {
      name: `${layer.name}/w`,
      shape: [k, k, layer.filters, cin],
      initStd: layer.initStd,
    }
    const shift: ParamSpec = {
      name: layer.batchNorm ? `${layer.name}/beta` : `${layer.name}/b`,
      shape: [layer.filters],
      initStd: 0,
    }
    return [w, shift]
  })

/** Fresh variables, each initialised from its own key (so adding a layer does not reshuffle the others). */
export const initParams = (spec: NetSpec, key: Key, scope: string): Params =>
  new Map(
    paramSpecs(spec).map((p) => {
      const init =
        p.initStd === 0 ? tf.zeros([...p.shape]) : normalTensor(foldIn(key, p.name), p.shape, p.initStd)
      const variable = tf.variable(init, true, `${scope}/${p.name}`)
      init.dispose()
      return [p.name, variable] as const
    }),
  )

export const param = (params: Params, name: string): tf.Variable => {
  const p = params.get(name)
  if (p === undefined) throw new Error(`missing parameter ${name}`)
  return p
}

/** [n, h, w, c] ++ labels [n, classes] tiled to [n, h, w, classes] → [n, h, w, c + classes]. */
export const concatLabels = (
  x: tf.Tensor4D,
  layer: ConcatLabelsLayer,
  labels: tf.Tensor | undefined,
): tf.Tensor4D => {
  if (labels === undefined)
    throw new Error(`layer ${layer.name} needs class labels: a conditional net was called without them`)
  const [n, h, w] = x.shape
  return tf.concat([x, tf.tile(tf.reshape(labels, [n, 1, 1, layer.classes]), [1, h, w, 1])], 3)
}

/** A 3-D (video) layer: convolution + bias, or transposed convolution + batch norm or bias; then the activation. */
const applyLayer3d = (params: Params, x: tf.Tensor5D, layer: Layer3d): tf.Tensor5D => {
  const w = param(params, `${layer.name}/w`) as tf.Tensor as tf.Tensor5D
  // activate is rank-agnostic (element-wise); its static type is the images' rank 4
  const activated = (t: tf.Tensor5D): tf.Tensor5D =>
    activate(t as tf.Tensor as tf.Tensor4D, layer.activation) as tf.Tensor as tf.Tensor5D
  if (layer.kind === "conv3d")
    return activated(tf.add(conv3dOp(x, w, layer), param(params, `${layer.name}/b`)))
  const y = convTranspose3dOp(x, w, layer)
  return activated(
    layer.batchNorm
      ? batchNorm(y, param(params, `${layer.name}/beta`))
      : (tf.add(y, param(params, `${layer.name}/b`)) as tf.Tensor5D),
  )
}

/** Pads the height and width of `x` periodically by `p` on every side (`p` at most the side). */
export const wrapPad = (x: tf.Tensor4D, p: number): tf.Tensor4D => {
  if (p === 0) return x
  const [, h, w] = x.shape
  const rows = tf.concat(
    [tf.slice(x, [0, h - p, 0, 0], [-1, p, -1, -1]), x, tf.slice(x, [0, 0, 0, 0], [-1, p, -1, -1])],
    1,
  )
  return tf.concat(
    [tf.slice(rows, [0, 0, w - p, 0], [-1, -1, p, -1]), rows, tf.slice(rows, [0, 0, 0, 0], [-1, -1, p, -1])],
    2,
  )
}

/**
 * A stride-1 "same" transposed convolution with periodic padding: on the input padded by
 * (k − 1)/2 the interior of the zero-padded result is the circular one.
 */
const wrappedConvTranspose = (x: tf.Tensor4D, w: tf.Tensor4D, layer: ConvTransposeLayer): tf.Tensor4D => {
  const [h, wd] = layer.outSize
  const [, xh, xw] = x.shape
  if (layer.stride !== 1 || layer.kernel % 2 !== 1 || layer.padding !== "same" || xh !== h || xw !== wd)
    throw new Error(`layer ${layer.name}: wrap needs a stride-1 "same" layer with an odd kernel`)
  const p = (layer.kernel - 1) / 2
  const y = conv2dTranspose(wrapPad(x, p), w, [h + 2 * p, wd + 2 * p], 1, "same")
  return tf.slice(y, [0, p, p, 0], [-1, h, wd, -1])
}

const applyLayer = (params: Params, x: tf.Tensor4D, layer: Layer, labels?: tf.Tensor): tf.Tensor4D => {
  if (layer.kind === "concatLabels") return concatLabels(x, layer, labels)
  if (layer.kind === "upsample") {
    const [, h, wd] = x.shape
    return tf.image.resizeNearestNeighbor(x, [h * layer.factor, wd * layer.factor])
  }
  // videos travel as rank-5 tensors under the same (rank-4) static type
  if (is3d(layer))
    return applyLayer3d(params, x as tf.Tensor as tf.Tensor5D, layer) as tf.Tensor as tf.Tensor4D
  const w = param(params, `${layer.name}/w`)
  const s = layer.stride
  if (layer.kind === "conv") {
    const y = tf.add(
      conv2d(x, w as tf.Tensor4D, s, layer.padding),
      param(params, `${layer.name}/b`),
    ) as tf.Tensor4D
    return activate(y, layer.activation)
  }
  const [h, wd] = layer.outSize
  const y =
    layer.wrap === true
      ? wrappedConvTranspose(x, w as tf.Tensor4D, layer)
      : conv2dTranspose(x, w as tf.Tensor4D, [h, wd], s, layer.padding)
  const shifted = layer.batchNorm
    ? batchNorm(y, param(params, `${layer.name}/beta`))
    : (tf.add(y, param(params, `${layer.name}/b`)) as tf.Tensor4D)
  return activate(shifted, layer.activation)
}

/** Forward pass on a batch `[n, ...inputShape]`; `labels` ([n, classes] one-hot) feed `concatLabels` layers. */
export const forward = (spec: NetSpec, params: Params, x: tf.Tensor, labels?: tf.Tensor): tf.Tensor4D =>
  spec.layers.reduce(
    (h, layer) => applyLayer(params, h, layer, labels),
    tf.reshape(x, [x.shape[0] as number, ...spec.inputShape]) as unknown as tf.Tensor4D,
  )

/**
 * The sum of the net's outputs per example, `Σ forward(...)` over positions and
 * channels (the descriptor's score f(X)). A last convolution without activation
 * is linear, so the sum over its output channels is one convolution with the
 * filters and biases summed: Σ_u (W_u·h + b_u) = (Σ_u W_u)·h + Σ_u b_u. For the
 * descriptors' fully connected last layer that is a matrix-vector product
 * instead of a matrix product with `units` columns, in every Langevin step.
 */
export const forwardSum = (spec: NetSpec, params: Params, x: tf.Tensor, labels?: tf.Tensor): tf.Tensor1D => {
  const last = spec.layers.at(-1)
  if (last === undefined || last.kind !== "conv" || last.activation !== "none")
    return tf.sum(forward(spec, params, x, labels), [1, 2, 3])
  const h = forward({ ...spec, layers: spec.layers.slice(0, -1) }, params, x, labels)
  const w = tf.sum(param(params, `${last.name}/w`), 3, true) as tf.Tensor4D
  const y = conv2d(h, w, last.stride, last.padding)
  const [, oh, ow] = y.shape
  // every output position adds every unit's bias
  return tf.add(tf.sum(y, [1, 2, 3]), tf.mul(tf.sum(param(params, `${last.name}/b`)), oh * ow))
}

/** Output shape of one example (computed by a dry run on a zero batch of one). */
export const outputShape = (spec: NetSpec, params: Params): ReadonlyArray<number> =>
  tf.tidy(() => forward(spec, params, tf.zeros([1, ...spec.inputShape])).shape.slice(1))
