/**
 * Texture quality: how far images are from one exemplar texture, in numbers
 * that other crops of the exemplar itself also get (the floor: what a perfect
 * synthesis scores at that image size). Pixels are in [0, 1].
 *
 * - style distance: Gram matrices of the ReLU responses of a fixed, seeded bank
 *   of zero-mean random filters, each divided by its trace (so blind to the
 *   mean and to the contrast, which have their own ratios), on an average-pooled pyramid (random single-layer
 *   filters at several scales stand in for the VGG features of Gatys, Ecker &
 *   Bethge, "Texture synthesis using convolutional neural networks", NeurIPS
 *   2015; Ustyuzhaninov et al., "What does it take to generate natural
 *   textures?", ICLR 2017). Per scale ‖G(x) − G(e)‖_F / ‖G(e)‖_F with
 *   G = FᵀF / tr(FᵀF) over the valid positions; the distance is the mean over
 *   scales (1 for a flat image).
 * - patch SWD: the sliced Wasserstein distance (W1) between the distribution
 *   of the image's p x p patches and the exemplar's, along seeded random
 *   zero-mean unit directions (blind to a brightness offset), on the same kind of pyramid (Rabin et al., "Wasserstein
 *   barycenter and its application to texture mixing", SSVM 2011; Karras et
 *   al., ICLR 2018, compare patch distributions this way). Each direction's
 *   W1 is approximated on `quantiles` evenly spaced quantiles.
 * - mean ratio and contrast ratio: the image's pixel mean and standard
 *   deviation over the exemplar's.
 *
 * Every number is computed per image and averaged over the images. Against
 * the floor, each distance is compared level by level and the worst level
 * counts (`overFloor`): a texture has to match at every scale. Plain tfjs: no
 * tensors outlive a call.
 */
import * as tf from "@tensorflow/tfjs-core"
import { foldIn, normals, rootKey, uniforms } from "./random.js"
import { rowQuantiles } from "./sliced-wasserstein.js"

export interface TextureQualityOptions {
  /** seeds the filter bank, the projections and the floor's crop positions */
  readonly seed: number
  /** pooling factors of the style pyramid */
  readonly styleScales: ReadonlyArray<number>
  /** random filters per style scale */
  readonly filters: number
  /** side of the random filters */
  readonly filterSize: number
  /** pooling factors of the patch pyramid */
  readonly patchScales: ReadonlyArray<number>
  /** side of the patches compared by the SWD */
  readonly patchSize: number
  /** random directions of the SWD (per patch scale) */
  readonly projections: number
  /** quantiles per direction */
  readonly quantiles: number
}

export const textureQualityDefaults: TextureQualityOptions = {
  seed: 0,
  styleScales: [1, 2, 4, 8],
  filters: 32,
  filterSize: 5,
  patchScales: [1, 2, 4],
  patchSize: 5,
  projections: 64,
  quantiles: 128,
}

/** Height, width, channels. */
export type Shape3 = readonly [number, number, number]

export interface TextureScores {
  /** mean over style scales of ‖G(x) − G(e)‖_F / ‖G(e)‖_F (trace-normalised Grams) */
  readonly style: number
  /** mean over patch scales of the sliced W1 between patch distributions (pixel units, [0, 1] scale) */
  readonly swd: number
  /** the style distance at each of `styleScales` */
  readonly styleByScale: ReadonlyArray<number>
  /** the patch SWD at each of `patchScales` */
  readonly swdByScale: ReadonlyArray<number>
  /** pixel mean of the image / of the exemplar */
  readonly meanRatio: number
  /** pixel standard deviation of the image / of the exemplar */
  readonly contrastRatio: number
}

export interface TextureReport {
  /** the mean over images */
  readonly mean: TextureScores
  /** the standard deviation over images (0 for one image) */
  readonly spread: TextureScores
  readonly perImage: ReadonlyArray<TextureScores>
}

/** What the scores compare against: the exemplar's statistics, computed once. */
export interface TextureReference {
  readonly options: TextureQualityOptions
  readonly exemplar: Float32Array
  readonly shape: Shape3
  /** per style scale, the exemplar's Gram matrix (filters x filters, row-major) and its Frobenius norm */
  readonly grams: ReadonlyArray<{ readonly gram: Float32Array; readonly norm: number }>
  /** per patch scale, projections x quantiles values, row-major */
  readonly quantiles: ReadonlyArray<Float32Array>
  readonly pixelMean: number
  readonly pixelStd: number
}

/** The smallest image side every pyramid level can take (a pooled image must hold one whole filter or patch). */
export const minimumSide = (o: TextureQualityOptions): number =>
  Math.max(...o.styleScales.map((s) => s * o.filterSize), ...o.patchScales.map((s) => s * o.patchSize))

const checkImage = (shape: Shape3, o: TextureQualityOptions, what: string): void => {
  const [h, w] = shape
  const side = minimumSide(o)
  if (h < side || w < side)
    throw new RangeError(
      `${what} is ${h}x${w}, smaller than the ${side}x${side} that the measure's coarsest level needs; lower styleScales/patchScales or use larger images`,
    )
}

/**
 * Unit-norm random filters [k, k, c, n] from `key` (a fixed bank for a given
 * seed, channels and options); `zeroMean` filters ignore a constant offset.
 */
const unitFilters = (key: number, k: number, c: number, n: number, zeroMean = false): tf.Tensor4D =>
  tf.tidy(() => {
    const raw = tf.tensor4d(normals(key, k * k * c * n), [k, k, c, n])
    const w = zeroMean ? tf.sub(raw, tf.mean(raw, [0, 1, 2], true)) : raw
    return tf.div(w, tf.sqrt(tf.sum(tf.square(w), [0, 1, 2], true))) as tf.Tensor4D
  })

/** Response energy per position below which an image counts as flat (float32 round-off of a constant). */
const FLAT_ENERGY = 1e-10

const pooled = (x: tf.Tensor4D, factor: number): tf.Tensor4D =>
  factor === 1 ? x : tf.avgPool(x, factor, factor, "valid")

/**
 * Gram matrix of the ReLU responses of the scale's filter bank over valid
 * positions, divided by its trace (the responses' total energy): [filters,
 * filters]. A flat image (no response) gives zeros.
 */
const gramOf = (x: tf.Tensor4D, scaleIndex: number, o: TextureQualityOptions): tf.Tensor2D =>
  tf.tidy(() => {
    const c = x.shape[3]
    const bank = unitFilters(
      foldIn(rootKey(o.seed), "style", scaleIndex, c),
      o.filterSize,
      c,
      o.filters,
      true,
    )
    const responses = tf.relu(tf.conv2d(pooled(x, o.styleScales[scaleIndex] as number), bank, 1, "valid"))
    const f = tf.reshape(responses, [-1, o.filters]) as tf.Tensor2D
    const gram = tf.matMul(f, f, true, false)
    const energy = tf.sum(tf.square(f))
    // below float round-off (a flat image through zero-mean filters): no response
    const responds = tf.greater(energy, FLAT_ENERGY * (f.shape[0] as number))
    return tf.where(responds, tf.div(gram, tf.maximum(energy, 1e-30)), tf.zerosLike(gram)) as tf.Tensor2D
  })

/** Sorted projections of every valid patch, subsampled at `quantiles` evenly spaced ranks: [projections * quantiles]. */
const patchQuantiles = (x: tf.Tensor4D, scaleIndex: number, o: TextureQualityOptions): Float32Array => {
  const projected = tf.tidy(() => {
    const c = x.shape[3]
    const directions = unitFilters(
      foldIn(rootKey(o.seed), "patches", scaleIndex, c),
      o.patchSize,
      c,
      o.projections,
      true,
    )
    const p = tf.conv2d(pooled(x, o.patchScales[scaleIndex] as number), directions, 1, "valid")
    return tf.transpose(tf.reshape(p, [-1, o.projections]))
  })
  return rowQuantiles(projected as tf.Tensor2D, o.quantiles)
}

const meanAndStd = (x: Float32Array): { mean: number; std: number } => {
  let sum = 0
  for (const v of x) sum += v
  const mean = sum / x.length
  let sq = 0
  for (const v of x) sq += (v - mean) * (v - mean)
  return { mean, std: Math.sqrt(sq / x.length) }
}

const asBatch = (pixels: Float32Array, shape: Shape3): tf.Tensor4D => tf.tensor4d(pixels, [1, ...shape])

/** The exemplar's statistics. `exemplar` holds h*w*c values in [0, 1] (HWC order). */
export const textureReference = (
  exemplar: Float32Array,
  shape: Shape3,
  options: Partial<TextureQualityOptions> = {},
): TextureReference => {
  const o = { ...textureQualityDefaults, ...options }
  if (exemplar.length !== shape[0] * shape[1] * shape[2])
    throw new RangeError(`the exemplar holds ${exemplar.length} values, not ${shape.join("x")}`)
  checkImage(shape, o, "the exemplar")
  const x = asBatch(exemplar, shape)
  const grams = o.styleScales.map((_, i) => {
    const g = gramOf(x, i, o)
    const gram = g.dataSync() as Float32Array
    const norm = Math.hypot(...gram)
    g.dispose()
    return { gram, norm }
  })
  const quantiles = o.patchScales.map((_, i) => patchQuantiles(x, i, o))
  x.dispose()
  const { mean, std } = meanAndStd(exemplar)
  return { options: o, exemplar, shape, grams, quantiles, pixelMean: mean, pixelStd: std }
}

/** The four numbers of one image (h*w*c values in [0, 1]) against the reference. */
export const scoreImage = (ref: TextureReference, pixels: Float32Array, shape: Shape3): TextureScores => {
  const o = ref.options
  if (shape[2] !== ref.shape[2])
    throw new RangeError(`the image has ${shape[2]} channels but the exemplar ${ref.shape[2]}`)
  checkImage(shape, o, "the image")
  const x = asBatch(pixels, shape)
  const styleByScale = ref.grams.map(({ gram, norm }, i) => {
    const g = gramOf(x, i, o)
    const values = g.dataSync() as Float32Array
    g.dispose()
    let d = 0
    for (let j = 0; j < values.length; j++) d += ((values[j] as number) - (gram[j] as number)) ** 2
    return Math.sqrt(d) / Math.max(norm, 1e-12)
  })
  const swdByScale = ref.quantiles.map((reference, i) => {
    const q = patchQuantiles(x, i, o)
    let d = 0
    for (let j = 0; j < q.length; j++) d += Math.abs((q[j] as number) - (reference[j] as number))
    return d / q.length
  })
  x.dispose()
  const { mean, std } = meanAndStd(pixels)
  const average = (v: ReadonlyArray<number>) => v.reduce((a, b) => a + b, 0) / v.length
  return {
    style: average(styleByScale),
    swd: average(swdByScale),
    styleByScale,
    swdByScale,
    meanRatio: mean / Math.max(ref.pixelMean, 1e-12),
    contrastRatio: std / Math.max(ref.pixelStd, 1e-12),
  }
}

const KEYS = ["style", "swd", "meanRatio", "contrastRatio"] as const

const summarise = (perImage: ReadonlyArray<TextureScores>): TextureReport => {
  const first = perImage[0] as TextureScores
  const stat = (f: (values: ReadonlyArray<number>) => number): TextureScores => ({
    ...(Object.fromEntries(KEYS.map((k) => [k, f(perImage.map((s) => s[k]))])) as Record<
      (typeof KEYS)[number],
      number
    >),
    styleByScale: first.styleByScale.map((_, i) => f(perImage.map((s) => s.styleByScale[i] as number))),
    swdByScale: first.swdByScale.map((_, i) => f(perImage.map((s) => s.swdByScale[i] as number))),
  })
  const mean = (v: ReadonlyArray<number>) => v.reduce((a, b) => a + b, 0) / v.length
  const spread = (v: ReadonlyArray<number>) => {
    const m = mean(v)
    return Math.sqrt(v.reduce((a, b) => a + (b - m) ** 2, 0) / v.length)
  }
  return { mean: stat(mean), spread: stat(spread), perImage }
}

/** Scores `count` images of `shape` stored one after another (HWC each, values in [0, 1]). */
export const scoreTextures = (
  ref: TextureReference,
  images: Float32Array,
  count: number,
  shape: Shape3,
): TextureReport => {
  const size = shape[0] * shape[1] * shape[2]
  if (count < 1 || images.length !== count * size)
    throw new RangeError(
      `expected ${count} images of ${shape.join("x")} (${count * size} values), got ${images.length}`,
    )
  return summarise(
    Array.from({ length: count }, (_, i) =>
      scoreImage(ref, images.subarray(i * size, (i + 1) * size), shape),
    ),
  )
}

/** `count` side x side crops of the exemplar at seeded positions, one after another. */
export const exemplarCrops = (ref: TextureReference, side: number, count: number): Float32Array => {
  const [h, w, c] = ref.shape
  if (side > h || side > w)
    throw new RangeError(
      `a ${side}x${side} crop does not fit in the ${h}x${w} exemplar; sample at most ${Math.min(h, w)}`,
    )
  const corners = uniforms(foldIn(rootKey(ref.options.seed), "floor", side), 2 * count)
  const out = new Float32Array(count * side * side * c)
  for (let k = 0; k < count; k++) {
    const top = Math.floor((corners[2 * k] as number) * (h - side + 1))
    const left = Math.floor((corners[2 * k + 1] as number) * (w - side + 1))
    for (let y = 0; y < side; y++) {
      const from = ((top + y) * w + left) * c
      out.set(ref.exemplar.subarray(from, from + side * c), (k * side + y) * side * c)
    }
  }
  return out
}

/** The floor: the scores of `count` other side x side crops of the exemplar itself. */
export const textureFloor = (ref: TextureReference, side: number, count = 16): TextureReport =>
  scoreTextures(ref, exemplarCrops(ref, side, count), count, [side, side, ref.shape[2]])

export interface OverFloor {
  /** the largest over the style levels of the level's distance over the floor's */
  readonly style: number
  /** the largest over the patch levels of the level's SWD over the floor's */
  readonly swd: number
  readonly styleByScale: ReadonlyArray<number>
  readonly swdByScale: ReadonlyArray<number>
}

/**
 * Each distance over the floor's, level by level (1: as good as the
 * exemplar's own crops); `style` and `swd` are the worst levels.
 */
export const overFloor = (scores: TextureScores, floor: TextureScores): OverFloor => {
  const ratios = (a: ReadonlyArray<number>, b: ReadonlyArray<number>) =>
    a.map((v, i) => v / Math.max(b[i] as number, 1e-12))
  const styleByScale = ratios(scores.styleByScale, floor.styleByScale)
  const swdByScale = ratios(scores.swdByScale, floor.swdByScale)
  return { style: Math.max(...styleByScale), swd: Math.max(...swdByScale), styleByScale, swdByScale }
}

/**
 * The exemplar split in two halves across its longer side, each a reference of
 * its own. A crop of the exemplar shares its pixels with the statistics it is
 * compared with (a 128 px crop is a quarter of a 256 px exemplar), which pulls
 * the floor below what an independent sample of the texture scores; crops of
 * one half against the other half do not.
 */
export interface HeldOutReference {
  readonly halves: readonly [TextureReference, TextureReference]
}

const halfOf = (ref: TextureReference, second: boolean): { pixels: Float32Array; shape: Shape3 } => {
  const [h, w, c] = ref.shape
  if (w >= h) {
    const half = Math.floor(w / 2)
    const left = second ? w - half : 0
    const pixels = new Float32Array(h * half * c)
    for (let y = 0; y < h; y++)
      pixels.set(ref.exemplar.subarray((y * w + left) * c, (y * w + left + half) * c), y * half * c)
    return { pixels, shape: [h, half, c] }
  }
  const half = Math.floor(h / 2)
  const top = second ? h - half : 0
  return { pixels: ref.exemplar.slice(top * w * c, (top + half) * w * c), shape: [half, w, c] }
}

/** The two halves of the exemplar as references, with the options of `ref`. */
export const heldOutReference = (ref: TextureReference): HeldOutReference => {
  const [a, b] = [halfOf(ref, false), halfOf(ref, true)]
  return {
    halves: [
      textureReference(a.pixels, a.shape, ref.options),
      textureReference(b.pixels, b.shape, ref.options),
    ],
  }
}

/** Each image's scores against either half, averaged: what an independent sample is compared with. */
export const scoreHeldOut = (
  held: HeldOutReference,
  images: Float32Array,
  count: number,
  shape: Shape3,
): TextureReport => {
  const [a, b] = held.halves
  const one = scoreTextures(a, images, count, shape).perImage
  const two = scoreTextures(b, images, count, shape).perImage
  const mean2 = (x: number, y: number) => (x + y) / 2
  return summarise(
    one.map((s, i) => {
      const t = two[i] as TextureScores
      return {
        style: mean2(s.style, t.style),
        swd: mean2(s.swd, t.swd),
        styleByScale: s.styleByScale.map((v, j) => mean2(v, t.styleByScale[j] as number)),
        swdByScale: s.swdByScale.map((v, j) => mean2(v, t.swdByScale[j] as number)),
        meanRatio: mean2(s.meanRatio, t.meanRatio),
        contrastRatio: mean2(s.contrastRatio, t.contrastRatio),
      }
    }),
  )
}

/**
 * The held-out floor: `count` side x side crops, half of them from each half of
 * the exemplar, each scored against the other half only.
 */
export const heldOutFloor = (held: HeldOutReference, side: number, count = 16): TextureReport => {
  const [a, b] = held.halves
  const [ha, wa] = a.shape
  if (side > ha || side > wa)
    throw new RangeError(
      `a ${side}x${side} crop does not fit in half of the exemplar (${ha}x${wa}); the held-out floor needs an exemplar at least ${side}x${2 * side}`,
    )
  const each = Math.max(1, Math.floor(count / 2))
  const shape: Shape3 = [side, side, a.shape[2]]
  return summarise([
    ...scoreTextures(b, exemplarCrops(a, side, each), each, shape).perImage,
    ...scoreTextures(a, exemplarCrops(b, side, each), each, shape).perImage,
  ])
}
