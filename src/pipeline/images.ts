/** Pixels out: grids and single images as PNG (sharp), sample sets as .npy. */
import sharp from "sharp"

/** [-1, 1] → [0, 255], clipped. */
const toByte = (v: number): number => Math.round((Math.min(1, Math.max(-1, v)) + 1) * 127.5)

/** Tiles `count` images of h×w×c (row-major NHWC floats in [-1, 1]) into one grid with 1px gaps. */
export const tile = (
  values: Float32Array,
  count: number,
  shape: readonly [number, number, number],
  columns = Math.ceil(Math.sqrt(count)),
): {
  readonly pixels: Uint8Array
  readonly width: number
  readonly height: number
  readonly channels: number
} => {
  const [h, w, c] = shape
  const rows = Math.ceil(count / columns)
  const width = columns * (w + 1) - 1
  const height = rows * (h + 1) - 1
  const pixels = new Uint8Array(width * height * c)
  for (let k = 0; k < count; k++) {
    const top = Math.floor(k / columns) * (h + 1)
    const left = (k % columns) * (w + 1)
    for (let y = 0; y < h; y++)
      for (let x = 0; x < w; x++)
        for (let ch = 0; ch < c; ch++)
          pixels[((top + y) * width + left + x) * c + ch] = toByte(
            values[((k * h + y) * w + x) * c + ch] as number,
          )
  }
  return { pixels, width, height, channels: c }
}

export const encodePng = (image: {
  readonly pixels: Uint8Array
  readonly width: number
  readonly height: number
  readonly channels: number
}): Promise<Buffer> =>
  sharp(image.pixels, {
    raw: { width: image.width, height: image.height, channels: image.channels as 1 | 2 | 3 | 4 },
  })
    .png()
    .toBuffer()

/** A float32 little-endian .npy file (format version 1.0). */
export const encodeNpy = (values: Float32Array, shape: ReadonlyArray<number>): Buffer => {
  const dims = shape.length === 1 ? `${shape[0]},` : shape.join(", ")
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': (${dims}), }`
  const unpadded = 10 + header.length + 1
  header += " ".repeat((64 - (unpadded % 64)) % 64)
  header += "\n"
  const preamble = Buffer.alloc(10)
  preamble.write("\x93NUMPY", 0, "latin1")
  preamble[6] = 1
  preamble[7] = 0
  preamble.writeUInt16LE(header.length, 8)
  return Buffer.concat([
    preamble,
    Buffer.from(header, "latin1"),
    Buffer.from(values.buffer, values.byteOffset, values.byteLength),
  ])
}
