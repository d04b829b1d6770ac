/**
 * One video clip in, decoded once into a Float32 cache of T×H×W×C frames in [-1, 1]:
 *
 * - an animated GIF or WebP (sharp reads every frame with `pages: -1`, stacked vertically);
 * - a folder of frame images (.png/.jpg/.jpeg/.webp), in name order ("frame2" before "frame10");
 * - a video file (.avi/.mp4/.webm/.mov/.mkv/.m4v), decoded by the ffmpeg binary that the npm
 *   package `@ffmpeg-installer/ffmpeg` ships (nothing is downloaded or needs a system install).
 *
 * Frames `start, start + every, …` are taken, `frames` of them (or all there are), each
 * resized to height×width — "cover": shorter side, then centre crop; "fill": squashed, as the
 * official code's PIL bilinear resize does — and min-max scaled to [-1, 1] on its own, as in
 * github.com/jianwen-xie/Spatial-Temporal-CoopNets (src/util.py, getTrainingData, 'tanh').
 */

import { spawn } from "node:child_process"
import * as fs from "node:fs/promises"
import * as nodePath from "node:path"
import { Effect } from "effect"
import sharp, { type Sharp } from "sharp"
import { ffmpegPath } from "../backend/ffmpeg.js"
import type { DataSpec } from "../config/data-spec.js"
import { DataError } from "../errors.js"
import { minMaxScale, reasonOf } from "./decode.js"

export interface VideoOptions {
  /** an animated GIF/WebP, a folder of frame images, or a video file */
  readonly path: string
  /** how many frames to take, or "all" the clip has (from `start`, every `every`-th) */
  readonly frames: number | "all"
  /** take every k-th frame (1: consecutive) */
  readonly every: number
  /** index of the first frame taken (0: the clip's first) */
  readonly start: number
  readonly height: number
  readonly width: number
  readonly channels: 1 | 3
  /** "cover": resize the shorter side and centre-crop; "fill": resize each axis (distorts) */
  readonly fit: "cover" | "fill"
}

export type VideoKind = "animated-image" | "frame-folder" | "video-file"

export interface Video {
  /** T×H×W×C, row-major, each frame min-max scaled to [-1, 1] */
  readonly frames: Float32Array
  readonly shape: readonly [number, number, number, number]
  readonly kind: VideoKind
  /** frames the source holds, when known without decoding them all (video files: only with frames "all") */
  readonly available: number | undefined
  /** the source's frame rate when it says so (GIF/WebP delays, ffmpeg's stream rate) */
  readonly fps: number | undefined
}

export const FRAME_EXTENSIONS = /\.(png|jpe?g|webp)$/i
export const ANIMATED_EXTENSIONS = /\.(gif|webp)$/i
export const VIDEO_EXTENSIONS = /\.(avi|mp4|webm|mov|mkv|m4v)$/i

/** A user-facing decoding failure (becomes a DataError). */
class VideoProblem extends Error {}

const fail = (message: string): never => {
  throw new VideoProblem(message)
}

/** The ffmpeg binary (../backend/ffmpeg.ts), its absence a VideoProblem. */
const ffmpeg = (): string => {
  try {
    return ffmpegPath()
  } catch (error) {
    return fail((error as Error).message)
  }
}

/** Indices of the frames to take from a clip of `available` frames, or a clear error. */
export const frameIndices = (available: number, o: VideoOptions, path: string): ReadonlyArray<number> => {
  const fits = available > o.start ? Math.floor((available - 1 - o.start) / o.every) + 1 : 0
  const count = o.frames === "all" ? fits : o.frames
  if (count > fits || count === 0) {
    const wanted = o.frames === "all" ? "any frame" : `data.frames ${o.frames}`
    const last = o.start + (Math.max(count, 1) - 1) * o.every
    fail(
      `data.path: ${path} has ${available} frame${available === 1 ? "" : "s"}, too few for ${wanted} from frame ${o.start} (data.start) every ${o.every} (data.every), which needs frame ${last}. Lower data.frames (this clip gives ${fits} at data.every ${o.every} from data.start ${o.start}), lower data.every or data.start, or use a longer clip.`,
    )
  }
  return Array.from({ length: count }, (_, i) => o.start + i * o.every)
}

/** One frame's raw pixels → height×width×channels bytes. */
const resizeFrame = async (input: Sharp, o: VideoOptions): Promise<Uint8Array> => {
  let image = input.removeAlpha()
  image = o.channels === 1 ? image.greyscale() : image.toColourspace("srgb")
  image = image.resize(o.width, o.height, { fit: o.fit, kernel: "linear" })
  const { data, info } = await image.raw().toBuffer({ resolveWithObject: true })
  if (info.channels !== o.channels || info.width !== o.width || info.height !== o.height)
    fail(
      `a frame decoded to ${info.width}x${info.height}x${info.channels} instead of ${o.width}x${o.height}x${o.channels}`,
    )
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
}

/** Animated GIF / WebP: every page rendered by libvips, stacked vertically. */
const animatedFrames = async (
  path: string,
  o: VideoOptions,
): Promise<{ frames: ReadonlyArray<Uint8Array>; available: number; fps: number | undefined }> => {
  const meta = await sharp(path, { pages: -1 })
    .metadata()
    .catch((e: unknown) =>
      fail(
        `data.path: ${path} cannot be read as an animated image (${reasonOf(e)}). Check the file, or give the clip as a video file or a folder of frames.`,
      ),
    )
  const pages = meta.pages ?? 1
  if (pages < 2)
    fail(
      `data.path: ${path} is a still image (1 frame), not an animation. A video needs an animated GIF/WebP, a folder of frame images, or a video file.`,
    )
  const indices = frameIndices(pages, o, path)
  const { data, info } = await sharp(path, { pages: -1 })
    .removeAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true })
    .catch((e: unknown) =>
      fail(
        `data.path: ${path} is damaged: its frames cannot be decoded (${reasonOf(e)}). Re-export the clip.`,
      ),
    )
  const pageHeight = meta.pageHeight ?? info.height / pages
  const bytes = info.width * pageHeight * info.channels
  const frames = await Promise.all(
    indices.map((i) =>
      resizeFrame(
        sharp(data.subarray(i * bytes, (i + 1) * bytes), {
          raw: { width: info.width, height: pageHeight, channels: info.channels as 1 | 2 | 3 | 4 },
        }),
        o,
      ),
    ),
  )
  const delays = (meta.delay ?? []).filter((d) => d > 0)
  const meanDelay = delays.length === 0 ? 0 : delays.reduce((a, b) => a + b, 0) / delays.length
  return { frames, available: pages, fps: meanDelay > 0 ? 1000 / meanDelay : undefined }
}

const byName = new Intl.Collator("en", { numeric: true }).compare

/** A folder of frame images, in natural name order. */
const folderFrames = async (
  path: string,
  o: VideoOptions,
): Promise<{ frames: ReadonlyArray<Uint8Array>; available: number; fps: undefined }> => {
  const names = (await fs.readdir(path)).filter((n) => FRAME_EXTENSIONS.test(n)).sort(byName)
  if (names.length === 0)
    fail(
      `data.path: the folder ${path} holds no .png, .jpg, .jpeg or .webp frames. Point data.path at a folder of frame images (sorted by name), an animated GIF or a video file.`,
    )
  const indices = frameIndices(names.length, o, path)
  const frames = await Promise.all(
    indices.map((i) => {
      const file = nodePath.join(path, names[i] as string)
      return resizeFrame(sharp(file), o).catch((e: unknown) =>
        e instanceof VideoProblem
          ? Promise.reject(e)
          : fail(
              `data.path: frame ${file} cannot be decoded (${reasonOf(e)}). Fix or remove it (frames are taken in name order).`,
            ),
      )
    }),
  )
  return { frames, available: names.length, fps: undefined }
}

/** The last few meaningful lines ffmpeg wrote to stderr, as one clause. */
const ffmpegReason = (stderr: string): string =>
  stderr
    .split("\n")
    .map((l) => l.trim())
    .filter(
      (l) => l.length > 0 && !/^(Input|Output|Stream|Duration|Metadata|encoder|frame=|Press|\[)/.test(l),
    )
    .slice(-2)
    .join("; ") || "no reason given"

/** A video file through ffmpeg: select, resize and convert to raw RGB/grey bytes in one pass. */
const videoFileFrames = async (
  path: string,
  o: VideoOptions,
): Promise<{ frames: ReadonlyArray<Uint8Array>; available: number | undefined; fps: number | undefined }> => {
  const binary = ffmpeg()
  const size = `${o.width}:${o.height}`
  const resize =
    o.fit === "cover"
      ? `scale=${size}:force_original_aspect_ratio=increase:flags=bilinear,crop=${size}`
      : `scale=${size}:flags=bilinear`
  const select = `select='gte(n\\,${o.start})*not(mod(n-${o.start}\\,${o.every}))'`
  const args = [
    "-hide_banner",
    "-nostdin",
    "-i",
    path,
    "-vf",
    `${select},${resize}`,
    "-vsync",
    "0",
    ...(o.frames === "all" ? [] : ["-frames:v", String(o.frames)]),
    "-f",
    "rawvideo",
    "-pix_fmt",
    o.channels === 1 ? "gray" : "rgb24",
    "pipe:1",
  ]
  const { stdout, stderr, code } = await new Promise<{ stdout: Buffer; stderr: string; code: number | null }>(
    (resolve, reject) => {
      const child = spawn(binary, args, { stdio: ["ignore", "pipe", "pipe"] })
      const out: Array<Buffer> = []
      let err = ""
      child.stdout.on("data", (b: Buffer) => out.push(b))
      child.stderr.on("data", (b: Buffer) => {
        err = (err + b.toString()).slice(-16_000)
      })
      child.on("error", reject)
      child.on("close", (c) => resolve({ stdout: Buffer.concat(out), stderr: err, code: c }))
    },
  ).catch((e: unknown) =>
    fail(`cannot run ffmpeg (${binary}): ${reasonOf(e)}. Reinstall dependencies (\`npm ci\`).`),
  )
  if (code !== 0)
    fail(
      `data.path: ${path} cannot be decoded as a video (ffmpeg: ${ffmpegReason(stderr)}). Check that the file is a complete .avi/.mp4/.webm video, or give the clip as an animated GIF or a folder of frames.`,
    )
  const bytes = o.width * o.height * o.channels
  const count = Math.floor(stdout.length / bytes)
  if (count === 0)
    fail(
      `data.path: ${path} yields no frames from frame ${o.start} (ffmpeg: ${ffmpegReason(stderr)}). Check the file, or lower data.start.`,
    )
  if (o.frames !== "all" && count < o.frames)
    fail(
      `data.path: ${path} gives only ${count} frame${count === 1 ? "" : "s"} from frame ${o.start} every ${o.every}, but data.frames is ${o.frames}. Lower data.frames, data.every or data.start, or use a longer clip.`,
    )
  const rate = /(\d+(?:\.\d+)?) fps/.exec(stderr)
  return {
    frames: Array.from(
      { length: count },
      (_, i) => new Uint8Array(stdout.buffer, stdout.byteOffset + i * bytes, bytes),
    ),
    available: o.frames === "all" && o.start === 0 && o.every === 1 ? count : undefined,
    fps: rate === null ? undefined : Number(rate[1]),
  }
}

/** Which of the three kinds `path` is, or a clear error. */
export const videoKindOf = async (path: string): Promise<VideoKind> => {
  const stat = await fs
    .stat(path)
    .catch(() =>
      fail(
        `data.path: ${path} does not exist or cannot be read. Set data.path to an animated GIF, a folder of frame images or a video file (.avi/.mp4/.webm).`,
      ),
    )
  if (stat.isDirectory()) return "frame-folder"
  if (ANIMATED_EXTENSIONS.test(path)) return "animated-image"
  if (VIDEO_EXTENSIONS.test(path)) return "video-file"
  return fail(
    `data.path: ${path} is neither an animated .gif/.webp, a folder of frames, nor a video file (.avi, .mp4, .webm, .mov, .mkv, .m4v). Convert it, or point data.path at one of those.`,
  )
}

const checkOptions = (o: VideoOptions): void => {
  const positive = (name: string, v: number) => {
    if (!Number.isInteger(v) || v < 1) fail(`data.${name} must be a whole number ≥ 1, got ${v}.`)
  }
  if (o.frames !== "all") positive("frames", o.frames)
  positive("every", o.every)
  positive("height", o.height)
  positive("width", o.width)
  if (!Number.isInteger(o.start) || o.start < 0)
    fail(`data.start must be a whole number ≥ 0, got ${o.start}.`)
}

/** Decodes a clip; rejects with a VideoProblem (a one-paragraph message) on bad input. */
export const decodeVideo = async (o: VideoOptions): Promise<Video> => {
  checkOptions(o)
  const kind = await videoKindOf(o.path)
  const got =
    kind === "animated-image"
      ? await animatedFrames(o.path, o)
      : kind === "frame-folder"
        ? await folderFrames(o.path, o)
        : await videoFileFrames(o.path, o)
  const per = o.height * o.width * o.channels
  const frames = new Float32Array(got.frames.length * per)
  got.frames.forEach((f, i) => {
    minMaxScale(f, frames, i * per)
  })
  return {
    frames,
    shape: [got.frames.length, o.height, o.width, o.channels],
    kind,
    available: got.available,
    fps: got.fps,
  }
}

/** `decodeVideo` as an Effect: bad input is a DataError naming the file and what to do. */
export const loadVideo = (o: VideoOptions): Effect.Effect<Video, DataError> =>
  Effect.tryPromise({
    try: () => decodeVideo(o),
    catch: (e) =>
      new DataError({
        message:
          e instanceof VideoProblem ? e.message : `data.path: ${o.path} cannot be decoded: ${reasonOf(e)}.`,
      }),
  })

/**
 * The observed clip of a run's data as trained on (its first `video[0]` frames at the nets' size),
 * or with `frames: "all"` every frame there is; undefined when the data is not a video or cannot
 * be read now (a run moved to another machine).
 */
export const observedClip = (
  data: DataSpec,
  video: readonly [number, number, number, number],
  frames: number | "all" = video[0],
): Effect.Effect<Video | undefined> =>
  data.source !== "video"
    ? Effect.succeed(undefined)
    : loadVideo({ ...data, frames, height: video[1], width: video[2] }).pipe(
        Effect.map((clip): Video | undefined => clip),
        Effect.orElseSucceed(() => undefined),
      )
