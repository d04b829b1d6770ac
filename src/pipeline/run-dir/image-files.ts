/** Pixels in and out: grids and single images as PNG (sharp), sample sets as .npy. */
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

/** A decoded .npy array of float32 values. */
export interface NpyArray {
  readonly values: Float32Array
  readonly shape: ReadonlyArray<number>
}

/**
 * Reads a float32 (or float64, converted) C-order .npy file (versions 1-3);
 * throws an Error saying what is wrong with anything else.
 */
export const decodeNpy = (bytes: Uint8Array): NpyArray => {
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  if (buffer.length < 10 || buffer.toString("latin1", 0, 6) !== "\x93NUMPY")
    throw new Error("not a .npy file (no \\x93NUMPY magic)")
  const major = buffer[6] as number
  const headerLength = major === 1 ? buffer.readUInt16LE(8) : buffer.readUInt32LE(8)
  const start = major === 1 ? 10 : 12
  const header = buffer.toString("latin1", start, start + headerLength)
  const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1]
  const fortran = /'fortran_order':\s*(True|False)/.exec(header)?.[1]
  const dims = /'shape':\s*\(([^)]*)\)/.exec(header)?.[1]
  if (descr === undefined || fortran === undefined || dims === undefined)
    throw new Error(`unreadable .npy header ${JSON.stringify(header.trim())}`)
  if (fortran === "True") throw new Error("Fortran-ordered arrays are not supported; save with C order")
  const shape = dims
    .split(",")
    .map((d) => d.trim())
    .filter((d) => d.length > 0)
    .map(Number)
  const size = shape.reduce((a, b) => a * b, 1)
  const data = buffer.subarray(start + headerLength)
  const width = descr === "<f4" ? 4 : descr === "<f8" ? 8 : 0
  if (width === 0) throw new Error(`dtype ${descr} is not supported; save float32 ('<f4') or float64 ('<f8')`)
  if (data.length < size * width)
    throw new Error(
      `the header promises ${size} values of ${width} bytes but the file holds ${data.length} bytes`,
    )
  const values = new Float32Array(size)
  for (let i = 0; i < size; i++) values[i] = width === 4 ? data.readFloatLE(i * 4) : data.readDoubleLE(i * 8)
  return { values, shape }
}
