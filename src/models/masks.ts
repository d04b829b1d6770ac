/**
 * Occlusion masks for pattern completion: one value per pixel, 1 = visible,
 * 0 = hidden (shared by every channel). Square masks as in the paper (an
 * S x S square hidden, centred or at a seeded random position per image).
 */
import { foldIn, type Key, uniforms } from "./random.js"

export type MaskPosition = "center" | "random"

/** Top-left corner of the hidden square of image `index`. */
export const squareCorner = (
  height: number,
  width: number,
  size: number,
  position: MaskPosition,
  key: Key,
  index: number,
): readonly [number, number] => {
  if (position === "center") return [Math.floor((height - size) / 2), Math.floor((width - size) / 2)]
  const [u, v] = uniforms(foldIn(key, "mask", index), 2) as unknown as [number, number]
  return [Math.floor(u * (height - size + 1)), Math.floor(v * (width - size + 1))]
}

/** `count` masks of height x width, each hiding one size x size square; [count, height, width]. */
export const squareMasks = (
  count: number,
  height: number,
  width: number,
  size: number,
  position: MaskPosition,
  key: Key,
): Float32Array => {
  if (!Number.isInteger(size) || size < 1 || size > Math.min(height, width))
    throw new RangeError(`mask size must be an integer from 1 to ${Math.min(height, width)}, got ${size}`)
  const masks = new Float32Array(count * height * width).fill(1)
  for (let i = 0; i < count; i++) {
    const [top, left] = squareCorner(height, width, size, position, key, i)
    for (let y = top; y < top + size; y++)
      masks.fill(0, (i * height + y) * width + left, (i * height + y) * width + left + size)
  }
  return masks
}

/** Fraction of hidden pixels of a set of masks. */
export const hiddenFraction = (masks: Float32Array): number => {
  let hidden = 0
  for (const m of masks) if (m === 0) hidden++
  return hidden / masks.length
}
