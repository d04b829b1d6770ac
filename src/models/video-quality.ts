/**
 * Dynamic-texture quality: how far synthesised clips are from the observed one, in numbers
 * that other windows of the observed clip also get (the floor: what a perfect synthesis
 * scores). Clips are T×H×W×C, pixels in [0, 1].
 *
 * - difference SWD: the sliced Wasserstein distance (W1) between the distribution of p×p×C
 *   patches of frame-to-frame differences X_{t+1} − X_t of the synthesis and of the observed
 *   clip, along seeded random unit directions, each direction's W1 approximated on evenly
 *   spaced quantiles (Rabin et al., "Wasserstein barycenter and its application to texture
 *   mixing", SSVM 2011; Karras et al., ICLR 2018). It sees how much and in which local
 *   patterns the texture changes, not where; it is blind to the direction of motion of a
 *   symmetric pattern (a wave drifting left and right have the same differences).
 * - transition SWD: the same between p×p×2C patches of (X_t, X_{t+1} − X_t) jointly: a frame
 *   together with how it changes, which tells the direction of motion (fire rising, not falling).
 * - motion ratio: mean |X_{t+1} − X_t| of the synthesis over the observed clip's (0: frozen,
 *   1: as lively, above 1: flicker).
 * - frame SWD: the same sliced W1 between the p×p×C patches of the frames themselves (all
 *   frames pooled): a per-frame appearance statistic.
 *
 * Every number is computed per clip, then averaged over clips (with the spread). Plain
 * tfjs: no tensors outlive a call.
 */
import * as tf from "@tensorflow/tfjs-core"
import { foldIn, normals, rootKey } from "./random.js"
import { rowQuantiles } from "./sliced-wasserstein.js"

export interface VideoQualityOptions {
  /** seeds the projection directions */
  readonly seed: number
  /** side of the compared patches */
  readonly patchSize: number
  /** random directions of each SWD */
  readonly projections: number
  /** quantiles per direction */
  readonly quantiles: number
}

export const videoQualityDefaults: VideoQualityOptions = {
  seed: 0,
  patchSize: 4,
  projections: 64,
  quantiles: 128,
}

/** Frames, height, width, channels. */
export type ClipShape = readonly [number, number, number, number]

export interface VideoScores {
  /** sliced W1 between the patch distributions of frame differences (pixel units, [0, 1] scale) */
  readonly differenceSwd: number
  /** sliced W1 between the distributions of (frame, difference) patch pairs */
  readonly transitionSwd: number
  /** mean |frame difference| of the clip over the observed clip's */
  readonly motionRatio: number
  /** sliced W1 between the patch distributions of the frames */
  readonly frameSwd: number
}

export interface VideoReport {
  readonly mean: VideoScores
  /** standard deviation over clips (0 for one clip) */
  readonly spread: VideoScores
  readonly perClip: ReadonlyArray<VideoScores>
}

/** The observed clip's statistics, computed once. */
export interface VideoReference {
  readonly options: VideoQualityOptions
  readonly shape: ClipShape
  /** projections × quantiles of the difference patches, row-major */
  readonly differences: Float32Array
  /** … of the (frame, difference) patches */
  readonly transitions: Float32Array
  /** … of the frame patches */
  readonly frames: Float32Array
  readonly meanAbsDifference: number
}

const checkClip = (values: Float32Array, shape: ClipShape, o: VideoQualityOptions, what: string): void => {
  const [t, h, w, c] = shape
  if (values.length !== t * h * w * c)
    throw new RangeError(`${what} holds ${values.length} values, not ${shape.join("x")}`)
  if (t < 2) throw new RangeError(`${what} has ${t} frame; frame differences need at least 2`)
  if (h < o.patchSize || w < o.patchSize)
    throw new RangeError(
      `${what} frames are ${h}x${w}, smaller than the ${o.patchSize}x${o.patchSize} patches`,
    )
}

/** Unit-norm random directions in patch space, as a conv filter [p, p, c, projections]. */
const directions = (o: VideoQualityOptions, c: number, label: string): tf.Tensor4D =>
  tf.tidy(() => {
    const p = o.patchSize
    const raw = tf.tensor4d(normals(foldIn(rootKey(o.seed), label, c), p * p * c * o.projections), [
      p,
      p,
      c,
      o.projections,
    ])
    return tf.div(raw, tf.sqrt(tf.sum(tf.square(raw), [0, 1, 2], true))) as tf.Tensor4D
  })

/** Sorted projections of every valid patch of every image of `x`, at evenly spaced ranks: [projections × quantiles]. */
const patchQuantiles = (x: tf.Tensor4D, o: VideoQualityOptions, label: string): Float32Array => {
  const projected = tf.tidy(() => {
    const p = tf.conv2d(x, directions(o, x.shape[3], label), 1, "valid")
    return tf.transpose(tf.reshape(p, [-1, o.projections]))
  })
  return rowQuantiles(projected as tf.Tensor2D, o.quantiles)
}

type Statistics = Pick<VideoReference, "differences" | "transitions" | "frames" | "meanAbsDifference">

const statistics = (values: Float32Array, shape: ClipShape, o: VideoQualityOptions): Statistics => {
  const [t, h, w, c] = shape
  const clip = tf.tensor4d(values, [t, h, w, c])
  const starts = tf.slice(clip, [0, 0, 0, 0], [t - 1, h, w, c])
  const differences = tf.tidy(() =>
    tf.sub(tf.slice(clip, [1, 0, 0, 0], [t - 1, h, w, c]), starts),
  ) as tf.Tensor4D
  const pairs = tf.concat([starts, differences], 3) as tf.Tensor4D
  const out: Statistics = {
    differences: patchQuantiles(differences, o, "differences"),
    transitions: patchQuantiles(pairs, o, "transitions"),
    frames: patchQuantiles(clip, o, "frames"),
    meanAbsDifference: tf.tidy(() => tf.mean(tf.abs(differences)).dataSync()[0] as number),
  }
  tf.dispose([clip, starts, differences, pairs])
  return out
}

/** The observed clip's statistics; `clip` holds T×H×W×C values in [0, 1]. */
export const videoReference = (
  clip: Float32Array,
  shape: ClipShape,
  options: Partial<VideoQualityOptions> = {},
): VideoReference => {
  const o = { ...videoQualityDefaults, ...options }
  checkClip(clip, shape, o, "the observed clip")
  return { options: o, shape, ...statistics(clip, shape, o) }
}

const meanAbsGap = (a: Float32Array, b: Float32Array): number => {
  let d = 0
  for (let i = 0; i < a.length; i++) d += Math.abs((a[i] as number) - (b[i] as number))
  return d / a.length
}

/** The four numbers of one clip against the reference (any frame count ≥ 2; the same channels). */
export const scoreClip = (ref: VideoReference, clip: Float32Array, shape: ClipShape): VideoScores => {
  if (shape[3] !== ref.shape[3])
    throw new RangeError(`the clip has ${shape[3]} channels but the observed clip ${ref.shape[3]}`)
  checkClip(clip, shape, ref.options, "the clip")
  const s = statistics(clip, shape, ref.options)
  return {
    differenceSwd: meanAbsGap(s.differences, ref.differences),
    transitionSwd: meanAbsGap(s.transitions, ref.transitions),
    motionRatio: s.meanAbsDifference / Math.max(ref.meanAbsDifference, 1e-12),
    frameSwd: meanAbsGap(s.frames, ref.frames),
  }
}

const KEYS = ["differenceSwd", "transitionSwd", "motionRatio", "frameSwd"] as const

const summarise = (perClip: ReadonlyArray<VideoScores>): VideoReport => {
  const mean = (v: ReadonlyArray<number>) => v.reduce((a, b) => a + b, 0) / v.length
  const spread = (v: ReadonlyArray<number>) => {
    const m = mean(v)
    return Math.sqrt(v.reduce((a, b) => a + (b - m) ** 2, 0) / v.length)
  }
  const stat = (f: (v: ReadonlyArray<number>) => number): VideoScores =>
    Object.fromEntries(KEYS.map((k) => [k, f(perClip.map((s) => s[k]))])) as unknown as VideoScores
  return { mean: stat(mean), spread: stat(spread), perClip }
}

/** Scores `count` clips of `shape` stored one after another (N×T×H×W×C, values in [0, 1]). */
export const scoreClips = (
  ref: VideoReference,
  clips: Float32Array,
  count: number,
  shape: ClipShape,
): VideoReport => {
  const size = shape[0] * shape[1] * shape[2] * shape[3]
  if (count < 1 || clips.length !== count * size)
    throw new RangeError(
      `expected ${count} clips of ${shape.join("x")} (${count * size} values), got ${clips.length}`,
    )
  return summarise(
    Array.from({ length: count }, (_, i) => scoreClip(ref, clips.subarray(i * size, (i + 1) * size), shape)),
  )
}

/**
 * Starts of the floor's windows: every `stride` frames from `stride` on, while a window of
 * `frames` fits in `available` (the reference is the window at 0).
 */
export const floorStarts = (available: number, frames: number, stride: number): ReadonlyArray<number> => {
  const starts: Array<number> = []
  for (let s = stride; s + frames <= available; s += stride) starts.push(s)
  return starts
}

/**
 * The floor: the scores of other windows of the observed clip (`all`: every frame the clip
 * has, [available, H, W, C], in [0, 1]) against the reference window at frame 0. Windows
 * `stride` frames apart (default half a window: each overlaps its neighbours by half, and the
 * first overlaps the reference by half when stride < frames, which flatters the floor).
 */
export const videoFloor = (
  ref: VideoReference,
  all: Float32Array,
  available: number,
  stride = Math.max(1, Math.floor(ref.shape[0] / 2)),
): { readonly report: VideoReport; readonly starts: ReadonlyArray<number> } | undefined => {
  const [t, h, w, c] = ref.shape
  const frameSize = h * w * c
  if (all.length !== available * frameSize)
    throw new RangeError(`the clip holds ${all.length} values, not ${available} frames of ${h}x${w}x${c}`)
  const starts = floorStarts(available, t, stride)
  if (starts.length === 0) return undefined
  const windows = new Float32Array(starts.length * t * frameSize)
  starts.forEach((s, i) => {
    windows.set(all.subarray(s * frameSize, (s + t) * frameSize), i * t * frameSize)
  })
  return { report: scoreClips(ref, windows, starts.length, ref.shape), starts }
}
