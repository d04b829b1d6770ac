/**
 * The 3-D layers against a plain float64 reference written here: values of convolutions and
 * transposed convolutions, and both gradients of each (the project's: Conv3D's registered
 * gradient, the transposed convolution's custom one) against central finite differences at 64
 * seeded elements of each tensor; the sub-pixel input gradient against TensorFlow's own
 * Conv3DBackpropInputV2 — on the native backend and the pure-JS one.
 */
import * as tf from "@tensorflow/tfjs-core"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { forwardMacs } from "../../src/models/flops.js"
import { forward, initParams, type NetSpec, paramSpecs } from "../../src/models/layers.js"
import {
  type Conv3dLayer,
  conv3dBackpropInput,
  conv3dOp,
  conv3dTransposeOp,
  type Layer3d,
  outSize3d,
  type Padding3d,
  type Triple,
} from "../../src/models/layers3d.js"
import {
  CPU_VIDEO_SHAPE,
  cpuVideoOptions,
  dynamicTexture,
  officialVideoOptions,
  videoLatentFrames,
} from "../../src/models/nets.js"
import { normals, rootKey, uniforms } from "../../src/models/random.js"
import { selectBackend } from "../../src/pipeline/backend/select.js"
import { testBackend } from "../support.js"

type Shape5 = [number, number, number, number, number]

/** Padding before each of T, H, W, and output size, as TensorFlow computes them. */
const geometry = (n: Triple, k: Triple, s: Triple, padding: Padding3d): { before: Triple; out: Triple } => {
  const axis = (i: 0 | 1 | 2): [number, number] => {
    if (padding === "valid") return [0, Math.floor((n[i] - k[i]) / s[i]) + 1]
    if (padding !== "same") return [padding[i], Math.floor((n[i] + 2 * padding[i] - k[i]) / s[i]) + 1]
    const out = Math.ceil(n[i] / s[i])
    const total = Math.max((out - 1) * s[i] + k[i] - n[i], 0)
    return [Math.floor(total / 2), out] // TF SAME: the odd pixel goes after
  }
  const [a, b, c] = [axis(0), axis(1), axis(2)]
  return { before: [a[0], b[0], c[0]], out: [a[1], b[1], c[1]] }
}

/**
 * Visits every (output position, kernel tap, input position) of a 3-D convolution of an
 * input [b, t, h, w, ci] with a kernel [kt, kh, kw, ...]; taps falling in the padding are skipped.
 */
const eachTap = (
  xShape: Shape5,
  k: Triple,
  s: Triple,
  padding: Padding3d,
  visit: (b: number, o: Triple, tap: Triple, i: Triple) => void,
): Triple => {
  const [batch, t, h, w] = xShape
  const { before, out } = geometry([t, h, w], k, s, padding)
  for (let b = 0; b < batch; b++)
    for (let ot = 0; ot < out[0]; ot++)
      for (let oh = 0; oh < out[1]; oh++)
        for (let ow = 0; ow < out[2]; ow++)
          for (let a = 0; a < k[0]; a++)
            for (let c = 0; c < k[1]; c++)
              for (let d = 0; d < k[2]; d++) {
                const it = ot * s[0] + a - before[0]
                const ih = oh * s[1] + c - before[1]
                const iw = ow * s[2] + d - before[2]
                if (it < 0 || ih < 0 || iw < 0 || it >= t || ih >= h || iw >= w) continue
                visit(b, [ot, oh, ow], [a, c, d], [it, ih, iw])
              }
  return out
}

const index5 = (shape: ReadonlyArray<number>, i: ReadonlyArray<number>): number =>
  (((i[0] as number) * (shape[1] as number) + (i[1] as number)) * (shape[2] as number) + (i[2] as number)) *
    (shape[3] as number) *
    (shape[4] as number) +
  (i[3] as number) * (shape[4] as number) +
  (i[4] as number)

/** y = conv3d(x, w) in float64; w is [kt, kh, kw, ci, co]. */
const refConv3d = (
  x: Float64Array,
  xShape: Shape5,
  w: Float64Array,
  wShape: Shape5,
  s: Triple,
  padding: Padding3d,
): { y: Float64Array; yShape: Shape5 } => {
  const [, , , ci, co] = wShape
  const k: Triple = [wShape[0], wShape[1], wShape[2]]
  const { out } = geometry([xShape[1], xShape[2], xShape[3]], k, s, padding)
  const yShape: Shape5 = [xShape[0], out[0], out[1], out[2], co]
  const y = new Float64Array(yShape.reduce((a, b) => a * b))
  eachTap(xShape, k, s, padding, (b, o, tap, i) => {
    for (let p = 0; p < ci; p++)
      for (let q = 0; q < co; q++)
        y[index5(yShape, [b, ...o, q])] +=
          (x[index5(xShape, [b, ...i, p])] as number) * (w[index5(wShape, [...tap, p, q])] as number)
  })
  return { y, yShape }
}

/**
 * The transposed convolution: the adjoint of conv3d from `outShape` to x's shape, i.e.
 * every input position scatters a kernel patch; w is [kt, kh, kw, co(out), ci(in)].
 */
const refConv3dTranspose = (
  x: Float64Array,
  xShape: Shape5,
  w: Float64Array,
  wShape: Shape5,
  outShape: Shape5,
  s: Triple,
  padding: "same" | "valid",
): Float64Array => {
  const [, , , co, ci] = wShape
  const k: Triple = [wShape[0], wShape[1], wShape[2]]
  const y = new Float64Array(outShape.reduce((a, b) => a * b))
  // enumerate the forward conv from outShape: its output positions are x's positions
  eachTap(outShape, k, s, padding, (b, o, tap, i) => {
    for (let p = 0; p < co; p++)
      for (let q = 0; q < ci; q++)
        y[index5(outShape, [b, ...i, p])] +=
          (x[index5(xShape, [b, ...o, q])] as number) * (w[index5(wShape, [...tap, p, q])] as number)
  })
  return y
}

const random = (seed: number, shape: ReadonlyArray<number>): Float64Array =>
  Float64Array.from(
    normals(
      rootKey(seed),
      shape.reduce((a, b) => a * b, 1),
    ),
  )

const dot = (a: Float64Array, b: Float64Array): number =>
  a.reduce((sum, v, i) => sum + v * (b[i] as number), 0)

/** Central finite differences of the scalar `loss` at every element of `v` (float64, step 1e-4). */
/** Central finite differences of the scalar `loss` (float64, step 1e-4) at 64 seeded elements of `v` (all, if fewer). */
const finiteDifferences = (
  v: Float64Array,
  loss: (v: Float64Array) => number,
): { readonly at: ReadonlyArray<number>; readonly values: Float64Array } => {
  const picks = 64
  const at =
    v.length <= picks
      ? Array.from({ length: v.length }, (_, i) => i)
      : Array.from(uniforms(rootKey(v.length), picks), (u) => Math.floor(u * v.length))
  const h = 1e-4
  const values = Float64Array.from(at, (i) => {
    const orig = v[i] as number
    v[i] = orig + h
    const up = loss(v)
    v[i] = orig - h
    const down = loss(v)
    v[i] = orig
    return (up - down) / (2 * h)
  })
  return { at, values }
}

/** The analytic gradient at the finite differences' elements, against them. */
const expectGradient = (
  analytic: ArrayLike<number>,
  fd: { readonly at: ReadonlyArray<number>; readonly values: Float64Array },
): void => {
  expectClose(
    fd.at.map((i) => analytic[i] as number),
    fd.values,
    1e-3,
  )
}

const expectClose = (actual: ArrayLike<number>, expected: ArrayLike<number>, tol = 1e-4): void => {
  expect(actual.length).toBe(expected.length)
  let scale = 1e-6
  for (let i = 0; i < expected.length; i++) scale = Math.max(scale, Math.abs(expected[i] as number))
  let worst = 0
  for (let i = 0; i < expected.length; i++)
    worst = Math.max(worst, Math.abs((actual[i] as number) - (expected[i] as number)) / scale)
  expect(worst).toBeLessThan(tol)
}

interface ConvCase {
  readonly label: string
  readonly x: Shape5
  readonly w: Shape5
  readonly stride: Triple
  readonly padding: Padding3d
}

const CONV_CASES: ReadonlyArray<ConvCase> = [
  { label: "SAME k3 s1", x: [2, 4, 5, 5, 2], w: [3, 3, 3, 2, 3], stride: [1, 1, 1], padding: "same" },
  {
    label: "SAME k5x4x4 s2, odd sizes",
    x: [1, 7, 7, 6, 2],
    w: [5, 4, 4, 2, 3],
    stride: [2, 2, 2],
    padding: "same",
  },
  {
    label: "VALID k(3,2,2) s(2,1,2)",
    x: [2, 7, 5, 6, 3],
    w: [3, 2, 2, 3, 2],
    stride: [2, 1, 2],
    padding: "valid",
  },
  {
    label: "FC_S conv2-like: explicit pad (2,0,0), spatial kernel = frame",
    x: [2, 8, 4, 4, 2],
    w: [5, 4, 4, 2, 3],
    stride: [2, 1, 1],
    padding: [2, 0, 0],
  },
]

interface TransposeCase {
  readonly label: string
  readonly x: Shape5
  readonly w: Shape5
  readonly out: Shape5
  readonly stride: Triple
  readonly padding: "same" | "valid"
}

const TRANSPOSE_CASES: ReadonlyArray<TransposeCase> = [
  {
    label: "SAME k3 s2 3→6",
    x: [2, 3, 3, 3, 2],
    w: [3, 3, 3, 3, 2],
    out: [2, 6, 6, 6, 3],
    stride: [2, 2, 2],
    padding: "same",
  },
  {
    label: "SAME k(2,5,5) s(1,2,2) (FC_S_128 deconv4-like), odd output 5",
    x: [1, 4, 3, 3, 3],
    w: [2, 5, 5, 2, 3],
    out: [1, 4, 5, 5, 2],
    stride: [1, 2, 2],
    padding: "same",
  },
  {
    label:
      "VALID k(5,4,4) s(2,1,1) 2x1x1 → 8x4x4, output one frame longer than the kernel reach (FC_S_128 deconv2-like)",
    x: [2, 2, 1, 1, 3],
    w: [5, 4, 4, 2, 3],
    out: [2, 8, 4, 4, 2],
    stride: [2, 1, 1],
    padding: "valid",
  },
]

const backends = [...new Set([testBackend === "auto" ? "tensorflow" : testBackend, "cpu"])] as const

describe.each(backends)("3-D kernels on %s", (backend) => {
  let available = true
  beforeAll(async () => {
    try {
      await selectBackend(backend as "tensorflow" | "cpu")
    } catch {
      available = false
    }
  })

  it("a hand-computed case: all-ones 3×3×3 SAME convolution counts the in-range taps; a transposed convolution of one voxel places the kernel", () => {
    if (!available) return
    const y = tf.tidy(() =>
      conv3dOp(tf.ones([1, 3, 3, 3, 1]), tf.ones([3, 3, 3, 1, 1]), {
        kind: "conv3d",
        name: "c",
        kernel: [3, 3, 3],
        stride: [1, 1, 1],
        padding: "same",
        filters: 1,
        activation: "none",
        initStd: 0,
      }).dataSync(),
    )
    // centre sees 27 taps, a face centre 18, an edge centre 12, a corner 8
    expect(y[13]).toBe(27)
    expect(y[4]).toBe(18)
    expect(y[1]).toBe(12)
    expect(y[0]).toBe(8)
    // one voxel of value 2 at the centre of a 1×1×1 input, transposed VALID k(2,2,2) → the kernel ×2
    const kernel = [1, 2, 3, 4, 5, 6, 7, 8]
    const t = tf.tidy(() =>
      conv3dTransposeOp(
        tf.fill([1, 1, 1, 1, 1], 2) as tf.Tensor5D,
        tf.tensor5d(kernel, [2, 2, 2, 1, 1]),
        [1, 2, 2, 2, 1],
        [1, 1, 1],
        "valid",
      ).dataSync(),
    )
    expect(Array.from(t)).toEqual(kernel.map((v) => 2 * v))
  })

  it.each([
    ...CONV_CASES.filter((c) => typeof c.padding === "string"),
    {
      label: "SAME k(2,5,5) s(1,2,2), 3 input channels",
      x: [2, 4, 9, 8, 3],
      w: [2, 5, 5, 3, 4],
      stride: [1, 2, 2],
      padding: "same",
    },
    {
      label: "VALID k(5,3,3) s(3,2,1), kernel taps fewer than stride",
      x: [1, 11, 7, 5, 2],
      w: [2, 3, 3, 2, 2],
      stride: [3, 2, 1],
      padding: "valid",
    },
  ] as ReadonlyArray<ConvCase>)(
    "the sub-pixel input gradient equals TensorFlow's Conv3DBackpropInputV2: $label",
    (c) => {
      if (!available) return
      const [native, ours] = tf.tidy(() => {
        const pad = c.padding as "same" | "valid"
        const w = tf.tensor5d(Float32Array.from(random(7, c.w)), c.w)
        const y = tf.conv3d(tf.zeros(c.x) as tf.Tensor5D, w, [...c.stride], pad)
        const dy = tf.tensor5d(Float32Array.from(random(8, y.shape)), y.shape)
        const kernel = tf
          .engine()
          .runKernel(
            tf.Conv3DBackpropInputV2,
            { dy, filter: w },
            { strides: [...c.stride], pad, inputShape: c.x },
          ) as tf.Tensor
        return [kernel.dataSync(), conv3dBackpropInput(dy, w, c.x, c.stride, pad).dataSync()]
      })
      expectClose(ours, native)
    },
  )

  it.each(CONV_CASES)("Conv3D values and both gradients: $label", (c) => {
    if (!available) return
    const x = random(1, c.x)
    const w = random(2, c.w)
    const layer: Conv3dLayer = {
      kind: "conv3d",
      name: "c",
      kernel: [c.w[0], c.w[1], c.w[2]],
      stride: c.stride,
      padding: c.padding,
      filters: c.w[4],
      activation: "none",
      initStd: 0,
    }
    const ref = refConv3d(x, c.x, w, c.w, c.stride, c.padding)
    // a random weighting of the outputs makes the scalar loss sensitive to every output
    const r = random(3, ref.yShape)
    const { y, gx, gw, shape } = tf.tidy(() => {
      const xt = tf.tensor5d(Float32Array.from(x), c.x)
      const wt = tf.tensor5d(Float32Array.from(w), c.w)
      const rt = tf.tensor5d(Float32Array.from(r), ref.yShape)
      const out = conv3dOp(xt, wt, layer)
      const loss = (a: tf.Tensor, b: tf.Tensor) =>
        tf.sum(tf.mul(conv3dOp(a as tf.Tensor5D, b as tf.Tensor5D, layer), rt))
      const [dx, dw] = tf.grads(loss)([xt, wt]) as [tf.Tensor, tf.Tensor]
      return { y: out.dataSync(), gx: dx.dataSync(), gw: dw.dataSync(), shape: out.shape }
    })
    expect(shape).toEqual(ref.yShape)
    expectClose(y, ref.y)
    expectGradient(
      gx,
      finiteDifferences(x, (v) => dot(refConv3d(v, c.x, w, c.w, c.stride, c.padding).y, r)),
    )
    expectGradient(
      gw,
      finiteDifferences(w, (v) => dot(refConv3d(x, c.x, v, c.w, c.stride, c.padding).y, r)),
    )
  })

  it("the transposed convolution from a 1×1 frame to a 16×16 one with 32 channels (FC_S_64-like), where TensorFlow 2.16's oneDNN Conv3DBackpropInputV2 is wrong", () => {
    if (!available) return
    const xs: Shape5 = [1, 6, 1, 1, 8]
    const ws: Shape5 = [5, 16, 16, 32, 8]
    const out: Shape5 = [1, 16, 16, 16, 32]
    const x = random(9, xs)
    const w = random(10, ws)
    const y = tf.tidy(() =>
      conv3dTransposeOp(
        tf.tensor5d(Float32Array.from(x), xs),
        tf.tensor5d(Float32Array.from(w), ws),
        out,
        [2, 1, 1],
        "valid",
      ).dataSync(),
    )
    expectClose(y, refConv3dTranspose(x, xs, w, ws, out, [2, 1, 1], "valid"))
  })

  it.each(TRANSPOSE_CASES)(
    "Conv3DBackpropInputV2 as a transposed convolution, values and custom gradients: $label",
    (c) => {
      if (!available) return
      const x = random(4, c.x)
      const w = random(5, c.w)
      const r = random(6, c.out)
      const expected = refConv3dTranspose(x, c.x, w, c.w, c.out, c.stride, c.padding)
      const { y, gx, gw } = tf.tidy(() => {
        const xt = tf.tensor5d(Float32Array.from(x), c.x)
        const wt = tf.tensor5d(Float32Array.from(w), c.w)
        const rt = tf.tensor5d(Float32Array.from(r), c.out)
        const op = (a: tf.Tensor, b: tf.Tensor) =>
          conv3dTransposeOp(a as tf.Tensor5D, b as tf.Tensor5D, c.out, c.stride, c.padding)
        const [dx, dw] = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(op(a, b), rt)))([xt, wt]) as [
          tf.Tensor,
          tf.Tensor,
        ]
        return { y: op(xt, wt).dataSync(), gx: dx.dataSync(), gw: dw.dataSync() }
      })
      expectClose(y, expected)
      const fx = finiteDifferences(x, (v) =>
        dot(refConv3dTranspose(v, c.x, w, c.w, c.out, c.stride, c.padding), r),
      )
      const fw = finiteDifferences(w, (v) =>
        dot(refConv3dTranspose(x, c.x, v, c.w, c.out, c.stride, c.padding), r),
      )
      expectGradient(gx, fx)
      expectGradient(gw, fw)
    },
  )
})

it("the 3-D ops refuse the wasm backend, whose strided 3-D kernels are wrong, naming the backends to use", async () => {
  await selectBackend("wasm")
  const layer: Conv3dLayer = {
    kind: "conv3d",
    name: "c",
    kernel: [3, 3, 3],
    stride: [2, 2, 2],
    padding: "same",
    filters: 2,
    activation: "none",
    initStd: 0,
  }
  expect(() => tf.tidy(() => conv3dOp(tf.zeros([1, 4, 4, 4, 1]), tf.zeros([3, 3, 3, 1, 2]), layer))).toThrow(
    /cannot run on the "wasm" backend.*Use backend "tensorflow".*or "cpu"/,
  )
  expect(() =>
    tf.tidy(() =>
      conv3dTransposeOp(
        tf.zeros([1, 2, 2, 2, 2]),
        tf.zeros([3, 3, 3, 1, 2]),
        [1, 4, 4, 4, 1],
        [2, 2, 2],
        "same",
      ),
    ),
  ).toThrow(/wasm/)
})

describe("dynamic-texture nets (FC_S / FC_S_128)", () => {
  beforeAll(async () => {
    await selectBackend(testBackend)
  })
  afterAll(() => {
    tf.disposeVariables()
  })

  const shapeThrough = (spec: NetSpec): ReadonlyArray<number> => {
    const [t, h, w, c] = spec.inputShape as [number, number, number, number]
    let size: Triple = [t, h, w]
    let channels = c
    for (const layer of spec.layers as ReadonlyArray<Layer3d>) {
      size = outSize3d(layer, size)
      channels = layer.filters
    }
    return [...size, channels]
  }

  it("official shapes: z [10,1,1,5] → [64,128,128,3]; the descriptor maps it to [8,1,1,10]; layer shapes as in the official code", () => {
    expect(videoLatentFrames(64)).toBe(10)
    const g = dynamicTexture.generator(officialVideoOptions)
    const d = dynamicTexture.descriptor(officialVideoOptions)
    expect(g.inputShape).toEqual([10, 1, 1, 5])
    expect(shapeThrough(g)).toEqual([64, 128, 128, 3])
    expect(g.layers.map((l) => (l.kind === "convTranspose3d" ? [...l.outSize, l.filters] : []))).toEqual([
      [14, 1, 1, 256],
      [32, 32, 32, 128],
      [64, 64, 64, 64],
      [64, 128, 128, 3],
    ])
    expect(shapeThrough(d)).toEqual([8, 1, 1, 10])
    // parameter counts: the spatially "fully connected" layers dominate
    const count = (spec: NetSpec) =>
      paramSpecs(spec).reduce((a, p) => a + p.shape.reduce((x, y) => x * y, 1), 0)
    expect(count(d)).toBe(5 * 5 * 5 * 3 * 120 + 120 + 5 * 64 * 64 * 120 * 30 + 30 + 5 * 30 * 10 + 10)
    expect(count(g)).toBe(
      5 * 5 * 256 + 256 + 5 * 32 * 32 * 128 * 256 + 128 + 5 * 5 * 5 * 64 * 128 + 64 + 2 * 5 * 5 * 3 * 64 + 3,
    )
    expect(dynamicTexture.unfit?.([64, 128, 128, 3])).toBeUndefined()
    expect(dynamicTexture.unfit?.([16, 64, 64, 3])).toMatch(/at least 26/)
    expect(dynamicTexture.unfit?.([32, 30, 30, 3])).toMatch(/multiple of 4/)
    expect(forwardMacs(g)).toBeGreaterThan(forwardMacs(d))
  })

  it("the CPU-scale nets run: z → videos in [-1, 1] of the data's shape, scored per video, gradients reach every parameter", () => {
    const video = CPU_VIDEO_SHAPE
    const tiny = { ...cpuVideoOptions, descriptorChannels: [4, 3], generatorChannels: [6, 4, 3] }
    const gSpec = dynamicTexture.generator(tiny, video)
    const dSpec = dynamicTexture.descriptor(tiny, video)
    const gp = initParams(gSpec, rootKey(1), "g")
    const dp = initParams(dSpec, rootKey(2), "d")
    const before = tf.memory().numTensors
    tf.tidy(() => {
      const z = tf.randomNormal([2, ...gSpec.inputShape])
      const x = forward(gSpec, gp, z)
      expect(x.shape).toEqual([2, ...video])
      expect(tf.max(x).dataSync()[0]).toBeLessThanOrEqual(1)
      expect(tf.min(x).dataSync()[0]).toBeGreaterThanOrEqual(-1)
      expect(tf.max(x).dataSync()[0]).toBeGreaterThan(tf.min(x).dataSync()[0] as number)
      expect(forward(dSpec, dp, x).shape).toEqual([2, 4, 1, 1, 10])
      const { grads } = tf.variableGrads(
        () => tf.sum(forward(dSpec, dp, forward(gSpec, gp, z))),
        [...gp.values(), ...dp.values()],
      )
      expect(Object.keys(grads)).toHaveLength(gp.size + dp.size)
      for (const [name, g] of Object.entries(grads))
        expect(tf.sum(tf.abs(g)).dataSync()[0], name).toBeGreaterThan(0)
    })
    expect(tf.memory().numTensors).toBe(before)
  })
})
