import * as tf from "@tensorflow/tfjs-core"
import { beforeAll, describe, expect, it } from "vitest"
import { normals, rootKey } from "../../src/models/random.js"
import {
  type ClipShape,
  floorStarts,
  scoreClip,
  scoreClips,
  videoFloor,
  videoReference,
} from "../../src/models/video-quality.js"
import { useTestBackend } from "../support.js"

const H = 16
const W = 16
const C = 3

/**
 * A moving texture: a sum of two plane waves drifting right at `speed` pixels per frame,
 * with a little seeded noise; frames `start … start + frames − 1`; values in [0, 1].
 */
const drifting = (start: number, frames: number, speed = 1, seed = 1): Float32Array => {
  const noise = normals(rootKey(seed), frames * H * W * C)
  const out = new Float32Array(frames * H * W * C)
  for (let t = 0; t < frames; t++)
    for (let y = 0; y < H; y++)
      for (let x = 0; x < W; x++)
        for (let c = 0; c < C; c++) {
          const u = x - speed * (start + t)
          const i = ((t * H + y) * W + x) * C + c
          out[i] =
            0.5 +
            0.2 * Math.sin(u * 0.7 + c) +
            0.15 * Math.cos(0.9 * y + 0.4 * u) +
            0.02 * (noise[i] as number)
        }
  return out
}

const T = 12
const shape: ClipShape = [T, H, W, C]

describe("dynamic-texture measure", () => {
  beforeAll(async () => {
    await useTestBackend()
  })

  it("the observed clip scores 0 against itself, with motion ratio 1, and leaks no tensors", () => {
    const clip = drifting(0, T)
    const ref = videoReference(clip, shape)
    const before = tf.memory().numTensors
    const s = scoreClip(ref, clip, shape)
    expect(tf.memory().numTensors).toBe(before)
    expect(s.differenceSwd).toBe(0)
    expect(s.transitionSwd).toBe(0)
    expect(s.frameSwd).toBe(0)
    expect(s.motionRatio).toBeCloseTo(1, 6)
  })

  it("another window of the same motion is near; a frozen clip, white noise, and the motion reversed or doubled are far", () => {
    const ref = videoReference(drifting(0, T), shape)
    const later = scoreClip(ref, drifting(2 * T, T, 1, 2), shape)
    const frozen = new Float32Array(T * H * W * C)
    const first = drifting(0, 1)
    for (let t = 0; t < T; t++) frozen.set(first, t * H * W * C)
    const still = scoreClip(ref, frozen, shape)
    const noise = scoreClip(
      ref,
      Float32Array.from(normals(rootKey(9), T * H * W * C), (v) => Math.min(1, Math.max(0, 0.5 + 0.2 * v))),
      shape,
    )
    const reversed = scoreClip(ref, drifting(0, T, -1, 3), shape)
    const fast = scoreClip(ref, drifting(0, T, 2, 4), shape)
    expect(still.motionRatio).toBe(0)
    expect(noise.motionRatio).toBeGreaterThan(2)
    // the statistics of frames alone cannot tell a frozen or a reversed clip from the real one…
    expect(still.frameSwd).toBeLessThan(3 * later.frameSwd + 0.01)
    expect(reversed.frameSwd).toBeLessThan(3 * later.frameSwd + 0.01)
    // …the temporal ones can: frame differences see a frozen, noisy or faster clip, but not a
    // symmetric wave drifting the other way; (frame, difference) pairs see that too
    for (const far of [still, noise, fast]) expect(far.differenceSwd).toBeGreaterThan(3 * later.differenceSwd)
    expect(reversed.differenceSwd).toBeLessThan(2 * later.differenceSwd)
    for (const far of [still, noise, reversed, fast])
      expect(far.transitionSwd).toBeGreaterThan(3 * later.transitionSwd)
  })

  it("the floor scores other windows of the clip against the first; clips are averaged with their spread", () => {
    expect(floorStarts(64, 32, 16)).toEqual([16, 32])
    expect(floorStarts(64, 32, 8)).toEqual([8, 16, 24, 32])
    expect(floorStarts(32, 32, 16)).toEqual([])
    const all = drifting(0, 3 * T)
    const ref = videoReference(all.subarray(0, T * H * W * C), shape)
    const floor = videoFloor(ref, all, 3 * T, T)
    expect(floor?.starts).toEqual([T, 2 * T])
    const direct = [T, 2 * T].map((s) =>
      scoreClip(ref, all.subarray(s * H * W * C, (s + T) * H * W * C), shape),
    )
    expect(floor?.report.perClip).toEqual(direct)
    const [a, b] = direct.map((s) => s.differenceSwd) as [number, number]
    expect(floor?.report.mean.differenceSwd).toBeCloseTo((a + b) / 2, 12)
    expect(floor?.report.spread.differenceSwd).toBeCloseTo(Math.abs(a - b) / 2, 12)
    expect(videoFloor(ref, all.subarray(0, T * H * W * C), T)).toBeUndefined()
    const again = scoreClips(ref, all.subarray(T * H * W * C), 2, shape)
    expect(again.perClip).toEqual(direct)
  })

  it("refuses clips that do not fit", () => {
    const ref = videoReference(drifting(0, T), shape)
    expect(() => scoreClip(ref, drifting(0, 1), [1, H, W, C])).toThrow(/at least 2/)
    expect(() => scoreClip(ref, new Float32Array(T * H * W), [T, H, W, 1])).toThrow(
      /1 channels but the observed clip 3/,
    )
    expect(() => scoreClips(ref, drifting(0, T), 2, shape)).toThrow(/expected 2 clips/)
  })
})
