/**
 * The rewritten kernels (src/models/conv.ts, batch-norm.ts, activations.ts)
 * against the stock tfjs ops: values and gradients on small cases covering
 * every path (dense, thin, stock) and geometry the nets use: TF-SAME with the
 * odd padding pixel after (MNIST 7→4 and 4→7), strides 1, 2 and 3, VALID,
 * 5x5 and 15x15 kernels, batch norm and activations around a convolution.
 *
 * Tolerance: float32 sums of up to k·k·cin products in another order differ by
 * a few ulps of the terms' magnitude (ε = 1.2e-7, √terms growth); 2e-5 of the
 * largest reference value is ~100x that and far below what a wrong tap, phase,
 * padding or transposition gives (an error of the order of the values).
 */
import * as tf from "@tensorflow/tfjs-core"
import { beforeAll, describe, expect, it } from "vitest"
import { activate, LEAKY_SLOPE } from "../../src/models/activations.js"
import { BATCH_NORM_EPSILON, batchNorm } from "../../src/models/batch-norm.js"
import { conv2d, conv2dTranspose, subPixelConvTranspose } from "../../src/models/conv.js"
import { forward, forwardSum, initParams, type NetSpec, type Padding } from "../../src/models/layers.js"
import { mnist, mnistConditional, object64, texture } from "../../src/models/nets.js"
import { normalTensor, rootKey } from "../../src/models/random.js"
import { registerNativeKernels } from "../../src/pipeline/backend/native-kernels.js"
import { useTestBackend } from "../support.js"

beforeAll(async () => {
  await useTestBackend()
})

const TOLERANCE = 2e-5

/** max |a − b| relative to max |b| (b the stock op's result) */
const relativeError = (a: tf.Tensor, b: tf.Tensor): number =>
  tf.tidy(() => {
    expect(a.shape).toEqual(b.shape)
    const scale = tf.max(tf.abs(b)).dataSync()[0] as number
    return (tf.max(tf.abs(tf.sub(a, b))).dataSync()[0] as number) / Math.max(scale, 1e-30)
  })

const randn = (seed: number, shape: number[]): tf.Tensor4D =>
  normalTensor(rootKey(seed), shape) as tf.Tensor4D

/** values and gradients (w.r.t. both inputs, for a random cotangent) of f and its stock counterpart */
const expectSameOp = (
  ours: (x: tf.Tensor4D, w: tf.Tensor4D) => tf.Tensor4D,
  stock: (x: tf.Tensor4D, w: tf.Tensor4D) => tf.Tensor4D,
  x: tf.Tensor4D,
  w: tf.Tensor4D,
  seed: number,
): void =>
  tf.tidy(() => {
    const y = stock(x, w)
    expect(relativeError(ours(x, w), y)).toBeLessThan(TOLERANCE)
    const dy = randn(seed, y.shape)
    const [gx, gw] = tf.grads((a: tf.Tensor, b: tf.Tensor) => ours(a as tf.Tensor4D, b as tf.Tensor4D))(
      [x, w],
      dy,
    )
    const [sx, sw] = tf.grads((a: tf.Tensor, b: tf.Tensor) => stock(a as tf.Tensor4D, b as tf.Tensor4D))(
      [x, w],
      dy,
    )
    expect(relativeError(gx as tf.Tensor, sx as tf.Tensor)).toBeLessThan(TOLERANCE)
    expect(relativeError(gw as tf.Tensor, sw as tf.Tensor)).toBeLessThan(TOLERANCE)
  })

/** [label, input side, kernel, stride, padding, output side] */
type Geometry = readonly [string, number, number, number, Padding, number]
const transposedGeometries: ReadonlyArray<Geometry> = [
  ["MNIST 4→7, SAME, pads 1 before and 2 after", 4, 4, 2, "same", 7],
  ["MNIST 7→14, SAME, even", 7, 4, 2, "same", 14],
  ["MNIST 14→28", 14, 4, 2, "same", 28],
  ["1→4 VALID (the first generator layer)", 1, 4, 1, "valid", 4],
  ["5x5 stride 2, 4→8 (object/texture generators)", 4, 5, 2, "same", 8],
  ["odd output 7→13", 7, 4, 2, "same", 13],
  ["3x3 stride 1 SAME", 5, 3, 1, "same", 5],
  ["15x15 stride 3 SAME (texture descriptor's first layer, transposed)", 3, 15, 3, "same", 9],
  ["VALID stride 2 with a spare output row, 8→18", 8, 4, 2, "valid", 18],
  ["VALID stride 3, 5→17", 5, 3, 3, "valid", 17],
]

describe("subPixelConvTranspose equals tf.conv2dTranspose", () => {
  for (const [label, i, k, s, p, o] of transposedGeometries)
    it(label, () =>
      tf.tidy(() => {
        const x = randn(1, [2, i, i, 3])
        const w = randn(2, [k, k, 2, 3])
        const ours = subPixelConvTranspose(x, w, [o, o], s, p)
        expect(relativeError(ours, tf.conv2dTranspose(x, w, [2, o, o, 2], s, p))).toBeLessThan(TOLERANCE)
      }),
    )

  it("a wrong phase order would be caught: the test's tolerance separates a shifted result", () =>
    tf.tidy(() => {
      const x = randn(3, [2, 4, 4, 3])
      const w = randn(4, [4, 4, 2, 3])
      const stock = tf.conv2dTranspose(x, w, [2, 7, 7, 2], 2, "same")
      const shifted = tf.conv2dTranspose(x, w, [2, 8, 8, 2], 2, "same").slice([0, 1, 1, 0], [2, 7, 7, 2])
      expect(relativeError(shifted, stock)).toBeGreaterThan(0.1)
    }))
})

describe("conv2dTranspose: values and gradients equal the stock op on every path", () => {
  const cases: ReadonlyArray<readonly [string, number, number, number, Padding, number, number, number]> = [
    // [label, in side, kernel, stride, padding, out side, cin, cout]
    ["dense: 1x1 → 4x4 VALID as a matrix product", 1, 4, 1, "valid", 4, 5, 6],
    ["thin (1 channel): 14→28, the MNIST image layer", 14, 4, 2, "same", 28, 4, 1],
    ["thin (1 channel): 4→7, odd SAME padding", 4, 4, 2, "same", 7, 4, 1],
    ["thin (3 channels): 5x5 stride 2, 8→16", 8, 5, 2, "same", 16, 4, 3],
    ["thin: VALID stride 2, 3→8", 3, 4, 2, "valid", 8, 4, 2],
    ["stock (wide): 4→7", 4, 4, 2, "same", 7, 3, 5],
  ]
  for (const [label, i, k, s, p, o, cin, cout] of cases)
    it(label, () =>
      expectSameOp(
        (x, w) => conv2dTranspose(x, w, [o, o], s, p),
        (x, w) => tf.conv2dTranspose(x, w, [x.shape[0], o, o, cout], s, p),
        randn(10, [3, i, i, cin]),
        randn(11, [k, k, cout, cin]),
        12,
      ),
    )
})

describe("conv2d: values and gradients equal the stock op on every path", () => {
  const cases: ReadonlyArray<readonly [string, number, number, number, Padding, number, number]> = [
    // [label, in side, kernel, stride, padding, cin, cout]
    ["dense: VALID kernel over the whole 4x4 input (the descriptor's fc layer)", 4, 4, 1, "valid", 5, 6],
    ["dense: a 7x7 VALID kernel on a 7x7 input", 7, 7, 1, "valid", 3, 2],
    ["thin input (1 channel): 28→14, k4 s2 SAME", 28, 4, 2, "same", 1, 4],
    ["thin input (1 channel): 7→4, odd SAME padding", 7, 4, 2, "same", 1, 3],
    ["thin input (3 channels): 5x5 stride 2, 16→8", 16, 5, 2, "same", 3, 4],
    ["thin input: 15x15 stride 3 SAME (texture descriptor)", 20, 15, 3, "same", 1, 2],
    ["thin input: 3x3 stride 1 SAME", 6, 3, 1, "same", 2, 3],
    ["thin input: VALID stride 2", 9, 3, 2, "valid", 1, 2],
    ["stock (wide): 7→4", 7, 4, 2, "same", 4, 5],
  ]
  for (const [label, i, k, s, p, cin, cout] of cases)
    it(label, () =>
      expectSameOp(
        (x, w) => conv2d(x, w, s, p),
        (x, w) => tf.conv2d(x, w, s, p),
        randn(20, [3, i, i, cin]),
        randn(21, [k, k, cin, cout]),
        22,
      ),
    )

  it("differentiating w.r.t. the input alone runs no filter-gradient kernel (and vice versa)", async () => {
    const x = randn(30, [2, 14, 14, 1])
    const w = tf.variable(randn(31, [4, 4, 1, 8]))
    const kernels = async (f: () => tf.Tensor) =>
      (await tf.profile(() => tf.tidy(f))).kernels.map((k) => k.name)
    const inputOnly = await kernels(() =>
      tf.grad((a: tf.Tensor) => tf.sum(conv2d(a as tf.Tensor4D, w, 2, "same")))(x),
    )
    const weightsOnly = await kernels(() =>
      tf.grad((b: tf.Tensor) => tf.sum(conv2d(x, b as tf.Tensor4D, 2, "same")))(w),
    )
    expect(inputOnly).not.toContain("Conv2DBackpropFilter")
    expect(inputOnly).toContain("DepthToSpace") // the sub-pixel input gradient
    expect(weightsOnly).toContain("Conv2DBackpropFilter")
    expect(weightsOnly).not.toContain("DepthToSpace")
    tf.dispose([x, w])
  })
})

/** The batch norm the nets used before: differentiated by tfjs through tf.moments. */
const stockBatchNorm = (x: tf.Tensor4D, beta: tf.Tensor): tf.Tensor4D => {
  const { mean, variance } = tf.moments(x, [0, 1, 2])
  return tf.add(tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, BATCH_NORM_EPSILON))), beta)
}

describe("batch norm with its written-out gradient", () => {
  it("equals the tf.moments form in value and gradients, between a transposed conv and a leaky ReLU", () =>
    tf.tidy(() => {
      const z = randn(40, [6, 4, 4, 5])
      const w = tf.mul(randn(41, [4, 4, 3, 5]), 0.3) as tf.Tensor4D
      const beta = tf.mul(randn(42, [3]), 0.1)
      // a per-channel offset so that the centring matters
      const layer =
        (bn: (x: tf.Tensor4D, beta: tf.Tensor) => tf.Tensor4D) =>
        (a: tf.Tensor, b: tf.Tensor, c: tf.Tensor) =>
          tf.leakyRelu(
            bn(tf.add(conv2dTranspose(a as tf.Tensor4D, b as tf.Tensor4D, [7, 7], 2, "same"), 3), c),
            LEAKY_SLOPE,
          )
      const y = layer(stockBatchNorm)(z, w, beta)
      expect(relativeError(layer(batchNorm)(z, w, beta), y)).toBeLessThan(TOLERANCE)
      const dy = randn(43, y.shape)
      const ours = tf.grads(layer(batchNorm))([z, w, beta], dy)
      const stock = tf.grads(layer(stockBatchNorm))([z, w, beta], dy)
      for (let i = 0; i < 3; i++)
        expect(relativeError(ours[i] as tf.Tensor, stock[i] as tf.Tensor)).toBeLessThan(1e-4)
    }))

  it("normalises each channel to mean β and variance v/(v + ε)", () =>
    tf.tidy(() => {
      const x = tf.add(tf.mul(randn(44, [50, 3, 3, 2]), 4), 7) as tf.Tensor4D
      const { mean, variance } = tf.moments(batchNorm(x, tf.tensor1d([0.5, -1])), [0, 1, 2])
      expect(Array.from(mean.dataSync())[0]).toBeCloseTo(0.5, 5)
      expect(Array.from(mean.dataSync())[1]).toBeCloseTo(-1, 5)
      const v = tf.moments(x, [0, 1, 2]).variance.dataSync()
      expect(variance.dataSync()[0]).toBeCloseTo(
        (v[0] as number) / ((v[0] as number) + BATCH_NORM_EPSILON),
        5,
      )
    }))
})

describe("ReLU and leaky ReLU with their own gradient kernels", () => {
  const stock = {
    relu: (a: tf.Tensor) => tf.relu(a),
    leakyRelu: (a: tf.Tensor) => tf.leakyRelu(a, LEAKY_SLOPE),
  }
  const check = () =>
    tf.tidy(() => {
      // exact zeros in x: the gradient there is that of tfjs (0 for ReLU, α for leaky ReLU)
      const x = tf.mul(tf.round(tf.mul(randn(50, [2, 5, 5, 3]), 2)), 0.5) as tf.Tensor4D
      const dy = randn(51, [2, 5, 5, 3])
      for (const a of ["relu", "leakyRelu"] as const) {
        expect(relativeError(activate(x, a), stock[a](x))).toBe(0)
        const ours = tf.grad((t: tf.Tensor) => activate(t as tf.Tensor4D, a))(x, dy)
        expect(relativeError(ours, tf.grad(stock[a])(x, dy))).toBe(0)
      }
    })
  it("equal tfjs's in value and gradient (compositions of ops)", check)
  it("and with the native TensorFlow ops where that backend is loaded", async () => {
    if (!registerNativeKernels()) return // wasm/cpu test runs: the composition above is what they use
    check()
    const x = randn(52, [2, 5, 5, 3])
    const profile = await tf.profile(() =>
      tf.grad((t: tf.Tensor) => activate(t as tf.Tensor4D, "leakyRelu"))(x),
    )
    // one native op, not the composition's greater/mul/select
    expect(profile.kernels.map((k) => k.name)).not.toContain("Select")
    tf.dispose([x, profile.result as tf.Tensor])
  })
})

describe("forwardSum: the score with the last linear layer's units summed first", () => {
  const small = { descriptorChannels: [4, 5, 6], descriptorUnits: 7, zDim: 3, generatorChannels: [4, 4, 4] }
  const spatialLinear: NetSpec = {
    inputShape: [9, 9, 2],
    layers: [
      {
        kind: "conv",
        name: "c1",
        kernel: 3,
        stride: 2,
        padding: "same",
        filters: 4,
        activation: "leakyRelu",
        initStd: 0.3,
      },
      {
        kind: "conv",
        name: "c2",
        kernel: 3,
        stride: 1,
        padding: "same",
        filters: 5,
        activation: "none",
        initStd: 0.3,
      },
    ],
  }
  const cases: ReadonlyArray<readonly [string, NetSpec]> = [
    ["MNIST descriptor (fc as a matrix-vector product)", mnist.descriptor(small)],
    ["conditional MNIST descriptor (labels)", mnistConditional.descriptor(small)],
    ["object64 descriptor", object64.descriptor(small, [16, 16, 3])],
    ["texture descriptor (ReLU last: summed as it is)", texture.descriptor(small, [20, 20, 1])],
    ["a linear last layer with a spatial output (bias at every position)", spatialLinear],
  ]
  for (const [index, [label, spec]] of cases.entries())
    it(label, () => {
      const params = initParams(spec, rootKey(60 + index), `fs${index}`)
      tf.tidy(() => {
        for (const v of params.values()) v.assign(tf.add(v, tf.mul(randn(7 + v.size, v.shape), 0.2)))
        const x = randn(70 + index, [3, ...spec.inputShape])
        const labels = tf.oneHot(tf.tensor1d([2, 4, 9], "int32"), 10).toFloat()
        const stock = (a: tf.Tensor) => tf.sum(forward(spec, params, a, labels), [1, 2, 3])
        const ours = (a: tf.Tensor) => forwardSum(spec, params, a, labels)
        expect(relativeError(ours(x), stock(x))).toBeLessThan(TOLERANCE)
        expect(
          relativeError(tf.grad((a) => tf.sum(ours(a)))(x), tf.grad((a) => tf.sum(stock(a)))(x)),
        ).toBeLessThan(TOLERANCE)
        const vars = [...params.values()]
        const a = tf.variableGrads(() => tf.sum(ours(x)), vars).grads
        const b = tf.variableGrads(() => tf.sum(stock(x)), vars).grads
        for (const name of Object.keys(b))
          expect(relativeError(a[name] as tf.Tensor, b[name] as tf.Tensor), name).toBeLessThan(TOLERANCE)
      })
      tf.dispose([...params.values()])
    })
})
