import "@tensorflow/tfjs" // registers the gradients of the core ops
import "@tensorflow/tfjs-backend-cpu"
import "@tensorflow/tfjs-backend-wasm"
import * as tf from "@tensorflow/tfjs-core"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import {
  fallbackKernelsRegistered,
  registerFallbackKernels,
  unregisterFallbackKernels,
} from "../../src/pipeline/backend/kernels.js"

type Pad =
  | "same"
  | "valid"
  | number
  | [[number, number], [number, number], [number, number], [number, number]]

interface Case {
  readonly label: string
  readonly x: [number, number, number, number]
  readonly k: [number, number]
  readonly cout: number
  readonly strides: [number, number]
  readonly pad: Pad
  readonly rounding?: "floor" | "round" | "ceil"
  /** tfjs's conv2d gradient drops dimRoundingMode: cpu's own kernel then skips dy's last row/col. */
  readonly cpuKernelWrong?: true
}

const CASES: ReadonlyArray<Case> = [
  {
    label: "TF-SAME odd padding 7->4, k4 s2",
    x: [3, 7, 7, 2],
    k: [4, 4],
    cout: 5,
    strides: [2, 2],
    pad: "same",
  },
  { label: "same k3 s1", x: [2, 8, 8, 3], k: [3, 3], cout: 4, strides: [1, 1], pad: "same" },
  {
    label: "same k4 s2 even 28->14, cin 1",
    x: [2, 28, 28, 1],
    k: [4, 4],
    cout: 6,
    strides: [2, 2],
    pad: "same",
  },
  {
    label: "valid k3 s2 non-square input",
    x: [2, 9, 8, 2],
    k: [3, 3],
    cout: 4,
    strides: [2, 2],
    pad: "valid",
  },
  { label: "valid k5 s1", x: [2, 9, 9, 2], k: [5, 5], cout: 3, strides: [1, 1], pad: "valid" },
  { label: "numeric pad 1, k4 s2", x: [2, 7, 7, 2], k: [4, 4], cout: 3, strides: [2, 2], pad: 1 },
  {
    label: "numeric pad 0, k4 s2, dimRoundingMode ceil",
    x: [2, 7, 7, 2],
    k: [4, 4],
    cout: 3,
    strides: [2, 2],
    pad: 0,
    rounding: "ceil",
    cpuKernelWrong: true,
  },
  {
    label: "explicit pads [1,2]x[0,1], rectangular k3x2, strides [2,1]",
    x: [2, 7, 6, 2],
    k: [3, 2],
    cout: 4,
    strides: [2, 1],
    pad: [
      [0, 0],
      [1, 2],
      [0, 1],
      [0, 0],
    ],
  },
  {
    label: "k1 s1 (one tap, no padding)",
    x: [2, 5, 5, 3],
    k: [1, 1],
    cout: 2,
    strides: [1, 1],
    pad: "valid",
  },
]

const filterShape = (c: Case): [number, number, number, number] => [c.k[0], c.k[1], c.x[3], c.cout]

/** dL/dW for L = sum(conv2d(x, W) * dy), i.e. Conv2DBackpropFilter(x, dy), through tf.grad. */
const filterGrad = (c: Case, x: tf.Tensor4D, dy: tf.Tensor4D): tf.Tensor4D =>
  tf.tidy(
    () =>
      tf.grad((w: tf.Tensor) =>
        tf.sum(tf.mul(tf.conv2d(x, w as tf.Tensor4D, c.strides, c.pad, "NHWC", 1, c.rounding), dy)),
      )(tf.zeros(filterShape(c))) as tf.Tensor4D,
  )

interface Fixture {
  readonly x: number[][][][]
  readonly dy: number[][][][]
  /** From the cpu backend's own Conv2DBackpropFilter. */
  readonly reference: number[][][][]
  /** From the definition, as a plain loop. */
  readonly loop: number[][][][]
}

/** dW[i,j,ci,co] = sum over b,y,x of x[b, y*sh+i-top, x*sw+j-left, ci] * dy[b,y,x,co] (zero outside x). */
const explicitLoop = (c: Case, x: number[][][][], dy: number[][][][]): number[][][][] => {
  const info = tf.backend_util.computeConv2DInfo(c.x, filterShape(c), c.strides, 1, c.pad, c.rounding)
  const { top, left } = info.padInfo
  const [kh, kw] = c.k
  const cin = c.x[3]
  const at = <T>(a: ReadonlyArray<T>, i: number): T => a[i] as T
  const dw = Array.from({ length: kh }, () =>
    Array.from({ length: kw }, () => Array.from({ length: cin }, () => new Array<number>(c.cout).fill(0))),
  )
  for (const [bi, rows] of dy.entries()) {
    for (const [y, cols] of rows.entries()) {
      for (const [xo, g] of cols.entries()) {
        for (let i = 0; i < kh; i++) {
          for (let j = 0; j < kw; j++) {
            const r = y * c.strides[0] + i - top
            const col = xo * c.strides[1] + j - left
            if (r < 0 || r >= c.x[1] || col < 0 || col >= c.x[2]) continue
            const px = at(at(at(x, bi), r), col)
            for (let ci = 0; ci < cin; ci++) {
              const acc = at(at(at(dw, i), j), ci)
              for (let co = 0; co < c.cout; co++) acc[co] = at(acc, co) + at(px, ci) * at(g, co)
            }
          }
        }
      }
    }
  }
  return dw
}

const maxAbsDiff = (a: tf.Tensor, b: number[][][][]): number =>
  tf.tidy(() => tf.max(tf.abs(tf.sub(a, tf.tensor(b)))).dataSync()[0] ?? Number.NaN)

describe("Conv2DBackpropFilter fallback kernel", () => {
  const fixtures = new Map<string, Fixture>()

  beforeAll(async () => {
    // Reference: the cpu backend's own (naive) kernel, before the fallback replaces it.
    unregisterFallbackKernels()
    await tf.setBackend("cpu")
    tf.enableProdMode()
    for (const c of CASES) {
      const x = tf.randomNormal(c.x) as tf.Tensor4D
      const yShape = tf.tidy(
        () => tf.conv2d(x, tf.zeros(filterShape(c)), c.strides, c.pad, "NHWC", 1, c.rounding).shape,
      )
      const dy = tf.randomNormal(yShape) as tf.Tensor4D
      const reference = filterGrad(c, x, dy)
      const [xs, dys] = [x.arraySync(), dy.arraySync()]
      fixtures.set(c.label, {
        x: xs,
        dy: dys,
        reference: reference.arraySync(),
        loop: explicitLoop(c, xs, dys),
      })
      tf.dispose([x, dy, reference])
    }
    registerFallbackKernels()
  })

  afterAll(() => {
    unregisterFallbackKernels()
  })

  it("the references agree (except where cpu's own kernel is wrong)", () => {
    for (const c of CASES) {
      const f = fixtures.get(c.label)
      if (f === undefined) throw new Error("missing fixture")
      const diff = maxAbsDiff(tf.tensor4d(f.reference), f.loop)
      if (c.cpuKernelWrong) expect(diff).toBeGreaterThan(1e-3)
      else expect(diff).toBeLessThan(1e-4)
    }
  })

  it("replaces cpu's kernel and adds wasm's", () => {
    expect(fallbackKernelsRegistered("cpu")).toBe(true)
    expect(fallbackKernelsRegistered("wasm")).toBe(true)
    expect(tf.getKernel("Conv2DBackpropFilter", "wasm")?.kernelFunc).toBeTypeOf("function")
  })

  for (const backend of ["cpu", "wasm"] as const) {
    describe(backend, () => {
      beforeAll(async () => {
        expect(await tf.setBackend(backend)).toBe(true)
      })

      for (const c of CASES) {
        it(`matches the reference: ${c.label}`, () => {
          const f = fixtures.get(c.label)
          if (f === undefined) throw new Error("missing fixture")
          const x = tf.tensor4d(f.x)
          const dy = tf.tensor4d(f.dy)
          const dataIdsBefore = tf.engine().backend.numDataIds()
          const got = filterGrad(c, x, dy)
          expect(got.shape).toEqual(filterShape(c))
          expect(maxAbsDiff(got, f.loop)).toBeLessThan(1e-4)
          if (!c.cpuKernelWrong) expect(maxAbsDiff(got, f.reference)).toBeLessThan(1e-4)
          got.dispose()
          // No intermediate of the kernel is left behind.
          expect(tf.engine().backend.numDataIds()).toBe(dataIdsBefore)
          tf.dispose([x, dy])
        })
      }

      it("handles NCHW like the reference kernel", () => {
        const c = CASES[0] as Case
        const f = fixtures.get(c.label)
        if (f === undefined) throw new Error("missing fixture")
        const toNchw = (a: number[][][][]) => tf.transpose(tf.tensor4d(a), [0, 3, 1, 2])
        const x = toNchw(f.x)
        const dy = toNchw(f.dy)
        const got = tf
          .engine()
          .runKernel(
            "Conv2DBackpropFilter",
            { x, dy },
            { strides: c.strides, pad: c.pad, dataFormat: "NCHW", filterShape: filterShape(c) },
          ) as tf.Tensor
        expect(maxAbsDiff(got, f.reference)).toBeLessThan(1e-4)
        tf.dispose([x, dy, got])
      })
    })
  }
})

/**
 * The ops the models use, forward and backward, on wasm against cpu: shows wasm has every kernel
 * they need (conv2d, conv2dTranspose and both their gradients, leakyRelu, tanh, moments,
 * add/mul/sub/div, sum, mean, square, sqrt, reshape, pad, slice, matMul) and that they agree.
 */
describe("wasm vs cpu on a descriptor + generator step", () => {
  const B = 4
  const graph = (p: Record<string, tf.Tensor>) =>
    tf.tidy(() => {
      const z = p.z as tf.Tensor2D
      let h = tf.reshape(tf.matMul(z, p.g1 as tf.Tensor2D), [B, 4, 4, 8]) as tf.Tensor4D
      const m = tf.moments(h, [0, 1, 2])
      h = tf.leakyRelu(tf.div(tf.sub(h, m.mean), tf.sqrt(tf.add(m.variance, 1e-5))), 0.2)
      h = tf.leakyRelu(tf.conv2dTranspose(h, p.g2 as tf.Tensor4D, [B, 7, 7, 4], 2, "same"), 0.2)
      const img = tf.tanh(tf.conv2dTranspose(h, p.g3 as tf.Tensor4D, [B, 14, 14, 1], 2, "same"))
      let d = tf.leakyRelu(
        tf.conv2d(
          tf.pad(img, [
            [0, 0],
            [1, 1],
            [1, 1],
            [0, 0],
          ]),
          p.d1 as tf.Tensor4D,
          2,
          "valid",
        ),
        0.2,
      )
      d = tf.leakyRelu(tf.conv2d(d, p.d2 as tf.Tensor4D, 2, "same"), 0.2)
      const flat = tf.reshape(tf.slice(d, [0, 0, 0, 0], [B, 3, 3, 8]), [B, 72]) as tf.Tensor2D
      const score = tf.matMul(flat, p.d3 as tf.Tensor2D)
      return tf.add(tf.mean(tf.square(score)), tf.sum(tf.mul(img, 0.01)))
    })

  const shapes: Record<string, number[]> = {
    z: [B, 6],
    g1: [6, 128],
    g2: [4, 4, 4, 8],
    g3: [4, 4, 1, 4],
    d1: [4, 4, 1, 6],
    d2: [3, 3, 6, 8],
    d3: [72, 1],
  }

  const gradsOn = async (backend: string, values: Record<string, number[]>) => {
    expect(await tf.setBackend(backend)).toBe(true)
    const names = Object.keys(shapes)
    const params = names.map((n) => tf.tensor(values[n] as number[], shapes[n]))
    const { value, grads } = tf.valueAndGrads((...ps: tf.Tensor[]) =>
      graph(Object.fromEntries(names.map((n, i) => [n, ps[i] as tf.Tensor]))),
    )(params)
    const out = { loss: value.dataSync()[0] ?? Number.NaN, grads: grads.map((g) => Array.from(g.dataSync())) }
    tf.dispose([value, ...grads, ...params])
    return out
  }

  it("gives the same loss and gradients", async () => {
    await tf.setBackend("cpu")
    const values = Object.fromEntries(
      Object.entries(shapes).map(([n, s]) => [n, Array.from(tf.randomNormal(s, 0, 0.5).dataSync())]),
    )
    unregisterFallbackKernels(["cpu"]) // reference: cpu's own kernels
    const cpu = await gradsOn("cpu", values)
    registerFallbackKernels()
    const wasm = await gradsOn("wasm", values)
    expect(Math.abs(cpu.loss - wasm.loss)).toBeLessThan(1e-4 * Math.max(1, Math.abs(cpu.loss)))
    cpu.grads.forEach((g, i) => {
      const w = wasm.grads[i] as number[]
      const diff = Math.max(...g.map((v, j) => Math.abs(v - (w[j] ?? Number.NaN))))
      const scale = Math.max(1, ...g.map(Math.abs))
      // float32 summation order differs between the backends; relative to the gradient's size.
      expect(diff / scale).toBeLessThan(1e-4)
    })
  })

  it("runs Adam's update ops on wasm", async () => {
    expect(await tf.setBackend("wasm")).toBe(true)
    const w = tf.variable(tf.ones([3, 3]))
    const opt = tf.train.adam(0.1)
    opt.minimize(() => tf.sum(tf.square(w)))
    expect(Array.from(w.dataSync()).every((v) => Math.abs(v - 0.9) < 1e-4)).toBe(true)
    opt.dispose()
    w.dispose()
  })
})
