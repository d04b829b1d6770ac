/**
 * Texture quality of a set of images against one exemplar (src/models/texture-quality.ts):
 * the exemplar read as the texture loader reads it (resized by `scale`, min-max
 * scaled as a whole, here to [0, 1]), the style distance, the patch SWD and the
 * mean and contrast ratios of the images, and the floor — the same numbers for
 * other crops of the exemplar at the images' size — and the held-out floor:
 * crops of one half of the exemplar against the other half, the images against
 * either half.
 */
import { Effect } from "effect"
import {
  heldOutFloor,
  heldOutReference,
  minimumSide,
  type OverFloor,
  overFloor,
  scoreHeldOut,
  scoreTextures,
  type TextureScores,
  textureFloor,
  textureReference,
} from "../../models/texture-quality.js"
import { decodeImage, reasonOf } from "../data/decode.js"
import type { ImageSet } from "../data/image-sets.js"
import { DataError } from "../errors.js"

/** How far from the floor a synthesis may be and still count (the bar: within 2x on both distances). */
export const FLOOR_FACTOR = 2

/** Both distances within FLOOR_FACTOR times a floor's, at their worst levels. */
const withinFactor = (over: OverFloor): boolean => over.style <= FLOOR_FACTOR && over.swd <= FLOOR_FACTOR

/** Crops of the exemplar that make the floor. */
export const FLOOR_CROPS = 16

export interface ExemplarSource {
  readonly path: string
  /** resize factor, as `data.scale` of a texture run */
  readonly scale: number
}

export interface TextureQuality {
  readonly exemplar: ExemplarSource & { readonly shape: ReadonlyArray<number> }
  /** side of the scored images (and of the floor's crops) */
  readonly side: number
  readonly floor: { readonly crops: number; readonly mean: TextureScores; readonly spread: TextureScores }
  readonly images: { readonly count: number; readonly mean: TextureScores; readonly spread: TextureScores }
  /** each distance over the floor's, worst pyramid level */
  readonly overFloor: OverFloor
  /** both distances within FLOOR_FACTOR times the floor */
  readonly withinFloorFactor: boolean
  /**
   * The same against the held-out floor (crops of one half of the exemplar
   * scored against the other half; the images against either half, averaged);
   * absent when the images do not fit in half the exemplar.
   */
  readonly heldOut?: {
    readonly floor: { readonly crops: number; readonly mean: TextureScores; readonly spread: TextureScores }
    readonly images: { readonly mean: TextureScores; readonly spread: TextureScores }
    readonly overFloor: OverFloor
    readonly withinFloorFactor: boolean
  }
}

/** Reads the exemplar with `channels` channels → h*w*c values in [0, 1] (min-max over the whole image). */
export const readExemplar = (source: ExemplarSource, channels: 1 | 3) =>
  Effect.tryPromise({
    try: () => decodeImage(source.path, { channels, scale: source.scale }),
    catch: (e) =>
      new DataError({
        message: `--exemplar ${source.path} cannot be decoded (${reasonOf(e)}). Pass a JPEG, PNG or WebP image of the texture (e.g. data/brick.png).`,
      }),
  }).pipe(
    Effect.map((raw) => {
      let lo = 255
      let hi = 0
      for (const v of raw.pixels) {
        if (v < lo) lo = v
        if (v > hi) hi = v
      }
      const pixels = Float32Array.from(raw.pixels, (v) => (hi === lo ? 0.5 : (v - lo) / (hi - lo)))
      return { pixels, shape: [raw.height, raw.width, channels] as const }
    }),
  )

/** Scores `set` (pixels in [-1, 1]) against the exemplar, with the floor at the images' size. */
export const textureQuality = (set: ImageSet, source: ExemplarSource, location: string) =>
  Effect.gen(function* () {
    const [h, w, c] = set.shape
    if (h !== w)
      return yield* new DataError({
        message: `${location} holds ${h}x${w} images; the texture measure compares square images with square crops of the exemplar.`,
      })
    const exemplar = yield* readExemplar(source, c as 1 | 3)
    const [eh, ew] = exemplar.shape
    return yield* Effect.try({
      try: () => {
        const ref = textureReference(exemplar.pixels, exemplar.shape)
        const least = minimumSide(ref.options)
        if (h < least)
          throw new DataError({
            message: `${location} holds ${h}x${h} images, smaller than the ${least}x${least} the texture measure's coarsest level needs; evaluate larger samples (--size).`,
          })
        if (h > eh || h > ew)
          throw new DataError({
            message: `${location} holds ${h}x${h} images but the exemplar ${source.path} is ${ew}x${eh} at scale ${source.scale}: the floor needs crops of the exemplar as large as the images. Evaluate smaller images (--size) or raise --scale.`,
          })
        const floor = textureFloor(ref, h, FLOOR_CROPS)
        const unit = set.images.map((v) => Math.min(1, Math.max(0, (v + 1) / 2)))
        const scored = scoreTextures(ref, unit, set.count, [h, w, c])
        const over = overFloor(scored.mean, floor.mean)
        const held = heldOutReference(ref)
        const [hh, hw] = held.halves[0].shape
        const heldOut =
          h <= hh && h <= hw
            ? (() => {
                const heldFloor = heldOutFloor(held, h, FLOOR_CROPS)
                const heldScores = scoreHeldOut(held, unit, set.count, [h, w, c])
                const overHeld = overFloor(heldScores.mean, heldFloor.mean)
                return {
                  floor: { crops: FLOOR_CROPS, mean: heldFloor.mean, spread: heldFloor.spread },
                  images: { mean: heldScores.mean, spread: heldScores.spread },
                  overFloor: overHeld,
                  withinFloorFactor: withinFactor(overHeld),
                }
              })()
            : undefined
        const result: TextureQuality = {
          exemplar: { ...source, shape: exemplar.shape },
          side: h,
          floor: { crops: FLOOR_CROPS, mean: floor.mean, spread: floor.spread },
          images: { count: set.count, mean: scored.mean, spread: scored.spread },
          overFloor: over,
          withinFloorFactor: withinFactor(over),
          ...(heldOut === undefined ? {} : { heldOut }),
        }
        return result
      },
      catch: (e) =>
        e instanceof DataError
          ? e
          : new DataError({ message: `${location}: the texture measure failed (${(e as Error).message}).` }),
    })
  })

const f = (x: number, digits = 3) => x.toFixed(digits)
const levels = (v: ReadonlyArray<number>) => v.map((x) => f(x, 2)).join(" / ")

/** The texture section of evaluation.md. */
export const textureMarkdown = (t: TextureQuality, what: string): ReadonlyArray<string> => [
  `Texture quality against the exemplar ${t.exemplar.path} (scale ${t.exemplar.scale}: ${t.exemplar.shape[1]}x${t.exemplar.shape[0]}x${t.exemplar.shape[2]}), ${t.side}x${t.side} images:`,
  "",
  "| images | n | style distance ↓ | patch SWD ↓ | mean ratio | contrast ratio |",
  "| --- | ---: | ---: | ---: | ---: | ---: |",
  `| ${what} | ${t.images.count} | ${f(t.images.mean.style)} ± ${f(t.images.spread.style)} | ${f(t.images.mean.swd, 4)} ± ${f(t.images.spread.swd, 4)} | ${f(t.images.mean.meanRatio, 2)} | ${f(t.images.mean.contrastRatio, 2)} |`,
  `| floor: ${t.floor.crops} other crops of the exemplar | ${t.floor.crops} | ${f(t.floor.mean.style)} ± ${f(t.floor.spread.style)} | ${f(t.floor.mean.swd, 4)} ± ${f(t.floor.spread.swd, 4)} | ${f(t.floor.mean.meanRatio, 2)} | ${f(t.floor.mean.contrastRatio, 2)} |`,
  "",
  `Over the floor (worst level): style **${f(t.overFloor.style, 2)}x** (levels ${levels(t.overFloor.styleByScale)}), patch SWD **${f(t.overFloor.swd, 2)}x** (levels ${levels(t.overFloor.swdByScale)}): ${t.withinFloorFactor ? "within" : "not within"} ${FLOOR_FACTOR}x the floor on both.`,
  "",
  ...(t.heldOut === undefined
    ? [
        `Held-out floor: not computed (${t.side}x${t.side} crops do not fit in half the exemplar, ${t.exemplar.shape[1]}x${t.exemplar.shape[0]}).`,
      ]
    : [
        `Held-out floor (${t.heldOut.floor.crops} crops of one half of the exemplar against the other half; the images against either half): style ${f(t.heldOut.floor.mean.style)} / ${f(t.heldOut.images.mean.style)}, patch SWD ${f(t.heldOut.floor.mean.swd, 4)} / ${f(t.heldOut.images.mean.swd, 4)} (floor / images). Over it (worst level): style **${f(t.heldOut.overFloor.style, 2)}x** (levels ${levels(t.heldOut.overFloor.styleByScale)}), patch SWD **${f(t.heldOut.overFloor.swd, 2)}x** (levels ${levels(t.heldOut.overFloor.swdByScale)}): ${t.heldOut.withinFloorFactor ? "within" : "not within"} ${FLOOR_FACTOR}x the held-out floor on both.`,
      ]),
  "",
  "- style distance: ‖G(x) − G(e)‖_F / ‖G(e)‖_F of trace-normalised Gram matrices of ReLU responses of a fixed, seeded bank of random zero-mean filters, on an average-pooled pyramid (1, 2, 4, 8), mean over levels; 1 for a flat image.",
  "- patch SWD: sliced Wasserstein distance (W1) between the distributions of the images' 5x5 patches and the exemplar's along seeded zero-mean directions, on a pyramid (1, 2, 4), mean over levels; pixels in [0, 1].",
  "- mean / contrast ratio: the images' pixel mean / standard deviation over the exemplar's.",
  `- floor: the same numbers for ${t.floor.crops} crops of the exemplar at seeded positions, at the images' size: a crop shares its pixels with the statistics it is compared with, so at sizes near the exemplar's this floor lies below what an independent sample of the texture scores. "Over the floor" compares level by level and reports the worst level.`,
  "- held-out floor: crops of one half of the exemplar (split across its longer side) scored against the other half, the images against either half and averaged: what an independent sample of the texture scores at this size.",
  "",
]
