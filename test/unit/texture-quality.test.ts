/**
 * The texture quality measure on images whose answer is known: the exemplar
 * itself scores 0, other crops of it score near the floor, noise and flat
 * images far from it; a brightness offset changes neither distance and a
 * contrast change only the SWD, in proportion; determinism, bad shapes, no
 * leaked tensors.
 */
import * as tf from "@tensorflow/tfjs-core"
import { beforeAll, describe, expect, it } from "vitest"
import { foldIn, rootKey, uniforms } from "../../src/models/random.js"
import {
  exemplarCrops,
  minimumSide,
  overFloor,
  type Shape3,
  scoreImage,
  scoreTextures,
  textureFloor,
  textureQualityDefaults,
  textureReference,
} from "../../src/models/texture-quality.js"
import { useTestBackend } from "../support.js"

beforeAll(async () => {
  await useTestBackend()
})

/**
 * A seeded synthetic texture in [0.1, 0.9]: a brick-like pattern (rows of
 * blocks offset every other row, with mortar lines) plus fine noise.
 */
const bricks = (h: number, w: number, c: 1 | 3, seed: number): Float32Array => {
  const noise = uniforms(foldIn(rootKey(seed), "bricks"), h * w * c)
  const out = new Float32Array(h * w * c)
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      const row = Math.floor(y / 12)
      const mortar = y % 12 < 2 || (x + (row % 2) * 10) % 20 < 2
      for (let k = 0; k < c; k++) {
        const base = mortar ? 0.8 : 0.35 + 0.05 * k
        out[(y * w + x) * c + k] = base + 0.04 * ((noise[(y * w + x) * c + k] as number) - 0.5)
      }
    }
  return out
}

const SIDE = 64
const exemplarShape: Shape3 = [160, 160, 1]
const exemplar = bricks(160, 160, 1, 1)

describe("texture quality", () => {
  it("scores the exemplar against itself as 0 style, 0 SWD, ratios 1", () => {
    const ref = textureReference(exemplar, exemplarShape)
    const s = scoreImage(ref, exemplar, exemplarShape)
    expect(s.style).toBeCloseTo(0, 6)
    expect(s.swd).toBeCloseTo(0, 6)
    expect(s.meanRatio).toBeCloseTo(1, 6)
    expect(s.contrastRatio).toBeCloseTo(1, 6)
    expect(s.styleByScale).toHaveLength(textureQualityDefaults.styleScales.length)
    expect(s.swdByScale).toHaveLength(textureQualityDefaults.patchScales.length)
  })

  it("puts other crops near the floor and noise and flat images far from it", () => {
    const ref = textureReference(exemplar, exemplarShape)
    const floor = textureFloor(ref, SIDE, 12)
    expect(floor.perImage).toHaveLength(12)
    expect(floor.mean.style).toBeGreaterThan(0)
    expect(floor.mean.swd).toBeGreaterThan(0)
    // crops of another exemplar of the same texture (other noise): as good as the exemplar's own crops
    const twin = bricks(160, 160, 1, 2)
    const twinRef = textureReference(twin, exemplarShape)
    const crops = exemplarCrops(twinRef, SIDE, 6)
    const near = overFloor(scoreTextures(ref, crops, 6, [SIDE, SIDE, 1]).mean, floor.mean)
    expect(near.style).toBeLessThan(1.6)
    expect(near.swd).toBeLessThan(1.6)
    // uniform noise and a flat image at the exemplar's mean (a relative Gram distance saturates near 1)
    const noise = uniforms(rootKey(9), SIDE * SIDE)
    const flat = new Float32Array(SIDE * SIDE).fill(ref.pixelMean)
    for (const image of [noise, flat]) {
      const far = overFloor(scoreImage(ref, image, [SIDE, SIDE, 1]), floor.mean)
      expect(far.style).toBeGreaterThan(3)
      expect(far.swd).toBeGreaterThan(3)
    }
    const flatScores = scoreImage(ref, flat, [SIDE, SIDE, 1])
    // zero-mean filters do not respond to a flat image: its Gram is 0, a relative distance of 1
    expect(flatScores.style).toBeCloseTo(1, 6)
    expect(flatScores.contrastRatio).toBe(0)
    expect(flatScores.meanRatio).toBeCloseTo(1, 5)
  })

  it("ignores a brightness offset, and a contrast change moves only the SWD, in proportion", () => {
    const ref = textureReference(exemplar, exemplarShape)
    const offset = scoreImage(
      ref,
      exemplar.map((v) => v + 0.05),
      exemplarShape,
    )
    expect(offset.style).toBeLessThan(1e-4)
    expect(offset.swd).toBeLessThan(1e-4)
    expect(offset.meanRatio).toBeCloseTo((ref.pixelMean + 0.05) / ref.pixelMean, 4)
    // x → kx: ReLU responses scale by k (trace-normalised Grams do not move) and every
    // patch projection by k, so each direction's W1 is |k − 1| times its mean |quantile|
    const scaled = (k: number) =>
      scoreImage(
        ref,
        exemplar.map((v) => k * v),
        exemplarShape,
      )
    const [a, b] = [scaled(1.1), scaled(1.2)]
    expect(a.style).toBeLessThan(1e-4)
    expect(b.style).toBeLessThan(1e-4)
    expect(a.swd).toBeGreaterThan(0.001)
    expect(b.swd / a.swd).toBeCloseTo(2, 3)
    expect(a.contrastRatio).toBeCloseTo(1.1, 4)
  })

  it("compares with the floor level by level and takes the worst level", () => {
    const floor = {
      style: 0.2,
      swd: 0.02,
      styleByScale: [0.1, 0.3],
      swdByScale: [0.01, 0.03],
      meanRatio: 1,
      contrastRatio: 1,
    }
    const scores = { ...floor, style: 0.35, swd: 0.03, styleByScale: [0.4, 0.3], swdByScale: [0.015, 0.045] }
    expect(overFloor(scores, floor)).toEqual({
      style: 4,
      swd: 1.5,
      styleByScale: [4, 1],
      swdByScale: [1.5, 1.5],
    })
  })

  it("scores colour images channel-aware: swapping channels is seen", () => {
    const colour = bricks(96, 96, 3, 3)
    const ref = textureReference(colour, [96, 96, 3])
    const swapped = new Float32Array(colour.length)
    for (let i = 0; i < colour.length; i += 3) {
      swapped[i] = colour[i + 2] as number
      swapped[i + 1] = colour[i + 1] as number
      swapped[i + 2] = colour[i] as number
    }
    const same = scoreImage(ref, colour, [96, 96, 3])
    const other = scoreImage(ref, swapped, [96, 96, 3])
    expect(same.style).toBeCloseTo(0, 6)
    expect(other.style).toBeGreaterThan(0.01)
    expect(other.swd).toBeGreaterThan(0.001)
  })

  it("is deterministic for a seed, and the seed picks the filters", () => {
    const a = textureReference(exemplar, exemplarShape, { seed: 4 })
    const b = textureReference(exemplar, exemplarShape, { seed: 4 })
    const c = textureReference(exemplar, exemplarShape, { seed: 5 })
    expect(a.grams[0]?.gram).toEqual(b.grams[0]?.gram)
    expect(a.quantiles[1]).toEqual(b.quantiles[1])
    expect(a.grams[0]?.gram).not.toEqual(c.grams[0]?.gram)
    expect(textureFloor(a, SIDE, 4)).toEqual(textureFloor(b, SIDE, 4))
    expect(textureFloor(a, SIDE, 4).mean.style).not.toBe(textureFloor(c, SIDE, 4).mean.style)
  })

  it("reports per-image scores with their mean and spread", () => {
    const ref = textureReference(exemplar, exemplarShape)
    const noise = uniforms(rootKey(3), SIDE * SIDE)
    const crop = exemplarCrops(ref, SIDE, 1)
    const both = new Float32Array(2 * SIDE * SIDE)
    both.set(crop, 0)
    both.set(noise, SIDE * SIDE)
    const r = scoreTextures(ref, both, 2, [SIDE, SIDE, 1])
    const [s0, s1] = [scoreImage(ref, crop, [SIDE, SIDE, 1]), scoreImage(ref, noise, [SIDE, SIDE, 1])]
    expect(r.perImage).toEqual([s0, s1])
    expect(r.mean.style).toBeCloseTo((s0.style + s1.style) / 2, 6)
    expect(r.spread.swd).toBeCloseTo(Math.abs(s0.swd - s1.swd) / 2, 6)
    expect(r.mean.styleByScale[2]).toBeCloseTo(
      ((s0.styleByScale[2] as number) + (s1.styleByScale[2] as number)) / 2,
      6,
    )
  })

  it("rejects images it cannot score, naming what is wrong", () => {
    const ref = textureReference(exemplar, exemplarShape)
    const side = minimumSide(ref.options)
    expect(side).toBe(40)
    expect(() => scoreImage(ref, new Float32Array(32 * 32), [32, 32, 1])).toThrow(
      "the image is 32x32, smaller than the 40x40 that the measure's coarsest level needs",
    )
    expect(() => scoreImage(ref, new Float32Array(48 * 48 * 3), [48, 48, 3])).toThrow(
      "the image has 3 channels but the exemplar 1",
    )
    expect(() => scoreTextures(ref, new Float32Array(10), 2, [48, 48, 1])).toThrow(
      "expected 2 images of 48x48x1 (4608 values), got 10",
    )
    expect(() => textureFloor(ref, 256)).toThrow("a 256x256 crop does not fit in the 160x160 exemplar")
    expect(() => textureReference(new Float32Array(5), [160, 160, 1])).toThrow(
      "the exemplar holds 5 values, not 160x160x1",
    )
  })

  it("leaks no tensors", () => {
    const before = tf.memory().numTensors
    const ref = textureReference(exemplar, exemplarShape)
    textureFloor(ref, SIDE, 3)
    scoreImage(ref, uniforms(rootKey(1), SIDE * SIDE), [SIDE, SIDE, 1])
    expect(tf.memory().numTensors).toBe(before)
  })
})
