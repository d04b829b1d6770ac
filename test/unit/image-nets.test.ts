/**
 * The image architectures (object64, cifar32, texture) and latent
 * interpolation: output sizes, the texture nets at a size other than the
 * training one, and interpolation endpoints equal to the generator's outputs
 * at the endpoint latents.
 */
import * as tf from "@tensorflow/tfjs-core"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { generate, withLabels } from "../../src/models/coopnets.js"
import { generateEach, interpolate, interpolationPaths } from "../../src/models/interpolation.js"
import { oneHot } from "../../src/models/labels.js"
import { forward, initParams, type NetSpec, paramSpecs } from "../../src/models/layers.js"
import { cifar32, type ModelOptions, object64, texture } from "../../src/models/nets.js"
import { foldIn, normals, normalTensor, rootKey } from "../../src/models/random.js"
import { interpolationFrames, interpolationReference } from "../../src/pipeline/commands/interpolate.js"
import { latentSizeOf } from "../../src/pipeline/config/shapes.js"
import type { PipelineSpec } from "../../src/pipeline/config/spec.js"
import { buildModels, disposeModels } from "../../src/pipeline/nets/build.js"
import { drawSamples } from "../../src/pipeline/nets/draw.js"
import { tinySpec, useTestBackend } from "../support.js"

const count = (spec: NetSpec) => paramSpecs(spec).reduce((n, p) => n + p.shape.reduce((a, b) => a * b, 1), 0)

beforeAll(async () => {
  await useTestBackend()
})

const shapesThrough = (d: NetSpec, g: NetSpec, zShape: ReadonlyArray<number>) => {
  const dp = initParams(d, rootKey(1), "t/d")
  const gp = initParams(g, rootKey(2), "t/g")
  const out = tf.tidy(() => {
    const x = forward(g, gp, normalTensor(rootKey(3), zShape))
    const v = x.dataSync()
    return { image: x.shape, score: forward(d, dp, x).shape, lo: Math.min(...v), hi: Math.max(...v) }
  })
  tf.dispose([...dp.values(), ...gp.values()])
  return out
}

describe("object64 and cifar32 nets", () => {
  const tiny: ModelOptions = {
    descriptorChannels: [3, 4, 5],
    descriptorUnits: 2,
    zDim: 6,
    generatorChannels: [8, 6, 4, 3],
  }

  it("object64 has the official parameter count", () => {
    const official = {
      descriptorChannels: [64, 128, 256],
      descriptorUnits: 100,
      zDim: 100,
      generatorChannels: [512, 256, 128, 64],
    }
    // 5·5·3·64+64 + 3·3·64·128+128 + 3·3·128·256+256 + 16·16·256·100+100
    expect(count(object64.descriptor(official))).toBe(4864 + 73856 + 295168 + 6553700)
    // 4·4·512·100+512 + 5·5·256·512+256 + 5·5·128·256+128 + 5·5·64·128+64 + 5·5·3·64+3
    expect(count(object64.generator(official))).toBe(819712 + 3277056 + 819328 + 204864 + 4803)
  })

  it("object64 maps z to 64x64 images (colour or grey) and images to 1x1xunits", () => {
    const colour = shapesThrough(object64.descriptor(tiny), object64.generator(tiny), [2, 6])
    expect(colour.image).toEqual([2, 64, 64, 3])
    expect(colour.score).toEqual([2, 1, 1, 2])
    expect(colour.lo).toBeGreaterThanOrEqual(-1)
    expect(colour.hi).toBeLessThanOrEqual(1)
    const grey = shapesThrough(
      object64.descriptor(tiny, [64, 64, 1]),
      object64.generator(tiny, [64, 64, 1]),
      [2, 6],
    )
    expect(grey.image).toEqual([2, 64, 64, 1])
  })

  it("cifar32 maps z to 32x32x3 images and images to 1x1xunits", () => {
    const o = { ...tiny, generatorChannels: [8, 6, 4] }
    const r = shapesThrough(cifar32.descriptor(o), cifar32.generator(o), [3, 6])
    expect(r.image).toEqual([3, 32, 32, 3])
    expect(r.score).toEqual([3, 1, 1, 2])
  })
})

describe("texture nets", () => {
  const o: ModelOptions = {
    descriptorChannels: [4, 3, 2],
    descriptorUnits: 1,
    zDim: 2,
    generatorChannels: [6, 4],
  }

  it("take a latent map of side/2^layers and make images of the requested size with one set of weights", () => {
    const g64 = texture.generator(o, [64, 64, 1])
    const g128 = texture.generator(o, [128, 96, 1])
    expect(g64.inputShape).toEqual([8, 8, 2])
    expect(g128.inputShape).toEqual([16, 12, 2])
    expect(paramSpecs(g128)).toEqual(paramSpecs(g64))
    expect(paramSpecs(texture.descriptor(o, [128, 96, 1]))).toEqual(
      paramSpecs(texture.descriptor(o, [64, 64, 1])),
    )
    const gp = initParams(g64, rootKey(2), "t/g")
    const dp = initParams(texture.descriptor(o, [64, 64, 1]), rootKey(1), "t/d")
    tf.tidy(() => {
      const small = forward(g64, gp, normalTensor(rootKey(3), [2, 8 * 8 * 2]))
      const large = forward(g128, gp, normalTensor(rootKey(3), [2, 16 * 12 * 2]))
      expect(small.shape).toEqual([2, 64, 64, 1])
      expect(large.shape).toEqual([2, 128, 96, 1])
      // the descriptor is a map over positions (15x15 s3, then stride 1): ceil(side / 3)
      expect(forward(texture.descriptor(o, [128, 96, 1]), dp, large).shape).toEqual([2, 43, 32, 2])
    })
    tf.dispose([...gp.values(), ...dp.values()])
  })

  it("sample at a larger size than the training crops", () => {
    const spec = textureSpec()
    const models = buildModels(spec)
    const values = drawSamples(models, spec, 3, 1, 0, [64, 64, 3])
    disposeModels(models)
    expect(values.length).toBe(3 * 64 * 64 * 3)
    expect(values.every(Number.isFinite)).toBe(true)
  })
})

const textureSpec = (): PipelineSpec =>
  tinySpec({
    data: { source: "texture", path: "data/brick.png", size: 32, crops: 4, scale: 1, channels: 3 },
    model: {
      arch: "texture",
      descriptorChannels: [4, 3, 2],
      descriptorUnits: 1,
      zDim: 2,
      generatorChannels: [6, 4],
    },
    training: { iterations: 2, batchSize: 4, chains: 4 },
  })

describe("latent interpolation", () => {
  it("linear and spherical paths start and end exactly at the endpoints; slerp keeps the norm of orthogonal unit vectors", () => {
    const a = Float32Array.from([1, 0, 0])
    const b = Float32Array.from([0, 1, 0])
    for (const mode of ["linear", "spherical"] as const) {
      expect(interpolate(a, b, 0, mode)).toEqual(a)
      expect(interpolate(a, b, 1, mode)).toEqual(b)
    }
    const mid = interpolate(a, b, 0.5, "spherical")
    expect(Math.hypot(...mid)).toBeCloseTo(1, 6)
    expect([...interpolate(a, b, 0.5, "linear")]).toEqual([0.5, 0.5, 0])
    const paths = interpolationPaths(
      Float32Array.from([1, 0, 5, 5]),
      Float32Array.from([0, 1, 7, 9]),
      2,
      3,
      "linear",
    )
    expect([...paths]).toEqual([1, 0, 0.5, 0.5, 0, 1, 5, 5, 6, 7, 7, 9])
  })

  describe("frames of a trained-shape generator", () => {
    const spec = tinySpec()
    let models: ReturnType<typeof buildModels>
    beforeAll(() => {
      models = buildModels(spec)
    })
    afterAll(() => disposeModels(models))

    it("evaluate each frame on its own: a frame does not depend on the frames beside it", () => {
      const dim = latentSizeOf(spec)
      tf.tidy(() => {
        const reference = tf.tensor2d(normals(rootKey(9), 5 * dim), [5, dim])
        const z = tf.tensor2d(normals(rootKey(8), 3 * dim), [3, dim])
        const together = generateEach(models.generator, z, reference)
        const alone = generateEach(models.generator, tf.slice(z, [2, 0], [1, -1]), reference)
        expect(together.shape).toEqual([3, 28, 28, 1])
        expect([...tf.slice(together, [2, 0, 0, 0], [1, -1, -1, -1]).dataSync()]).toEqual([
          ...alone.dataSync(),
        ])
      })
    })

    for (const mode of ["linear", "spherical"] as const)
      it(`${mode}: the first and last frame of every pair are the generator's outputs at the endpoint latents`, () => {
        const steps = 5
        const pairs = 2
        const dim = latentSizeOf(spec)
        const frames = interpolationFrames(models, spec, { steps, pairs, mode, langevinSteps: 0, seed: 4 })
        expect(frames.images.length).toBe(pairs * steps * 28 * 28)
        for (let p = 0; p < pairs; p++)
          for (const i of [0, steps - 1]) {
            const row = p * steps + i
            const latent = frames.latents.subarray(row * dim, (row + 1) * dim)
            // g at the endpoint latent: the last row of the generator's output on [reference batch; latent]
            const direct = tf.tidy(() => {
              const reference = interpolationReference(spec, dim, 4)
              const x = generate(models.generator, tf.concat([reference, tf.tensor2d(latent, [1, dim])], 0))
              return tf.slice(x, [reference.shape[0], 0, 0, 0], [1, -1, -1, -1]).dataSync() as Float32Array
            })
            expect([...frames.images.subarray(row * 784, (row + 1) * 784)]).toEqual([...direct])
          }
        // the endpoint latents are the seeded start and end draws
        const key = foldIn(rootKey(4), "interpolate")
        const starts = normals(foldIn(key, "start"), pairs * dim)
        const ends = normals(foldIn(key, "end"), pairs * dim)
        for (let p = 0; p < pairs; p++) {
          expect(frames.latents.subarray(p * steps * dim, (p * steps + 1) * dim)).toEqual(
            starts.subarray(p * dim, (p + 1) * dim),
          )
          expect(frames.latents.subarray((p * steps + steps - 1) * dim, (p + 1) * steps * dim)).toEqual(
            ends.subarray(p * dim, (p + 1) * dim),
          )
        }
      })

    it("with --langevin K revises the frames", () => {
      const plain = interpolationFrames(models, spec, {
        steps: 3,
        pairs: 1,
        mode: "linear",
        langevinSteps: 0,
        seed: 4,
      })
      const revised = interpolationFrames(models, spec, {
        steps: 3,
        pairs: 1,
        mode: "linear",
        langevinSteps: 2,
        seed: 4,
      })
      expect(revised.latents).toEqual(plain.latents)
      expect(revised.images).not.toEqual(plain.images)
    })
  })

  describe("frames of a class-conditional generator", () => {
    it("class-conditional nets: pair p is of class p mod 10, and its endpoints are the conditioned generator's outputs", () => {
      const conditional = tinySpec({ model: { ...tinySpec().model, arch: "mnistConditional" } })
      const cm = buildModels(conditional)
      const dim = latentSizeOf(conditional)
      const frames = interpolationFrames(cm, conditional, {
        steps: 3,
        pairs: 2,
        mode: "linear",
        langevinSteps: 0,
        seed: 4,
      })
      const row = 1 * 3 + 2 // pair 1, last frame
      const direct = tf.tidy(() => {
        const reference = interpolationReference(conditional, dim, 4)
        const r = reference.shape[0]
        const labels = oneHot(Int32Array.from({ length: r + 1 }, (_, j) => (j < r ? j % 10 : 1)))
        const z = tf.concat([
          reference,
          tf.tensor2d(frames.latents.subarray(row * dim, (row + 1) * dim), [1, dim]),
        ])
        const x = generate(withLabels(cm.generator, labels), z)
        return tf.slice(x, [r, 0, 0, 0], [1, -1, -1, -1]).dataSync() as Float32Array
      })
      disposeModels(cm)
      expect([...frames.images.subarray(row * 784, (row + 1) * 784)]).toEqual([...direct])
    })
  })
})
