/**
 * Images inlined in the report as data: URIs, each file read and encoded
 * once (a grid never changes after its atomic rename; a file rewritten under
 * the same name has a new size or modification time and is read again).
 */
import { readFile, stat } from "node:fs/promises"
import { extname } from "node:path"

export interface InlineImage {
  readonly uri: string
  readonly width: number
  readonly height: number
  readonly bytes: number
}

const MIME: Readonly<Record<string, string>> = {
  ".png": "image/png",
  ".gif": "image/gif",
}

/**
 * Width and height from the header: PNG's IHDR (bytes 16-23, big-endian), GIF's
 * logical screen (bytes 6-9, little-endian).
 */
export const imageSize = (bytes: Uint8Array): { width: number; height: number } | null => {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const ascii = (from: number, to: number) => String.fromCharCode(...bytes.subarray(from, to))
  if (bytes.length >= 24 && bytes[0] === 0x89 && ascii(1, 4) === "PNG")
    return { width: view.getUint32(16), height: view.getUint32(20) }
  if (bytes.length >= 10 && ascii(0, 3) === "GIF")
    return { width: view.getUint16(6, true), height: view.getUint16(8, true) }
  return null
}

export const dataUri = (bytes: Uint8Array, mime: string): string =>
  `data:${mime};base64,${Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64")}`

export class ImageCache {
  private readonly cache = new Map<string, { key: string; image: InlineImage }>()

  /** The file as a data: URI with its size; null when it cannot be read or is not an image. */
  async get(file: string): Promise<InlineImage | null> {
    const mime = MIME[extname(file).toLowerCase()]
    if (mime === undefined) return null
    let key: string
    try {
      const info = await stat(file)
      key = `${info.size}:${info.mtimeMs}`
    } catch {
      return null
    }
    const hit = this.cache.get(file)
    if (hit?.key === key) return hit.image
    const bytes = await readFile(file).catch(() => null)
    const size = bytes && imageSize(bytes)
    if (!bytes || !size) return null
    const image = { uri: dataUri(bytes, mime), ...size, bytes: bytes.length }
    this.cache.set(file, { key, image })
    return image
  }
}
