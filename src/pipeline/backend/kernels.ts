/**
 * Kernels registered for the pure-JS backends ("cpu", "wasm") where theirs is missing or slow.
 *
 * Conv2DBackpropFilter: the cpu backend's is a naive per-element loop (most of a descriptor
 * step's time), and wasm has none. Here it is im2col + one matrix product, composed from kernels
 * both backends have:
 *   taps[kh,kw] = x_padded[:, kh : kh+(OH-1)*sh+1 : sh, kw : kw+(OW-1)*sw+1 : sw, :]
 *   patches     = all taps side by side, [B*OH*OW, Cin*KH*KW], produced in one
 *                 DepthwiseConv2dNative with one-hot filters (KH*KW StridedSlices + Concat
 *                 measured 16x slower on wasm, 15x on cpu)
 *   dW          = dy^T · patches, [Cout, Cin*KH*KW], reshaped and transposed to [KH, KW, Cin, Cout]
 * Padding and output size come from backend_util.computeConv2DInfo exactly as the backends' own
 * kernels compute them ('same' / 'valid' / a number / explicit pads, dimRoundingMode), so the
 * result matches the reference kernel for every case tfjs can produce.
 */
import {
  backend_util,
  Conv2DBackpropFilter,
  type Conv2DBackpropFilterAttrs,
  type DataId,
  getKernel,
  type KernelBackend,
  type KernelConfig,
  type KernelFunc,
  type NamedAttrMap,
  type NamedTensorInfoMap,
  registerKernel,
  type TensorInfo,
  unregisterKernel,
} from "@tensorflow/tfjs-core"

/** Backends that get the fallback kernels. */
export const FALLBACK_BACKENDS = ["cpu", "wasm"] as const
export type FallbackBackend = (typeof FALLBACK_BACKENDS)[number]

/** The kernels each backend had before registerFallbackKernels replaced them (for restoring). */
const replaced = new Map<string, KernelConfig | undefined>()
const key = (kernelName: string, backendName: string) => `${kernelName}/${backendName}`

const findKernel = (kernelName: string, backendName: string): KernelConfig | undefined => {
  try {
    return getKernel(kernelName, backendName)
  } catch {
    return undefined
  }
}

interface DisposingBackend {
  disposeData(dataId: DataId, force?: boolean): boolean
}

/** Runs another kernel of the same backend and tracks its output for disposal. */
class KernelRunner {
  private readonly intermediates: TensorInfo[] = []
  private readonly backend: KernelBackend
  private readonly backendName: string
  constructor(backend: KernelBackend, backendName: string) {
    this.backend = backend
    this.backendName = backendName
  }

  run(kernelName: string, inputs: NamedTensorInfoMap | TensorInfo[], attrs: NamedAttrMap): TensorInfo {
    const kernel = findKernel(kernelName, this.backendName)
    if (kernel === undefined) {
      throw new Error(`Conv2DBackpropFilter fallback needs kernel '${kernelName}' on '${this.backendName}'`)
    }
    // Concat takes its inputs as an array (the engine passes the op's tensor list as is).
    const out = kernel.kernelFunc({ inputs: inputs as NamedTensorInfoMap, attrs, backend: this.backend })
    const info = Array.isArray(out) ? out[0] : out
    if (info === undefined) throw new Error(`kernel '${kernelName}' returned no output`)
    this.intermediates.push(info)
    return info
  }

  /** Tracks a tensor created with backend.write for disposal. */
  track(info: TensorInfo): void {
    this.intermediates.push(info)
  }

  /** Disposes every intermediate except `keep` (the kernel's output). */
  disposeAllBut(keep: TensorInfo): void {
    const disposer = this.backend as unknown as DisposingBackend
    for (const info of this.intermediates) if (info !== keep) disposer.disposeData(info.dataId)
  }
}

const conv2DBackpropFilterFor =
  (backendName: string): KernelFunc =>
  ({ inputs, backend, attrs }) => {
    const x = inputs.x
    const dy = inputs.dy
    if (x === undefined || dy === undefined) throw new Error("Conv2DBackpropFilter needs inputs x and dy")
    const { strides, pad, dataFormat, dimRoundingMode, filterShape } =
      attrs as unknown as Conv2DBackpropFilterAttrs
    const channelsLast = dataFormat !== "NCHW"
    const info = backend_util.computeConv2DInfo(
      x.shape as [number, number, number, number],
      filterShape,
      strides,
      1,
      pad,
      dimRoundingMode,
      false,
      backend_util.convertConv2DDataFormat(dataFormat),
    )
    const { batchSize: b, inChannels: cin, outChannels: cout } = info
    // The output size is dy's own: tfjs's conv2d gradient does not pass dimRoundingMode on, so
    // with "ceil" the attrs give a smaller output than dy has (the cpu kernel then silently skips
    // dy's last row/column; this one computes the true gradient).
    const oh = (channelsLast ? dy.shape[1] : dy.shape[2]) ?? info.outHeight
    const ow = (channelsLast ? dy.shape[2] : dy.shape[3]) ?? info.outWidth
    const { filterHeight: kh, filterWidth: kw, strideHeight: sh, strideWidth: sw, padInfo } = info
    const be = backend as KernelBackend
    const k = new KernelRunner(be, backendName)

    const xNhwc = channelsLast ? x : k.run("Transpose", { x }, { perm: [0, 2, 3, 1] })
    const dyNhwc = channelsLast ? dy : k.run("Transpose", { x: dy }, { perm: [0, 2, 3, 1] })
    // Pad (or crop) x to exactly the rows/cols the taps read: top/left from padInfo, and up to
    // (out-1)*stride + k. Positions past the input (padding, or a numeric pad with
    // dimRoundingMode "ceil" reaching past it) read zeros.
    const needH = (oh - 1) * sh + kh
    const needW = (ow - 1) * sw + kw
    const top = Math.max(0, padInfo.top)
    const left = Math.max(0, padInfo.left)
    const bottom = needH - info.inHeight - top
    const right = needW - info.inWidth - left
    let xp = xNhwc
    if (top > 0 || left > 0 || bottom > 0 || right > 0) {
      const paddings = [
        [0, 0],
        [top, Math.max(0, bottom)],
        [left, Math.max(0, right)],
        [0, 0],
      ]
      xp = k.run("PadV2", { x: xp }, { paddings, constantValue: 0 })
    }
    if (bottom < 0 || right < 0) {
      xp = k.run("Slice", { x: xp }, { begin: [0, 0, 0, 0], size: [b, needH, needW, cin] })
    }

    // im2col as a depthwise convolution with one-hot filters: channel c*KK + (i*KW + j) of
    // `patches` is x_padded[:, y*sh + i, x*sw + j, c]. Every output is a copy (1*x + 0*...), and
    // both backends run depthwise convolutions far faster than KH*KW strided slices.
    const taps = kh * kw
    const eye = new Float32Array(taps * cin * taps)
    for (let t = 0; t < taps; t++) for (let c = 0; c < cin; c++) eye[(t * cin + c) * taps + t] = 1
    const oneHot: TensorInfo = {
      dataId: be.write(eye, [kh, kw, cin, taps], "float32"),
      shape: [kh, kw, cin, taps],
      dtype: "float32",
    }
    k.track(oneHot)
    const patches4 = k.run(
      "DepthwiseConv2dNative",
      { x: xp, filter: oneHot },
      { strides: [sh, sw], pad: "valid", dataFormat: "NHWC", dilations: [1, 1] },
    )
    const n = b * oh * ow
    const patches = k.run("Reshape", { x: patches4 }, { shape: [n, cin * taps] })
    const dy2 = k.run("Reshape", { x: dyNhwc }, { shape: [n, cout] })
    // dy^T · patches (wasm's BatchMatMul is ~35x slower with transposeA than without).
    const dyT = k.run("Transpose", { x: dy2 }, { perm: [1, 0] })
    const prod = k.run("BatchMatMul", { a: dyT, b: patches }, { transposeA: false, transposeB: false })
    const prod4 = k.run("Reshape", { x: prod }, { shape: [cout, cin, kh, kw] })
    const out = k.run("Transpose", { x: prod4 }, { perm: [2, 3, 1, 0] })
    k.disposeAllBut(out)
    return out
  }

/** Fallback kernels for one backend. */
export const fallbackKernelConfigs = (backendName: FallbackBackend): ReadonlyArray<KernelConfig> => [
  { kernelName: Conv2DBackpropFilter, backendName, kernelFunc: conv2DBackpropFilterFor(backendName) },
]

/**
 * Registers the fallback kernels for "cpu" and "wasm" (replacing cpu's naive
 * Conv2DBackpropFilter). Idempotent. Call after the backend packages are imported.
 */
export function registerFallbackKernels(backends: ReadonlyArray<FallbackBackend> = FALLBACK_BACKENDS): void {
  for (const backendName of backends) {
    for (const config of fallbackKernelConfigs(backendName)) {
      const id = key(config.kernelName, backendName)
      if (replaced.has(id)) continue
      const existing = findKernel(config.kernelName, backendName)
      if (existing !== undefined) unregisterKernel(config.kernelName, backendName)
      replaced.set(id, existing)
      registerKernel(config)
    }
  }
}

/** Puts back the kernels registerFallbackKernels replaced (used by tests and benchmarks). */
export function unregisterFallbackKernels(
  backends: ReadonlyArray<FallbackBackend> = FALLBACK_BACKENDS,
): void {
  for (const backendName of backends) {
    for (const config of fallbackKernelConfigs(backendName)) {
      const id = key(config.kernelName, backendName)
      if (!replaced.has(id)) continue
      const original = replaced.get(id)
      unregisterKernel(config.kernelName, backendName)
      if (original !== undefined) registerKernel(original)
      replaced.delete(id)
    }
  }
}

/** Whether registerFallbackKernels is in effect for this backend. */
export const fallbackKernelsRegistered = (backendName: FallbackBackend): boolean =>
  replaced.has(key(Conv2DBackpropFilter, backendName))
