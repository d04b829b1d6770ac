/**
 * Texture synthesis from one exemplar (Exp 1): the observed images are
 * `data.crops` size x size crops at seeded positions of the exemplar (after
 * resizing it by `data.scale`), or with `crops: 0` the whole exemplar resized
 * to size x size. The exemplar is min-max scaled to [-1, 1] as a whole, so all
 * crops share one contrast. Decoded and cut once, before training.
 */
import { Effect } from "effect"
import { foldIn, rootKey, uniforms } from "../../models/random.js"
import type { Dataset } from "../../stages/load.js"
import type { TextureData } from "../config/data-spec.js"
import { DataError } from "../errors.js"
import { decodeImage, minMaxScale, reasonOf } from "./decode.js"

export const loadTexture = (data: typeof TextureData.Type, seed: number): Effect.Effect<Dataset, DataError> =>
  Effect.gen(function* () {
    const whole = data.crops === 0
    const exemplar = yield* Effect.tryPromise({
      try: () =>
        decodeImage(data.path, {
          channels: data.channels,
          ...(whole ? { cover: { width: data.size, height: data.size } } : { scale: data.scale }),
        }),
      catch: (e) =>
        new DataError({
          message: `data.path: the texture exemplar ${data.path} cannot be decoded (${reasonOf(e)}). Point data.path at a JPEG, PNG or WebP image (the shipped one is data/brick.png).`,
        }),
    })
    const { width, height, channels } = exemplar
    const scaled = new Float32Array(exemplar.pixels.length)
    minMaxScale(exemplar.pixels, scaled)
    const shape = [data.size, data.size, channels] as const
    if (whole) return { images: scaled, labels: new Int32Array(1), count: 1, shape }
    if (data.size > width || data.size > height)
      return yield* new DataError({
        message: `data.size (${data.size}) is larger than the texture exemplar ${data.path} (${width}x${height} after data.scale ${data.scale}); lower data.size, raise data.scale, or set data.crops to 0 to train on the whole exemplar resized.`,
      })
    const size = data.size * data.size * channels
    const images = new Float32Array(data.crops * size)
    const corners = uniforms(foldIn(rootKey(seed), "crops"), 2 * data.crops)
    for (let k = 0; k < data.crops; k++) {
      const top = Math.floor((corners[2 * k] as number) * (height - data.size + 1))
      const left = Math.floor((corners[2 * k + 1] as number) * (width - data.size + 1))
      for (let y = 0; y < data.size; y++) {
        const from = ((top + y) * width + left) * channels
        images.set(scaled.subarray(from, from + data.size * channels), k * size + y * data.size * channels)
      }
    }
    return { images, labels: new Int32Array(data.crops), count: data.crops, shape }
  })
