/**
 * Videos out: N×T×H×W×C float tensors (row-major, values in [-1, 1]) as animated GIFs
 * (sharp, from the frames stacked vertically with `pageHeight`), as MP4 through the ffmpeg
 * binary of `@ffmpeg-installer/ffmpeg` when asked, and as .npy N×T×H×W×C float32 in [0, 1].
 * Every function returns bytes; the caller writes them atomically (the writer fiber).
 */
import { spawn } from "node:child_process"
import * as fs from "node:fs/promises"
import * as os from "node:os"
import * as nodePath from "node:path"
import sharp from "sharp"
import { ffmpegPath } from "../backend/ffmpeg.js"
import { encodeNpy } from "./image-files.js"

/** N×T×H×W×C videos as flat floats. */
export interface Videos {
  readonly values: Float32Array
  /** [N, T, H, W, C] */
  readonly shape: readonly [number, number, number, number, number]
}

/** Frames stacked vertically: frame t is rows t·pageHeight … (t+1)·pageHeight − 1. */
export interface FrameStack {
  readonly pixels: Uint8Array
  readonly width: number
  readonly pageHeight: number
  readonly frames: number
  readonly channels: number
}

/** [-1, 1] → [0, 255], clipped. */
const toByte = (v: number): number => Math.round((Math.min(1, Math.max(-1, v)) + 1) * 127.5)

/** Gap between the observed clip and the syntheses, and between syntheses (pixels, black). */
export const LEAD_GAP = 4
export const GAP = 1

/**
 * Tiles N videos into one clip: the syntheses in a grid of `columns` columns, and `lead`
 * (the observed clip, when given) to their left, a wider gap apart. Every video must have
 * the lead's T×H×W×C.
 */
export const videoGrid = (
  videos: Videos,
  options: { readonly lead?: Videos | undefined; readonly columns?: number | undefined } = {},
): FrameStack => {
  const [n, t, h, w, c] = videos.shape
  const lead = options.lead
  if (lead !== undefined && lead.shape.slice(1).join("x") !== videos.shape.slice(1).join("x"))
    throw new Error(
      `the observed clip is ${lead.shape.slice(1).join("x")} but the syntheses are ${videos.shape.slice(1).join("x")}`,
    )
  const columns = Math.max(1, Math.min(n, options.columns ?? Math.ceil(Math.sqrt(n))))
  const rows = Math.max(1, Math.ceil(n / columns))
  const left = lead === undefined ? 0 : w + LEAD_GAP
  const width = left + columns * (w + GAP) - GAP
  const pageHeight = rows * (h + GAP) - GAP
  const pixels = new Uint8Array(width * pageHeight * t * c)
  const frameSize = h * w * c
  const place = (source: Float32Array, video: number, top: number, x0: number): void => {
    for (let f = 0; f < t; f++) {
      const from = (video * t + f) * frameSize
      for (let y = 0; y < h; y++) {
        const row = (f * pageHeight + top + y) * width
        for (let x = 0; x < w; x++)
          for (let ch = 0; ch < c; ch++)
            pixels[(row + x0 + x) * c + ch] = toByte(source[from + (y * w + x) * c + ch] as number)
      }
    }
  }
  if (lead !== undefined) place(lead.values, 0, 0, 0)
  for (let k = 0; k < n; k++)
    place(videos.values, k, Math.floor(k / columns) * (h + GAP), left + (k % columns) * (w + GAP))
  return { pixels, width, pageHeight, frames: t, channels: c }
}

/** One video of `videos` as a stack (no grid). */
export const videoAt = (videos: Videos, index: number): FrameStack => {
  const [, t, h, w, c] = videos.shape
  const size = t * h * w * c
  return videoGrid({
    values: videos.values.subarray(index * size, (index + 1) * size),
    shape: [1, t, h, w, c],
  })
}

const rawInput = (stack: FrameStack) =>
  sharp(stack.pixels, {
    raw: {
      width: stack.width,
      height: stack.pageHeight * stack.frames,
      channels: stack.channels as 1 | 2 | 3 | 4,
      pageHeight: stack.pageHeight,
    },
  })

/** An animated GIF that loops forever at `fps` (GIF delays are in 10 ms steps: 25 fps = 40 ms). */
export const encodeGif = (stack: FrameStack, fps = 25): Promise<Buffer> =>
  rawInput(stack)
    .gif({
      delay: Array.from({ length: stack.frames }, () => Math.round(1000 / fps)),
      loop: 0,
      keepDuplicateFrames: true,
      effort: 4,
    })
    .toBuffer()

/** An animated, lossless WebP (exact pixels, unlike the GIF's 256-colour palette). */
export const encodeWebp = (stack: FrameStack, fps = 25): Promise<Buffer> =>
  rawInput(stack)
    .webp({
      lossless: true,
      delay: Array.from({ length: stack.frames }, () => Math.round(1000 / fps)),
      loop: 0,
    })
    .toBuffer()

/**
 * An H.264 MP4 (yuv420p, playable by browsers) through ffmpeg; odd sides are padded by one
 * black pixel (the codec needs even sides). Written to a temporary file (MP4 wants a seekable
 * output for its index) and returned as bytes.
 */
export const encodeMp4 = async (stack: FrameStack, fps = 25): Promise<Buffer> => {
  const dir = await fs.mkdtemp(nodePath.join(os.tmpdir(), "coopnets-mp4-"))
  const out = nodePath.join(dir, "video.mp4")
  try {
    const args = [
      "-hide_banner",
      "-loglevel",
      "error",
      "-f",
      "rawvideo",
      "-pix_fmt",
      stack.channels === 1 ? "gray" : "rgb24",
      "-s",
      `${stack.width}x${stack.pageHeight}`,
      "-r",
      String(fps),
      "-i",
      "pipe:0",
      "-vf",
      "pad=ceil(iw/2)*2:ceil(ih/2)*2",
      "-c:v",
      "libx264",
      "-preset",
      "medium",
      "-crf",
      "18",
      "-pix_fmt",
      "yuv420p",
      "-movflags",
      "+faststart",
      "-y",
      out,
    ]
    if (stack.channels !== 1 && stack.channels !== 3)
      throw new Error(`MP4 needs 1 or 3 channels, got ${stack.channels}`)
    await new Promise<void>((resolve, reject) => {
      const child = spawn(ffmpegPath(), args, { stdio: ["pipe", "ignore", "pipe"] })
      let err = ""
      child.stderr.on("data", (b: Buffer) => {
        err = (err + b.toString()).slice(-4000)
      })
      child.on("error", reject)
      child.on("close", (code) =>
        code === 0
          ? resolve()
          : reject(new Error(`ffmpeg could not encode the MP4: ${err.trim() || `exit ${code}`}`)),
      )
      child.stdin.on("error", () => {}) // a failing ffmpeg closes its input early: the exit code tells why
      child.stdin.end(Buffer.from(stack.pixels.buffer, stack.pixels.byteOffset, stack.pixels.byteLength))
    })
    return await fs.readFile(out)
  } finally {
    await fs.rm(dir, { recursive: true, force: true })
  }
}

/** .npy N×T×H×W×C (or any leading axes) float32 in [0, 1] (values clipped to [-1, 1], then (v + 1) / 2). */
export const encodeVideosNpy = (videos: {
  readonly values: Float32Array
  readonly shape: ReadonlyArray<number>
}): Buffer => {
  const unit = new Float32Array(videos.values.length)
  for (let i = 0; i < unit.length; i++)
    unit[i] = (Math.min(1, Math.max(-1, videos.values[i] as number)) + 1) / 2
  return encodeNpy(unit, videos.shape)
}
