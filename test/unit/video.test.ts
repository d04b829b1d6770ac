/**
 * Video in (animated GIF, frame folder, a video file made here with the same ffmpeg) and out
 * (animated GIF grids, MP4, .npy), and the errors bad clips get.
 */
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as nodePath from "node:path"
import { Effect } from "effect"
import sharp from "sharp"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { ffmpegPath } from "../../src/pipeline/backend/ffmpeg.js"
import { decodeVideo, loadVideo, type VideoOptions } from "../../src/pipeline/data/video.js"
import { decodeNpy } from "../../src/pipeline/run-dir/image-files.js"
import {
  encodeGif,
  encodeMp4,
  encodeVideosNpy,
  GAP,
  LEAD_GAP,
  type Videos,
  videoAt,
  videoGrid,
} from "../../src/pipeline/run-dir/video-files.js"

const T = 12
const SIDE = 16

/**
 * A clip whose frame t is black with a 4×4 white square at column 1 + t (row 6), and a
 * red pixel in the top-left corner: exact under a GIF palette, and the square's position
 * tells the frame index even after lossy coding.
 */
const clip = (frames = T, side = SIDE): Videos => {
  const values = new Float32Array(frames * side * side * 3).fill(-1)
  for (let t = 0; t < frames; t++) {
    const base = t * side * side * 3
    values[base] = 1 // red corner
    for (let y = 6; y < 10; y++)
      for (let x = 1 + t; x < 5 + t; x++)
        for (let c = 0; c < 3; c++) values[base + (y * side + x) * 3 + c] = 1
  }
  return { values, shape: [1, frames, side, side, 3] }
}

/** Brightness-weighted mean column of frame t of a decoded T×H×W×C clip, below the first row (the red corner). */
const squareCentre = (frames: Float32Array, t: number, h: number, w: number, c: number): number => {
  let sum = 0
  let weighted = 0
  for (let y = 1; y < h; y++)
    for (let x = 0; x < w; x++)
      for (let ch = 0; ch < c; ch++) {
        const v = (frames[((t * h + y) * w + x) * c + ch] as number) + 1
        sum += v
        weighted += v * x
      }
  return weighted / sum
}

/** Each centre within `tol` pixels of the expected one. */
const expectCentres = (actual: ReadonlyArray<number>, expected: ReadonlyArray<number>, tol = 0.01): void => {
  expect(actual).toHaveLength(expected.length)
  actual.forEach((a, i) => {
    expect(Math.abs(a - (expected[i] as number)), `frame ${i}: ${a} vs ${expected[i]}`).toBeLessThan(tol)
  })
}

const options = (path: string, over: Partial<VideoOptions> = {}): VideoOptions => ({
  path,
  frames: 6,
  every: 1,
  start: 0,
  height: SIDE,
  width: SIDE,
  channels: 3,
  fit: "cover",
  ...over,
})

let dir = ""
let gif = ""
let frameDir = ""
let mp4 = ""
let avi = ""

beforeAll(async () => {
  dir = fs.mkdtempSync(nodePath.join(os.tmpdir(), "coopnets-video-test-"))
  gif = nodePath.join(dir, "clip.gif")
  fs.writeFileSync(gif, await encodeGif(videoAt(clip(), 0)))
  frameDir = nodePath.join(dir, "frames")
  fs.mkdirSync(frameDir)
  // names whose plain string order is wrong ("frame10" < "frame2"): natural order is expected
  const one = videoAt(clip(), 0)
  const size = SIDE * SIDE * 3
  for (let t = 0; t < T; t++)
    await sharp(one.pixels.subarray(t * size, (t + 1) * size), {
      raw: { width: SIDE, height: SIDE, channels: 3 },
    })
      .png()
      .toFile(nodePath.join(frameDir, `frame${t + 1}.png`))
  fs.writeFileSync(nodePath.join(frameDir, "notes.txt"), "not a frame")
  mp4 = nodePath.join(dir, "clip.mp4")
  fs.writeFileSync(mp4, await encodeMp4(videoAt(clip(T, 32), 0)))
  // an .avi made by the same ffmpeg from the frame folder, as the official code's training video is
  avi = nodePath.join(dir, "clip.avi")
  execFileSync(ffmpegPath(), [
    "-loglevel",
    "error",
    "-framerate",
    "25",
    "-i",
    nodePath.join(frameDir, "frame%d.png"),
    "-c:v",
    "mpeg4",
    "-q:v",
    "1",
    "-y",
    avi,
  ])
})

afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true })
})

const perFrameRange = (frames: Float32Array, t: number, size: number): [number, number] => {
  let lo = Infinity
  let hi = -Infinity
  for (let i = t * size; i < (t + 1) * size; i++) {
    lo = Math.min(lo, frames[i] as number)
    hi = Math.max(hi, frames[i] as number)
  }
  return [lo, hi]
}

describe("decoding a clip", () => {
  it("an animated GIF: frames, every k-th from a start, exact pixels, the GIF's frame rate", async () => {
    const v = await decodeVideo(options(gif, { frames: 4, every: 2, start: 1 }))
    expect(v.kind).toBe("animated-image")
    expect(v.shape).toEqual([4, SIDE, SIDE, 3])
    expect(v.available).toBe(T)
    expect(v.fps).toBe(25)
    const expected = clip().values
    const size = SIDE * SIDE * 3
    for (let i = 0; i < 4; i++) {
      const t = 1 + 2 * i
      expect(Array.from(v.frames.subarray(i * size, (i + 1) * size))).toEqual(
        Array.from(expected.subarray(t * size, (t + 1) * size)),
      )
    }
  })

  it("frames 'all' takes every frame there is", async () => {
    const v = await decodeVideo(options(gif, { frames: "all", every: 5 }))
    expect(v.shape[0]).toBe(3) // frames 0, 5, 10
    expectCentres(
      [0, 1, 2].map((t) => squareCentre(v.frames, t, SIDE, SIDE, 3)),
      [2.5, 7.5, 12.5],
    )
  })

  it("resizes and scales each frame on its own to [-1, 1] (per-frame min-max, as the official code)", async () => {
    // a dim clip: frame t spans grey levels [10t, 10t + 50]
    const values = new Float32Array(4 * 8 * 8 * 3)
    for (let t = 0; t < 4; t++)
      for (let i = 0; i < 8 * 8 * 3; i++)
        values[t * 192 + i] = (10 * t + (Math.floor(i / 3) % 6) * 10) / 127.5 - 1
    const dim = nodePath.join(dir, "dim.gif")
    fs.writeFileSync(dim, await encodeGif(videoAt({ values, shape: [1, 4, 8, 8, 3] }, 0)))
    const v = await decodeVideo(options(dim, { frames: 4, height: 4, width: 4 }))
    expect(v.shape).toEqual([4, 4, 4, 3])
    for (let t = 0; t < 4; t++) {
      const [lo, hi] = perFrameRange(v.frames, t, 48)
      expect(lo).toBe(-1)
      expect(hi).toBe(1)
    }
    const grey = await decodeVideo(options(dim, { frames: 2, channels: 1 }))
    expect(grey.shape).toEqual([2, SIDE, SIDE, 1])
  })

  it("a folder of frames, in natural name order (frame2 before frame10), other files ignored", async () => {
    const v = await decodeVideo(options(frameDir, { frames: "all" }))
    expect(v.kind).toBe("frame-folder")
    expect(v.shape).toEqual([T, SIDE, SIDE, 3])
    expect(v.available).toBe(T)
    expectCentres(
      Array.from({ length: T }, (_, t) => squareCentre(v.frames, t, SIDE, SIDE, 3)),
      Array.from({ length: T }, (_, t) => t + 2.5),
    )
  })

  it("a video file made with the same ffmpeg (.mp4 H.264 and .avi MPEG-4): frames in order, resized, the stream's frame rate", async () => {
    const v = await decodeVideo(options(mp4, { frames: 5, every: 2, start: 1 }))
    expect(v.kind).toBe("video-file")
    expect(v.shape).toEqual([5, SIDE, SIDE, 3])
    expect(v.fps).toBe(25)
    // the square's centre t + 3 (in pixel widths from the left edge) halves from 32 to 16 px
    expectCentres(
      [0, 1, 2, 3, 4].map((i) => squareCentre(v.frames, i, SIDE, SIDE, 3)),
      [1, 3, 5, 7, 9].map((t) => (t + 3) / 2 - 0.5),
      0.25,
    )
    const a = await decodeVideo(options(avi, { frames: "all" }))
    expect(a.shape).toEqual([T, SIDE, SIDE, 3])
    expect(a.available).toBe(T)
    expectCentres(
      Array.from({ length: T }, (_, t) => squareCentre(a.frames, t, SIDE, SIDE, 3)),
      Array.from({ length: T }, (_, t) => t + 2.5),
      0.5, // lossy codec: within half the one-pixel step between frames
    )
  })

  it("'cover' crops a wide clip to the centre, 'fill' squashes it", async () => {
    // 32 wide × 16 high, black, with a white stripe at x = 2, 3 and a grey one at x = 28, 29:
    // the centre 16×16 holds neither
    const wide = new Float32Array(2 * 16 * 32 * 3).fill(-1)
    for (let t = 0; t < 2; t++)
      for (let y = 0; y < 16; y++)
        for (const [x, v] of [
          [2, 1],
          [3, 1],
          [28, 0],
          [29, 0],
        ] as const)
          wide.fill(v, ((t * 16 + y) * 32 + x) * 3, ((t * 16 + y) * 32 + x) * 3 + 3)
    const file = nodePath.join(dir, "wide.gif")
    fs.writeFileSync(file, await encodeGif(videoAt({ values: wide, shape: [1, 2, 16, 32, 3] }, 0)))
    const cover = await decodeVideo(options(file, { frames: 1, height: 8, width: 8 }))
    expect(new Set(cover.frames)).toEqual(new Set([0])) // a flat frame scales to 0
    const fill = await decodeVideo(options(file, { frames: 1, height: 8, width: 8, fit: "fill" }))
    expect(Math.max(fill.frames[0] as number, fill.frames[3] as number)).toBe(1) // the white stripe, squashed to x ≈ 0.6
    expect(fill.frames[7 * 3]).toBeGreaterThan(-1) // the grey stripe at the right edge
  })
})

describe("bad clips get a message naming the file and what to do", () => {
  const failure = async (o: VideoOptions): Promise<string> => {
    const r = await Effect.runPromise(Effect.result(loadVideo(o)))
    if (r._tag === "Success") throw new Error(`expected ${o.path} to fail`)
    expect(r.failure._tag).toBe("DataError")
    return r.failure.message
  }

  it("too short for the frames asked", async () => {
    const m = await failure(options(gif, { frames: 7, every: 2 }))
    expect(m).toContain(gif)
    expect(m).toMatch(/has 12 frames, too few for data\.frames 7 .* every 2/)
    expect(m).toMatch(/this clip gives 6 at data\.every 2/)
    expect(await failure(options(frameDir, { frames: 13 }))).toMatch(/has 12 frames/)
    expect(await failure(options(mp4, { frames: 13 }))).toMatch(/gives only 12 frames .* data\.frames is 13/)
  })

  it("corrupt or truncated files", async () => {
    const truncated = nodePath.join(dir, "truncated.gif")
    fs.writeFileSync(truncated, fs.readFileSync(gif).subarray(0, 40))
    expect(await failure(options(truncated))).toContain(truncated)
    const junk = nodePath.join(dir, "junk.mp4")
    fs.writeFileSync(junk, Buffer.from("definitely not a video file".repeat(20)))
    const m = await failure(options(junk))
    expect(m).toContain(junk)
    expect(m).toMatch(/cannot be decoded as a video \(ffmpeg: .+\)/)
    const badFrames = nodePath.join(dir, "bad-frames")
    fs.cpSync(frameDir, badFrames, { recursive: true })
    fs.writeFileSync(nodePath.join(badFrames, "frame3.png"), "broken")
    expect(await failure(options(badFrames))).toMatch(/frame .*frame3\.png cannot be decoded/)
  })

  it("a still image, an empty folder, a missing path, another file type, impossible fields", async () => {
    const still = nodePath.join(dir, "still.gif")
    await sharp({ create: { width: 8, height: 8, channels: 3, background: "red" } })
      .gif()
      .toFile(still)
    expect(await failure(options(still))).toMatch(/still image \(1 frame\)/)
    const empty = nodePath.join(dir, "empty")
    fs.mkdirSync(empty, { recursive: true })
    expect(await failure(options(empty))).toMatch(/holds no \.png, \.jpg, \.jpeg or \.webp frames/)
    expect(await failure(options(nodePath.join(dir, "nope.gif")))).toMatch(/does not exist/)
    const text = nodePath.join(dir, "clip.txt")
    fs.writeFileSync(text, "x")
    expect(await failure(options(text))).toMatch(/neither an animated \.gif\/\.webp/)
    expect(await failure(options(gif, { every: 0 }))).toMatch(/data\.every must be a whole number ≥ 1, got 0/)
  })
})

describe("writing videos", () => {
  it("an animated GIF of a grid: observed clip on the left, syntheses to its right; every frame kept at the frame rate", async () => {
    const observed = clip()
    const syntheses: Videos = {
      values: new Float32Array(3 * T * SIDE * SIDE * 3).fill(0.2),
      shape: [3, T, SIDE, SIDE, 3],
    }
    const stack = videoGrid(syntheses, { lead: observed, columns: 3 })
    expect(stack.width).toBe(SIDE + LEAD_GAP + 3 * SIDE + 2 * GAP)
    expect(stack.pageHeight).toBe(SIDE)
    const bytes = await encodeGif(stack, 10)
    const meta = await sharp(bytes, { pages: -1 }).metadata()
    expect(meta.pages).toBe(T)
    expect(meta.pageHeight).toBe(SIDE)
    expect(meta.width).toBe(stack.width)
    expect(meta.delay).toEqual(Array.from({ length: T }, () => 100))
    const { data } = await sharp(bytes, { pages: -1 })
      .removeAlpha()
      .raw()
      .toBuffer({ resolveWithObject: true })
    // frame 5, row 7: the observed square starts at column 6; the gap is black; syntheses are grey (0.2 → 153)
    const px = (t: number, y: number, x: number) => data[((t * SIDE + y) * stack.width + x) * 3] as number
    expect(px(5, 7, 5)).toBe(0)
    expect(px(5, 7, 6)).toBe(255)
    expect(px(5, 7, SIDE + 1)).toBe(0)
    expect(px(5, 7, SIDE + LEAD_GAP + 2)).toBe(153)
    expect(() => videoGrid(syntheses, { lead: clip(T - 1) })).toThrow(/observed clip is 11x16x16x3/)
  })

  it("an MP4 that ffmpeg decodes back to the same frames", async () => {
    const bytes = await encodeMp4(videoGrid(clip(T, 15))) // odd side: padded to 16
    expect(bytes.subarray(4, 8).toString("latin1")).toBe("ftyp")
    const file = nodePath.join(dir, "written.mp4")
    fs.writeFileSync(file, bytes)
    const back = await decodeVideo(options(file, { frames: "all", height: 16, width: 16, fit: "fill" }))
    expect(back.shape[0]).toBe(T)
    expectCentres([squareCentre(back.frames, 7, 16, 16, 3)], [9.5], 0.25)
  })

  it(".npy N×T×H×W×C float32 in [0, 1]", () => {
    const values = Float32Array.from([-1, -0.5, 0, 0.5, 1, 1.5, -3, 0.25])
    const npy = decodeNpy(encodeVideosNpy({ values, shape: [2, 1, 2, 2, 1] }))
    expect(npy.shape).toEqual([2, 1, 2, 2, 1])
    expect(Array.from(npy.values)).toEqual([0, 0.25, 0.5, 0.75, 1, 1, 0, 0.625])
  })
})
