/**
 * The texture nets' contracts: any image size with one set of weights,
 * shapes and ranges, no checkerboard from the generator's upsampling, the
 * upsample layer itself, no leaked tensors through a whole cooperative step
 * at two sizes, and determinism of sampling at a size larger than training.
 */
import * as tf from "@tensorflow/tfjs-core"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { descriptorStep, generate, generatorStep, langevinRevise, score } from "../../src/models/coopnets.js"
import { forward, initParams, type NetSpec, paramSpecs, wrapPad } from "../../src/models/layers.js"
import {
  type ModelOptions,
  texture,
  textureOfficial,
  texturePeriodic,
  textureUpsampling,
} from "../../src/models/nets.js"
import { foldIn, normalTensor, rootKey } from "../../src/models/random.js"
import type { PipelineSpec } from "../../src/pipeline/config/spec.js"
import { buildModels, disposeModels } from "../../src/pipeline/nets/build.js"
import { drawFromNoise, drawSamples } from "../../src/pipeline/nets/draw.js"
import { tinySpec, useTestBackend } from "../support.js"

const o: ModelOptions = {
  descriptorChannels: [5, 4, 3],
  descriptorUnits: 1,
  zDim: 2,
  generatorChannels: [6, 4],
}
const sizes: ReadonlyArray<readonly [number, number, number]> = [
  [32, 32, 1],
  [64, 64, 1],
  [48, 80, 3],
]

beforeAll(async () => {
  await useTestBackend()
})

const dispose = (...nets: ReadonlyArray<ReadonlyMap<string, tf.Variable>>) =>
  tf.dispose(nets.flatMap((p) => [...p.values()]))

describe("texture nets at any size", () => {
  it("build the same parameters for every size and map latent maps of side/2^L to images of that size", () => {
    const factor = textureUpsampling(o)
    expect(factor).toBe(8)
    for (const image of sizes) {
      const g = texture.generator(o, image)
      const d = texture.descriptor(o, image)
      expect(g.inputShape).toEqual([image[0] / factor, image[1] / factor, o.zDim])
      expect(paramSpecs(g)).toEqual(paramSpecs(texture.generator(o, [32, 32, image[2]])))
      expect(paramSpecs(d)).toEqual(paramSpecs(texture.descriptor(o, [32, 32, image[2]])))
      const gp = initParams(g, rootKey(1), "g")
      const dp = initParams(d, rootKey(2), "d")
      tf.tidy(() => {
        const x = forward(g, gp, normalTensor(rootKey(3), [2, ...g.inputShape]))
        expect(x.shape).toEqual([2, ...image])
        const v = x.dataSync()
        expect(Math.max(...v)).toBeLessThan(1)
        expect(Math.min(...v)).toBeGreaterThan(-1)
        // the descriptor keeps a map over positions (15x15 s3, then stride 1)
        expect(forward(d, dp, x).shape).toEqual([2, Math.ceil(image[0] / 3), Math.ceil(image[1] / 3), 3])
        expect(score({ spec: d, params: dp }, x).shape).toEqual([2])
      })
      dispose(gp, dp)
    }
  })

  it("refuses a size the generator cannot make", () => {
    expect(() => texture.generator(o, [36, 36, 1])).toThrow(
      "texture generator: image 36x36 is not a multiple of 8",
    )
  })
})

describe("no checkerboard from the generator's upsampling", () => {
  /** Interior pixels of g(z) for a constant latent map: a translation-invariant generator makes them all equal. */
  const interiorSpread = (spec: NetSpec, seed: number): number => {
    const params = initParams(spec, rootKey(seed), "g")
    const spread = tf.tidy(() => {
      const x = forward(spec, params, tf.fill([2, ...spec.inputShape], 0.7))
      const [, h, w] = x.shape
      // stay clear of the zero padding's reach at the borders
      const inner = tf.slice(x, [0, 16, 16, 0], [2, h - 32, w - 32, 1])
      const v = inner.dataSync()
      return Math.max(...v) - Math.min(...v)
    })
    dispose(params)
    return spread
  }

  it("resize-convolutions give a flat interior for a flat latent map; 5x5 stride-2 transposed convolutions do not", () => {
    const image = [64, 64, 1] as const
    expect(interiorSpread(texture.generator(o, image), 5)).toBeLessThan(1e-5)
    expect(interiorSpread(textureOfficial.generator(o, image), 5)).toBeGreaterThan(1e-4)
  })

  it("the upsample layer repeats every pixel into a factor x factor block", () => {
    const spec: NetSpec = {
      inputShape: [2, 3, 1],
      layers: [{ kind: "upsample", name: "up", factor: 2, filters: 1 }],
    }
    const y = tf.tidy(() =>
      forward(spec, new Map(), tf.tensor4d([1, 2, 3, 4, 5, 6], [1, 2, 3, 1])).arraySync(),
    )
    expect(y).toEqual([
      [
        [[1], [1], [2], [2], [3], [3]],
        [[1], [1], [2], [2], [3], [3]],
        [[4], [4], [5], [5], [6], [6]],
        [[4], [4], [5], [5], [6], [6]],
      ],
    ])
    expect(paramSpecs(spec)).toEqual([])
  })
})

describe("the periodic generator (texturePeriodic)", () => {
  const image = [32, 32, 1] as const
  const g = texturePeriodic.generator(o, image)
  let params: ReadonlyMap<string, tf.Variable> = new Map()
  beforeAll(() => {
    params = initParams(g, rootKey(9), "periodic")
  })
  afterAll(() => dispose(params))

  it("has texture's parameters, so a checkpoint of either loads in the other", () => {
    expect(paramSpecs(g)).toEqual(paramSpecs(texture.generator(o, image)))
    expect(texturePeriodic.descriptor(o, image)).toEqual(texture.descriptor(o, image))
  })

  it("pads periodically", () => {
    const y = tf.tidy(() => wrapPad(tf.tensor4d([1, 2, 3, 4], [1, 2, 2, 1]), 1).arraySync())
    expect(y).toEqual([
      [
        [[4], [3], [4], [3]],
        [[2], [1], [2], [1]],
        [[4], [3], [4], [3]],
        [[2], [1], [2], [1]],
      ],
    ])
  })

  it("is a flat image for a flat latent map, borders included (no position knows the border)", () => {
    const spread = tf.tidy(() => {
      const v = forward(g, params, tf.fill([2, ...g.inputShape], 0.7)).dataSync()
      return Math.max(...v) - Math.min(...v)
    })
    expect(spread).toBeLessThan(1e-5)
  })

  it("commutes with shifts: rolling the latent map by a cell rolls the image by 2^L pixels", () => {
    const factor = textureUpsampling(o)
    const roll = (x: tf.Tensor4D, by: number) => {
      const h = x.shape[1]
      return tf.concat(
        [tf.slice(x, [0, h - by, 0, 0], [-1, by, -1, -1]), tf.slice(x, [0, 0, 0, 0], [-1, h - by, -1, -1])],
        1,
      )
    }
    const gap = tf.tidy(() => {
      const z = normalTensor(rootKey(10), [2, ...g.inputShape]) as tf.Tensor4D
      const a = roll(forward(g, params, z), factor)
      const b = forward(g, params, roll(z, 1))
      return tf.max(tf.abs(tf.sub(a, b))).dataSync()[0] as number
    })
    expect(gap).toBeLessThan(1e-5)
  })

  it("at twice the size, a 2x2 tiling of a latent map gives the 2x2 tiling of its image (same local process, same batch-norm statistics)", () => {
    const big = texturePeriodic.generator(o, [64, 64, 1])
    const gap = tf.tidy(() => {
      const z = normalTensor(rootKey(11), [2, ...g.inputShape]) as tf.Tensor4D
      const tiled = tf.tile(forward(g, params, z), [1, 2, 2, 1])
      const fromTiled = forward(big, params, tf.tile(z, [1, 2, 2, 1]))
      return tf.max(tf.abs(tf.sub(tiled, fromTiled))).dataSync()[0] as number
    })
    expect(gap).toBeLessThan(1e-4)
  })

  it("with the same weights, makes other images than texture's zero-padded generator", () => {
    const gap = tf.tidy(() => {
      const z = normalTensor(rootKey(12), [2, ...g.inputShape])
      const d = tf.sub(forward(g, params, z), forward(texture.generator(o, image), params, z))
      return tf.max(tf.abs(d)).dataSync()[0] as number
    })
    expect(gap).toBeGreaterThan(1e-4)
  })
})

describe("a cooperative step at two sizes", () => {
  it("leaks no tensor after a warm-up step, at the training size and at twice it", () => {
    const train = [32, 32, 1] as const
    const g = texture.generator(o, train)
    const d = texture.descriptor(o, train)
    const gp = initParams(g, rootKey(1), "g")
    const dp = initParams(d, rootKey(2), "d")
    const dOpt = tf.train.adam(0.001, 0.5)
    const gOpt = tf.train.adam(0.001, 0.5)
    const langevin = { steps: 2, stepSize: 0.002, refSigma: 0.016, noise: true }
    const step = (i: number, image: readonly [number, number, number]) => {
      const gs = { spec: texture.generator(o, image), params: gp }
      const ds = { spec: texture.descriptor(o, image), params: dp }
      const z = normalTensor(foldIn(rootKey(4), i), [2, ...gs.spec.inputShape]) as tf.Tensor2D
      const drafts = tf.tidy(() => generate(gs, z))
      const observed = normalTensor(foldIn(rootKey(5), i), [2, ...image], 0.5) as tf.Tensor4D
      const { revised } = langevinRevise(ds, drafts, langevin, foldIn(rootKey(6), i))
      descriptorStep(ds, dOpt, observed, revised, langevin.refSigma)
      generatorStep(gs, gOpt, z, revised, 0.3)
      tf.dispose([z, drafts, observed, revised])
    }
    step(0, train)
    step(1, [64, 64, 1])
    const before = tf.memory().numTensors
    step(2, train)
    step(3, [64, 64, 1])
    expect(tf.memory().numTensors).toBe(before)
    dOpt.dispose()
    gOpt.dispose()
    dispose(gp, dp)
  })
})

const textureSpec = (): PipelineSpec =>
  tinySpec({
    data: { source: "texture", path: "data/brick.png", size: 32, crops: 4, scale: 1, channels: 1 },
    model: { arch: "texture", ...o },
    training: { iterations: 2, batchSize: 4, chains: 4 },
  })

describe("sampling at twice the training size", () => {
  const spec = textureSpec()
  const models = buildModels(spec)
  afterAll(() => disposeModels(models))

  it("is deterministic for a seed, from drafts and from noise, and another seed gives other images", () => {
    const image = [64, 64, 1] as const
    const a = drawSamples(models, spec, 3, 2, 7, image)
    const b = drawSamples(models, spec, 3, 2, 7, image)
    const c = drawSamples(models, spec, 3, 2, 8, image)
    expect(a.length).toBe(3 * 64 * 64)
    expect(Buffer.from(a.buffer).equals(Buffer.from(b.buffer))).toBe(true)
    expect(Buffer.from(a.buffer).equals(Buffer.from(c.buffer))).toBe(false)
    const n1 = drawFromNoise(models, spec, 5, 2, 7, image)
    const n2 = drawFromNoise(models, spec, 5, 2, 7, image)
    expect(n1.length).toBe(5 * 64 * 64)
    expect(n1.every(Number.isFinite)).toBe(true)
    expect(Buffer.from(n1.buffer).equals(Buffer.from(n2.buffer))).toBe(true)
  })

  it("leaves no tensor behind", () => {
    const before = tf.memory().numTensors
    drawSamples(models, spec, 5, 1, 0, [64, 64, 1])
    drawFromNoise(models, spec, 5, 1, 0, [64, 64, 1])
    expect(tf.memory().numTensors).toBe(before)
  })
})
