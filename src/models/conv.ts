/**
 * The nets' convolutions, each computed the fastest way for its shapes on a CPU.
 * Every path equals the stock tfjs op up to float rounding, values and gradients
 * (test/unit/conv.test.ts); which path a layer takes depends only on its shapes.
 * Times below: native TensorFlow 2.16 with oneDNN on a 2-core AVX-512 machine,
 * each alternative timed against the stock op in one process.
 *
 * - dense: a VALID convolution whose kernel covers its whole input (the
 *   descriptors' last layer: 1x1 output) and a VALID transposed convolution from
 *   a 1x1 input to the kernel's size (the generators' first layer) are one
 *   matrix product. TensorFlow runs them as general convolutions at 15-30
 *   GFLOP/s; as `matMul` they take about a third of the time.
 * - thin: a transposed convolution with at most `THIN_CHANNELS` output channels
 *   (the generators' image layer) and the input gradient of a convolution with
 *   at most that many input channels (the descriptors' first layer: every
 *   Langevin step ends with it) run at 5-15 GFLOP/s as TensorFlow's
 *   `Conv2DBackpropInput`. A stride-s transposed convolution is also a stride-1
 *   convolution producing s² phases of the output as channels, interleaved by a
 *   depth-to-space (sub-pixel convolution: Shi et al. 2016, "Is the
 *   deconvolution layer the same as a convolutional layer?", arXiv:1609.07009);
 *   that form takes 0.42-0.6 of the time for 1-3 channels, but 0.8-1.7 of it
 *   for 8-16.
 * - everything else: the stock ops. For the wide layers TensorFlow's oneDNN
 *   `Conv2DBackpropInput` / `Conv2DBackpropFilter` beat the sub-pixel form
 *   (measured 1.3-1.6x slower), so the wide transposed convolutions stay as they are.
 *
 * The thin paths are registered as their own tfjs kernels with their own
 * gradients, so a gradient is computed only for the inputs it is asked for
 * (as for the stock ops): Langevin asks for ∂/∂X only, a training step for
 * ∂/∂weights only.
 */
import * as tf from "@tensorflow/tfjs-core"

/** TensorFlow's padding: "same" puts the odd pixel bottom/right. */
export type Padding = "same" | "valid"

/** Channel counts at or below which the sub-pixel form is used (measured faster at 1 and 3, not at 8). */
export const THIN_CHANNELS = 3

/**
 * Padding before the data of the convolution that maps `outSize` to `inSize`
 * (TensorFlow: "same" puts the odd pixel after, "valid" pads nothing).
 */
const padBefore = (inSize: number, outSize: number, k: number, s: number, padding: Padding): number =>
  padding === "valid" ? 0 : Math.floor(Math.max((inSize - 1) * s + k - outSize, 0) / 2)

/**
 * The sub-pixel filter: tfjs transposed-conv filter `w` [k, k, cout, cin] as a
 * stride-1 filter [M, M, cin, s·s·cout], M = ceil(k/s). Output channel
 * (rh·s + rw)·cout + c of phase (rh, rw) at tap (jh, jw) is
 * w[rh + (M-1-jh)·s, rw + (M-1-jw)·s, c, ·], zero past the kernel.
 */
export const subPixelFilter = (w: tf.Tensor4D, s: number): tf.Tensor4D =>
  tf.tidy(() => {
    const [k, , cout, cin] = w.shape
    const m = Math.ceil(k / s)
    const extra = m * s - k
    const padded =
      extra > 0
        ? tf.pad(w, [
            [0, extra],
            [0, extra],
            [0, 0],
            [0, 0],
          ])
        : w
    const phases = tf.reshape(padded, [m, s, m, s, cout, cin]) // (mh, rh, mw, rw, c, cin)
    const flipped = tf.reverse(phases, [0, 2])
    return tf.reshape(tf.transpose(flipped, [0, 2, 5, 1, 3, 4]), [m, m, cin, s * s * cout])
  })

/**
 * `tf.conv2dTranspose(x, w, [n, ...outSize, cout], s, padding)` by sub-pixel
 * decomposition. In one dimension, with p the padding before: output i gets
 * Σ_m x[q − m]·w[r + m·s] for q·s + r = i + p, 0 ≤ r < s; for each phase r that
 * is a stride-1 correlation of x with the taps w[r + m·s] reversed, over the
 * q of the output rows, and depth-to-space puts q·s + r back in order.
 */
export const subPixelConvTranspose = (
  x: tf.Tensor4D,
  w: tf.Tensor4D,
  outSize: readonly [number, number],
  s: number,
  padding: Padding,
): tf.Tensor4D =>
  tf.tidy(() => {
    const [n, ih, iw] = x.shape
    const [k, , cout] = w.shape
    const m = Math.ceil(k / s)
    const dims = ([0, 1] as const).map((d) => {
      const inSize = d === 0 ? ih : iw
      const out = outSize[d]
      const p = padBefore(inSize, out, k, s, padding)
      const q0 = Math.floor(p / s)
      const q1 = Math.floor((out - 1 + p) / s)
      // x is read at rows q0 − (M−1) … q1; pad zeros outside [0, inSize)
      const before = m - 1 - q0
      const after = q1 + 1 - inSize
      if (before < 0 || after < 0)
        throw new Error(`subPixelConvTranspose: unsupported geometry ${inSize}→${out}`)
      return { offset: p - q0 * s, before, after }
    })
    const [dh, dw] = dims as [(typeof dims)[0], (typeof dims)[0]]
    const phases = tf.conv2d(x, subPixelFilter(w, s), 1, [
      [0, 0],
      [dh.before, dh.after],
      [dw.before, dw.after],
      [0, 0],
    ])
    const full = s === 1 ? phases : tf.depthToSpace(phases, s)
    const [, fh, fw] = full.shape
    if (dh.offset === 0 && dw.offset === 0 && fh === outSize[0] && fw === outSize[1]) return full
    return tf.slice(full, [0, dh.offset, dw.offset, 0], [n, outSize[0], outSize[1], cout])
  })

// ---- kernels with their own gradients -------------------------------------------------

const THIN_CONV = "CoopnetsThinInputConv2D"
const THIN_CONV_TRANSPOSE = "CoopnetsThinConv2DTranspose"

interface ConvAttrs {
  readonly strides: number
  readonly pad: Padding
}
interface ConvTransposeAttrs extends ConvAttrs {
  readonly outSize: readonly [number, number]
}

/** ∂/∂w of `conv2d(x, w, s, pad)` given ∂/∂output `dy` (the stock kernel the tfjs Conv2D gradient uses). */
const convFilterGrad = (x: tf.Tensor4D, dy: tf.Tensor4D, filterShape: number[], s: number, pad: Padding) =>
  tf
    .engine()
    .runKernel(
      "Conv2DBackpropFilter",
      { x, dy },
      { strides: [s, s], pad, dataFormat: "NHWC", filterShape },
    ) as tf.Tensor4D

const registeredOn = new Set<string>()
let gradientsRegistered = false

/** Registers the two kernels on the current backend (they are compositions of ops, so any backend runs them). */
const ensureKernels = (): void => {
  const backendName = tf.getBackend()
  if (!registeredOn.has(backendName)) {
    tf.registerKernel({
      kernelName: THIN_CONV,
      backendName,
      kernelFunc: ({ inputs, attrs }) => {
        const { strides, pad } = attrs as unknown as ConvAttrs
        return tf.conv2d(inputs.x as tf.Tensor4D, inputs.filter as tf.Tensor4D, strides, pad)
      },
    })
    tf.registerKernel({
      kernelName: THIN_CONV_TRANSPOSE,
      backendName,
      kernelFunc: ({ inputs, attrs }) => {
        const { strides, pad, outSize } = attrs as unknown as ConvTransposeAttrs
        return subPixelConvTranspose(
          inputs.x as tf.Tensor4D,
          inputs.filter as tf.Tensor4D,
          outSize,
          strides,
          pad,
        )
      },
    })
    registeredOn.add(backendName)
  }
  if (!gradientsRegistered) {
    tf.registerGradient({
      kernelName: THIN_CONV,
      inputsToSave: ["x", "filter"],
      gradFunc: (dy, saved, attrs) => {
        const [x, filter] = saved as [tf.Tensor4D, tf.Tensor4D]
        const { strides, pad } = attrs as unknown as ConvAttrs
        const g = dy as tf.Tensor4D
        return {
          // the input gradient of a convolution is the transposed convolution with the same filter
          x: () => subPixelConvTranspose(g, filter, [x.shape[1], x.shape[2]], strides, pad),
          filter: () => convFilterGrad(x, g, filter.shape, strides, pad),
        }
      },
    })
    tf.registerGradient({
      kernelName: THIN_CONV_TRANSPOSE,
      inputsToSave: ["x", "filter"],
      gradFunc: (dy, saved, attrs) => {
        const [x, filter] = saved as [tf.Tensor4D, tf.Tensor4D]
        const { strides, pad } = attrs as unknown as ConvAttrs
        const g = dy as tf.Tensor4D
        // as tfjs differentiates Conv2DBackpropInput: the transposed convolution's adjoint is the convolution
        return {
          x: () => tf.conv2d(g, filter, strides, pad),
          filter: () => convFilterGrad(g, x, filter.shape, strides, pad),
        }
      },
    })
    gradientsRegistered = true
  }
}

// ---- the layers' convolutions ----------------------------------------------------------

/**
 * `tf.conv2d(x, w, stride, padding)` (NHWC, w [k, k, cin, cout]): a matrix
 * product when the kernel covers the whole input (VALID), a kernel whose input
 * gradient is sub-pixel when the input is thin, the stock op otherwise.
 */
export const conv2d = (x: tf.Tensor4D, w: tf.Tensor4D, stride: number, padding: Padding): tf.Tensor4D => {
  const [n, h, wd, cin] = x.shape
  const [kh, kw, , cout] = w.shape
  if (padding === "valid" && kh === h && kw === wd)
    return tf.reshape(tf.matMul(tf.reshape(x, [n, h * wd * cin]), tf.reshape(w, [kh * kw * cin, cout])), [
      n,
      1,
      1,
      cout,
    ])
  if (cin <= THIN_CHANNELS) {
    ensureKernels()
    const attrs: ConvAttrs = { strides: stride, pad: padding }
    return tf
      .engine()
      .runKernel(THIN_CONV, { x, filter: w }, attrs as unknown as tf.NamedAttrMap) as tf.Tensor4D
  }
  return tf.conv2d(x, w, stride, padding)
}

/**
 * `tf.conv2dTranspose(x, w, [n, ...outSize, cout], stride, padding)` (w [k, k,
 * cout, cin]): a matrix product from a 1x1 input to a k×k VALID output, the
 * sub-pixel kernel when the output is thin, the stock op otherwise.
 */
export const conv2dTranspose = (
  x: tf.Tensor4D,
  w: tf.Tensor4D,
  outSize: readonly [number, number],
  stride: number,
  padding: Padding,
): tf.Tensor4D => {
  const [n, h, wd, cin] = x.shape
  const [k, , cout] = w.shape
  if (h === 1 && wd === 1 && padding === "valid" && outSize[0] === k && outSize[1] === k)
    return tf.reshape(tf.matMul(tf.reshape(x, [n, cin]), tf.reshape(w, [k * k * cout, cin]), false, true), [
      n,
      k,
      k,
      cout,
    ])
  if (cout <= THIN_CHANNELS) {
    ensureKernels()
    const attrs: ConvTransposeAttrs = { strides: stride, pad: padding, outSize }
    return tf
      .engine()
      .runKernel(THIN_CONV_TRANSPOSE, { x, filter: w }, attrs as unknown as tf.NamedAttrMap) as tf.Tensor4D
  }
  return tf.conv2dTranspose(x, w, [n, outSize[0], outSize[1], cout], stride, padding)
}

// ---- backward passes, for a forward pass computed earlier (src/models/backprop.ts) -------

/**
 * ∂w (and ∂x when `inputGrad`) of `conv2dTranspose(x, w, outSize, stride,
 * padding)` given ∂output `dy`, by the same path and the same kernels as the
 * gradients tfjs computes for it.
 */
export const conv2dTransposeBackward = (
  x: tf.Tensor4D,
  w: tf.Tensor4D,
  dy: tf.Tensor4D,
  stride: number,
  padding: Padding,
  inputGrad: boolean,
): { readonly dx?: tf.Tensor4D; readonly dw: tf.Tensor4D } => {
  const [n, h, wd, cin] = x.shape
  const [k, , cout] = w.shape
  const [, oh, ow] = dy.shape
  if (h === 1 && wd === 1 && padding === "valid" && oh === k && ow === k) {
    // y = x·wᵀ with x [n, cin], w [k·k·cout, cin]
    const dy2 = tf.reshape(dy, [n, k * k * cout])
    const dw = tf.reshape(tf.matMul(dy2, tf.reshape(x, [n, cin]), true, false), w.shape) as tf.Tensor4D
    if (!inputGrad) return { dw }
    return { dw, dx: tf.reshape(tf.matMul(dy2, tf.reshape(w, [k * k * cout, cin])), x.shape) as tf.Tensor4D }
  }
  const dw = convFilterGrad(dy, x, w.shape, stride, padding)
  return inputGrad ? { dw, dx: tf.conv2d(dy, w, stride, padding) } : { dw }
}
