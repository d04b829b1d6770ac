/**
 * Image files in: sharp decodes JPEG / PNG / WebP (on libuv's thread pool) to
 * raw 8-bit pixels with the channels asked for, and pixels become floats in [-1, 1].
 */
import sharp from "sharp"

export interface RawImage {
  readonly pixels: Uint8Array
  readonly width: number
  readonly height: number
  readonly channels: 1 | 3
}

export interface DecodeOptions {
  readonly channels: 1 | 3
  /** resize the shorter side to fit, then centre-crop to exactly this size */
  readonly cover?: { readonly width: number; readonly height: number }
  /** resize by this factor (ignored with `cover`) */
  readonly scale?: number
}

/** Decodes one file; rejects with sharp's reason when the file is unreadable or corrupt. */
export const decodeImage = async (file: string, o: DecodeOptions): Promise<RawImage> => {
  let image = sharp(file).removeAlpha()
  image = o.channels === 1 ? image.greyscale() : image.toColourspace("srgb")
  if (o.cover !== undefined) image = image.resize(o.cover.width, o.cover.height, { fit: "cover" })
  else if (o.scale !== undefined && o.scale !== 1) {
    const meta = await sharp(file).metadata()
    image = image.resize(
      Math.max(1, Math.round((meta.width ?? 1) * o.scale)),
      Math.max(1, Math.round((meta.height ?? 1) * o.scale)),
      { fit: "fill" },
    )
  }
  const { data, info } = await image.raw().toBuffer({ resolveWithObject: true })
  if (info.channels !== o.channels)
    throw new Error(`decoded to ${info.channels} channels instead of ${o.channels}`)
  return { pixels: new Uint8Array(data), width: info.width, height: info.height, channels: o.channels }
}

/** sharp's (sometimes multi-line) reason as one short clause. */
export const reasonOf = (error: unknown): string => {
  const lines = String(error instanceof Error ? error.message : error)
    .split("\n")
    .map((l) => l.trim().replace(/:$/, ""))
    .filter((l) => l.length > 0)
  return [...new Set(lines)].join("; ")
}

/** Bytes → [-1, 1], scaling the image's own minimum to −1 and maximum to 1 (the official normalisation); a flat image → 0. */
export const minMaxScale = (pixels: Uint8Array, out: Float32Array, offset = 0): void => {
  let lo = 255
  let hi = 0
  for (const v of pixels) {
    if (v < lo) lo = v
    if (v > hi) hi = v
  }
  const range = hi - lo
  for (let i = 0; i < pixels.length; i++)
    out[offset + i] = range === 0 ? 0 : (((pixels[i] as number) - lo) / range) * 2 - 1
}

/** Bytes → [-1, 1] linearly: x / 127.5 − 1. */
export const linearScale = (pixels: Uint8Array, out: Float32Array, offset = 0): void => {
  for (let i = 0; i < pixels.length; i++) out[offset + i] = (pixels[i] as number) / 127.5 - 1
}
