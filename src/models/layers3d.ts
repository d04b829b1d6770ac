/**
 * Spatial-temporal (3-D) layers for videos, NDHWC: [batch, frames, height, width, channels].
 * The layer specs join the vocabulary of `layers.ts`; the ops here are plain tfjs.
 *
 * Padding follows the official spatial-temporal CoopNets code
 * (github.com/jianwen-xie/Spatial-Temporal-CoopNets, src/ops.py): "same" and "valid" are
 * TensorFlow's (the odd pixel of SAME goes after), and an explicit `[t, h, w]` pads that
 * many zeros on both sides of each axis before a VALID convolution.
 */
// the union package registers tfjs's own gradients first; the Conv3D one is replaced below
import "@tensorflow/tfjs"
import * as tf from "@tensorflow/tfjs-core"
import type { Activation } from "./activations.js"

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
const AXES = [0, 1, 2] as const

export type Shape5 = [number, number, number, number, number]

/** Zeros TensorFlow puts before each axis of a convolution's input of size `n` (SAME: the odd one goes after). */
export const padBefore = (n: Triple, k: Triple, s: Triple, padding: "same" | "valid"): Triple => {
  if (padding === "valid") return [0, 0, 0]
  const before = (a: 0 | 1 | 2): number =>
    Math.floor(Math.max((Math.ceil(n[a] / s[a]) - 1) * s[a] + k[a] - n[a], 0) / 2)
  return [before(0), before(1), before(2)]
}

/**
 * ∂L/∂x of y = conv3d(x, w) (TensorFlow's Conv3DBackpropInputV2), computed by sub-pixel
 * decomposition into forward stride-1 convolutions: along an axis with stride s, the input
 * positions i with (i + pad) ≡ r (mod s) receive only the kernel taps r, r + s, r + 2s, …, so
 * dx restricted to them is a full correlation of dy with those taps, flipped. All s³ residue
 * classes are one convolution (their flipped taps side by side in the output channels, padded
 * with zero taps to a common size), then interleaved like a depth-to-space. Same arithmetic as
 * the kernel up to those zero taps, but TensorFlow's CPU kernel
 * for it is 5–30x slower than its forward convolution when the input has few channels (the
 * descriptor's first layer under Langevin, the generator's last transposed convolution).
 */
export const conv3dBackpropInput = (
  dy: tf.Tensor5D,
  w: tf.Tensor5D,
  inShape: Shape5,
  stride: Triple,
  padding: "same" | "valid",
): tf.Tensor5D =>
  tf.tidy(() => {
    const [batch, ...rest] = inShape
    const n: Triple = [rest[0], rest[1], rest[2]]
    const [kt, kh, kw, ci] = w.shape
    const k: Triple = [kt, kh, kw]
    const out: Triple = [dy.shape[1], dy.shape[2], dy.shape[3]]
    const p = padBefore(n, k, stride, padding)
    const q = AXES.map((a) => Math.ceil((n[a] + p[a]) / stride[a])) as unknown as Triple
    const taps = (a: 0 | 1 | 2, r: number): number => (r < k[a] ? Math.ceil((k[a] - r) / stride[a]) : 0)
    // residue 0 has the most taps along every axis; the others get leading zero taps to match
    const most = AXES.map((a) => taps(a, 0)) as unknown as Triple
    const subKernel = (r: Triple): tf.Tensor => {
      const m = AXES.map((a) => taps(a, r[a])) as unknown as Triple
      if (m.some((v) => v === 0)) return tf.zeros([most[0], most[1], most[2], w.shape[4], ci])
      // taps r + m·s of each strided axis, last first (a gather per axis: StridedSlice is slow on large kernels)
      const sub = AXES.reduce(
        (acc: tf.Tensor, a) =>
          stride[a] === 1
            ? tf.reverse(acc, a)
            : tf.gather(
                acc,
                Array.from({ length: m[a] }, (_, i) => r[a] + (m[a] - 1 - i) * stride[a]),
                a,
              ),
        w,
      )
      return tf.pad(tf.transpose(sub, [0, 1, 2, 4, 3]), [
        ...AXES.map((a): [number, number] => [most[a] - m[a], 0]),
        [0, 0],
        [0, 0],
      ])
    }
    const [st, sh, sw] = stride
    const residues: Array<Triple> = []
    for (let rt = 0; rt < st; rt++)
      for (let rh = 0; rh < sh; rh++) for (let rw = 0; rw < sw; rw++) residues.push([rt, rh, rw])
    // all residue classes in one stride-1 convolution, their outputs side by side in the channels
    const filter = tf.concat(residues.map(subKernel), 4) as tf.Tensor5D
    const padded = tf.pad(dy, [
      [0, 0],
      ...AXES.map((a): [number, number] => [most[a] - 1, Math.max(0, q[a] - out[a])]),
      [0, 0],
    ]) as tf.Tensor5D
    const classes = tf.slice(tf.conv3d(padded, filter, 1, "valid"), 0, [
      batch,
      q[0],
      q[1],
      q[2],
      residues.length * ci,
    ])
    // [batch, qt, qh, qw, st, sh, sw, ci] → [batch, qt, st, qh, sh, qw, sw, ci]: interleaved along each axis
    const woven = tf.transpose(
      tf.reshape(classes, [batch, q[0], q[1], q[2], st, sh, sw, ci]),
      [0, 1, 4, 2, 5, 3, 6, 7],
    )
    const full = tf.reshape(woven, [batch, q[0] * st, q[1] * sh, q[2] * sw, ci])
    return tf.slice(full, [0, p[0], p[1], p[2], 0], [batch, n[0], n[1], n[2], ci]) as tf.Tensor5D
  })

/** ∂L/∂w of y = conv3d(x, w): TensorFlow's Conv3DBackpropFilterV2 (tfjs-core exports no op for it). */
const conv3dBackpropFilter = (
  x: tf.Tensor5D,
  dy: tf.Tensor5D,
  filterShape: Shape5,
  stride: Triple,
  padding: "same" | "valid",
): tf.Tensor5D =>
  tf
    .engine()
    .runKernel(
      tf.Conv3DBackpropFilterV2,
      { x, dy },
      { strides: mutable(stride), pad: padding, filterShape },
    ) as tf.Tensor5D

/**
 * tfjs-backend-wasm's 3-D kernels give wrong numbers for strided convolutions (its Conv3D
 * values and Conv3DBackpropFilterV2 against a float64 reference, as test/layers3d.test.ts
 * showed); the native ("tensorflow") and pure-JS ("cpu") backends are checked right.
 */
const checkBackend = (): void => {
  if (tf.getBackend() === "wasm")
    throw new Error(
      'video nets cannot run on the "wasm" backend: its 3-D convolution kernels give wrong results for strides above 1. Use backend "tensorflow" (native; `npm run setup:native` builds it) or "cpu".',
    )
}

/**
 * The gradient of Conv3D for every 3-D convolution: the input's from `conv3dBackpropInput`
 * (instead of TensorFlow's Conv3DBackpropInputV2, slow and, under oneDNN, wrong for some
 * shapes), the filter's from Conv3DBackpropFilterV2. Registered in place of tfjs's own (which
 * it otherwise equals) rather than as a custom gradient, so that each is computed only when
 * asked for: Langevin needs ∂/∂X alone, a descriptor update ∂/∂w alone.
 */
tf.registerGradient({
  kernelName: tf.Conv3D,
  inputsToSave: ["x", "filter"],
  gradFunc: (dy, saved, attrs) => {
    const { strides, pad, dilations } = attrs as unknown as tf.Conv3DAttrs
    const [x, filter] = saved as [tf.Tensor5D, tf.Tensor5D]
    const s = (typeof strides === "number" ? [strides, strides, strides] : strides) as Triple
    const d = typeof dilations === "number" ? [dilations] : dilations
    if (d.some((v) => v !== 1))
      throw new Error(`the gradient of a dilated conv3d is not supported (dilations ${d})`)
    return {
      x: () => conv3dBackpropInput(dy as tf.Tensor5D, filter, x.shape, s, pad),
      filter: () => conv3dBackpropFilter(x, dy as tf.Tensor5D, filter.shape, s, pad),
    }
  },
})

/** conv3d (its gradient: the one registered above). */
export const conv3d = (
  x: tf.Tensor5D,
  w: tf.Tensor5D,
  stride: Triple,
  padding: "same" | "valid",
): tf.Tensor5D => {
  checkBackend()
  return tf.conv3d(x, w, mutable(stride), padding)
}

/**
 * The transposed convolution y = conv3dTranspose(x, w) to `outShape` (w: [kt, kh, kw, out, in]),
 * i.e. Conv3DBackpropInput with x as the output gradient. tfjs registers no gradient for that
 * kernel, so it is given here: ∂L/∂x = conv3d(dy, w) (the forward convolution it transposes)
 * and ∂L/∂w = Conv3DBackpropFilter(input dy, output gradient x).
 */
export const conv3dTranspose = (
  x: tf.Tensor5D,
  w: tf.Tensor5D,
  outShape: Shape5,
  stride: Triple,
  padding: "same" | "valid",
): tf.Tensor5D => {
  checkBackend()
  const op = tf.customGrad((...args: Array<tf.Tensor | tf.GradSaveFunc>) => {
    const [xi, wi, save] = args as [tf.Tensor5D, tf.Tensor5D, tf.GradSaveFunc]
    save([xi, wi])
    return {
      value: conv3dBackpropInput(xi, wi, outShape, stride, padding),
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xs, ws] = saved as [tf.Tensor5D, tf.Tensor5D]
        const d = dy as tf.Tensor5D
        return [
          tf.conv3d(d, ws, mutable(stride), padding),
          conv3dBackpropFilter(d, xs, ws.shape, stride, padding),
        ]
      },
    }
  })
  return op(x, w) as tf.Tensor5D
}

/**
 * A convolution whose kernel spans the whole (unpadded) frame — FC_S's "spatially fully
 * connected" layer — is a temporal convolution over frames flattened to vectors: reshaping
 * x to [n, t, 1, 1, h·w·c] and w to [kt, 1, 1, h·w·c, out] gives the same numbers (row-major
 * layouts agree) and lets TensorFlow use its dense path (its 3-D kernels are 10–20x slower
 * on such a layer's weight gradient).
 */
const spansFrame = (inSize: Triple, k: Triple, padded: Triple): boolean =>
  k[1] === inSize[1] && k[2] === inSize[2] && padded[1] === 0 && padded[2] === 0

/** Convolution without bias or activation; explicit padding is zero-padding, then VALID. */
export const conv3dOp = (x: tf.Tensor5D, w: tf.Tensor5D, layer: Conv3dLayer): tf.Tensor5D => {
  const explicit = typeof layer.padding !== "string"
  const pads: Triple = typeof layer.padding === "string" ? [0, 0, 0] : layer.padding
  const input = explicit
    ? (tf.pad(x, [[0, 0], ...pads.map((v): [number, number] => [v, v]), [0, 0]]) as tf.Tensor5D)
    : x
  const padding = typeof layer.padding === "string" ? layer.padding : "valid"
  const [n, t, h, wd, c] = input.shape
  const sameSpatial = padding === "same" && (layer.kernel[1] > 1 || layer.kernel[2] > 1)
  if (!sameSpatial && spansFrame([t, h, wd], layer.kernel, pads)) {
    const flat = tf.reshape(input, [n, t, 1, 1, h * wd * c]) as tf.Tensor5D
    const kernel = tf.reshape(w, [layer.kernel[0], 1, 1, h * wd * c, layer.filters]) as tf.Tensor5D
    return conv3d(flat, kernel, [layer.stride[0], 1, 1], padding)
  }
  return conv3d(input, w, layer.stride, padding)
}

/**
 * The transposed convolution of a layer. From a 1×1 frame with VALID padding to an output
 * frame the size of the kernel (FC_S_128's second layer) it is a temporal transposed
 * convolution to flattened frames (see `spansFrame`).
 */
export const conv3dTransposeOp = (
  x: tf.Tensor5D,
  w: tf.Tensor5D,
  outShape: Shape5,
  stride: Triple,
  padding: "same" | "valid",
): tf.Tensor5D => {
  const [n, , h, wd, cin] = x.shape
  const [kt, kh, kw, cout] = w.shape
  if (padding === "valid" && h === 1 && wd === 1 && outShape[2] === kh && outShape[3] === kw) {
    const flatOut: Shape5 = [n, outShape[1], 1, 1, kh * kw * cout]
    const kernel = tf.reshape(w, [kt, 1, 1, kh * kw * cout, cin]) as tf.Tensor5D
    return tf.reshape(
      conv3dTranspose(x, kernel, flatOut, [stride[0], 1, 1], "valid"),
      outShape,
    ) as tf.Tensor5D
  }
  return conv3dTranspose(x, w, outShape, stride, padding)
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
