/**
 * Pattern completion (Exp 6 of the paper): recover the hidden pixels of an
 * image from its visible ones with a trained generator, optionally refined
 * by the descriptor.
 *
 *   infer z   U(z) = ‖M ⊙ (X − g(z))‖²/(2σ²) + ‖z‖²/2          (M: 1 visible, 0 hidden)
 *             z ← z − (δ_t²/2)·∂U/∂z [+ δ_t·N(0, I)]             R restarts, keep the best
 *                                                                 on the visible pixels
 *             (restarts from z ~ N(0, I), or from the R samples of a bank of the
 *             generator's samples that fit the visible pixels best)
 *             (δ_t = δ, or annealed from δ to δ/10 along a cosine, the noise ending at 0)
 *   fill      X̂ = M ⊙ X + (1 − M) ⊙ ḡ,  ḡ = g(z*) or the pixelwise mean or median of g(z)
 *             over the A best restarts (estimates of the hidden pixels' posterior mean
 *             or median)
 *   refine    descriptor Langevin on X̂ with the visible pixels clamped to the observation
 *
 * Images are NHWC in [-1, 1]; masks are [n, h, w, 1] (broadcast over channels).
 */
import * as tf from "@tensorflow/tfjs-core"
import { generate, type LangevinOptions, langevinRevise, type Net } from "./coopnets.js"
import { foldIn, type Key, normalTensor } from "./random.js"

export interface LatentInference {
  readonly restarts: number
  readonly steps: number
  /** δ of the z updates */
  readonly stepSize: number
  /** σ of the generator's noise: weighs the visible-pixel fit against the prior */
  readonly sigma: number
  /** Langevin (true) or plain gradient descent (false) */
  readonly noise: boolean
  /** Anneal: the step size falls from `stepSize` to `stepSize`/10 along a cosine and the noise with it, to 0 at the last step (default false). */
  readonly anneal?: boolean | undefined
  /** The fill combines g(z) over this many best-fitting restarts (default 1: g(z*) of the best). */
  readonly average?: number | undefined
  /** How: their pixelwise mean (the default; the posterior mean, best for squared error) or median (best for absolute error). */
  readonly combine?: "mean" | "median" | undefined
}

/** δ_t of step t of `steps`: constant, or annealed from δ to δ/10 along a cosine. */
export const latentStepSize = (
  o: Pick<LatentInference, "stepSize" | "anneal">,
  t: number,
  steps: number,
): number =>
  o.anneal === true && steps > 1
    ? o.stepSize * (0.1 + 0.45 * (1 + Math.cos((Math.PI * t) / (steps - 1))))
    : o.stepSize

/** The noise scale of step t: δ_t, or with annealing δ_t times a factor falling linearly to 0 at the last step. */
const noiseScale = (o: Pick<LatentInference, "stepSize" | "anneal">, t: number, steps: number): number =>
  o.anneal === true && steps > 1
    ? latentStepSize(o, t, steps) * (1 - t / (steps - 1))
    : latentStepSize(o, t, steps)

/** Per example: Σ over visible pixels of (X − g(z))², and the number of visible values. */
const visibleSquaredError = (x: tf.Tensor4D, mask: tf.Tensor4D, g: tf.Tensor4D): tf.Tensor1D =>
  tf.sum(tf.mul(mask, tf.square(tf.sub(x, g))), [1, 2, 3]) as tf.Tensor1D

/** A bank of the generator's samples: their latent vectors [N, zDim] and images flattened [N, D]. */
export interface LatentBank {
  readonly z: tf.Tensor2D
  readonly images: tf.Tensor2D
  /** the images squared, kept for the distances */
  readonly squared: tf.Tensor2D
}

/**
 * `size` samples g(z), z ~ N(0, I), drawn in batches of `batch` (batch norm
 * uses batch statistics, as when sampling). The caller disposes the bank.
 */
export const latentBank = (generator: Net, zDim: number, size: number, batch: number, key: Key): LatentBank =>
  latentBankOf(generator, normalTensor(foldIn(key, "bank"), [size, zDim]) as tf.Tensor2D, batch)

/** The bank of the given latent vectors [N, zDim] (taken over: the bank disposes them): g(z) in batches of `batch`. */
export const latentBankOf = (generator: Net, z: tf.Tensor2D, batch: number): LatentBank => {
  const [size, zDim] = z.shape
  const parts: Array<tf.Tensor2D> = []
  for (let first = 0; first < size; first += batch) {
    const m = Math.min(batch, size - first)
    parts.push(
      tf.tidy(() => {
        const x = generate(generator, tf.slice(z, [first, 0], [m, zDim]))
        return tf.reshape(x, [m, -1]) as tf.Tensor2D
      }),
    )
  }
  const images = tf.concat(parts) as tf.Tensor2D
  tf.dispose(parts)
  return { z, images, squared: tf.square(images) as tf.Tensor2D }
}

/**
 * A bank of encoded images: for each of `count` images [count, h, w, c] (HWC
 * each, in [-1, 1]) its latent vector inferred from all its pixels (`o`'s
 * chains, from `starts`' best fits when given) and the generator's image of
 * it, both in the batches of `batch` that `latentBankOf` uses (so a bank
 * rebuilt from the same vectors is the same bank). Chains started from it
 * fit a query the way its nearest encoded image does. The caller disposes it.
 */
export const encodedBank = (
  generator: Net,
  images: Float32Array,
  shape: readonly [number, number, number],
  count: number,
  zDim: number,
  batch: number,
  o: LatentInference,
  key: Key,
  starts?: LatentBank,
): LatentBank => {
  const [h, w, c] = shape
  const zs: Array<tf.Tensor2D> = []
  // the batches latentBankOf generates in: batch norm uses batch statistics, so
  // each image is fitted as the bank will draw it
  for (let first = 0; first < count; first += batch) {
    const m = Math.min(batch, count - first)
    const x = tf.tensor4d(images.subarray(first * h * w * c, (first + m) * h * w * c), [m, h, w, c])
    const ones = tf.ones([m, h, w, 1]) as tf.Tensor4D
    zs.push(inferLatent(generator, x, ones, zDim, o, foldIn(key, "encode", first), starts))
    tf.dispose([x, ones])
  }
  const z = tf.concat(zs) as tf.Tensor2D
  tf.dispose(zs)
  return latentBankOf(generator, z, batch)
}

/**
 * Per image, the latent vectors of the `count` bank samples closest to it on
 * its visible pixels, best first: `count` tensors [n, zDim] (the caller
 * disposes them). ‖M ⊙ (x − g)‖² = Σ M·x² − 2 (M ⊙ x)·g + M·g², three matrix
 * products over the bank.
 */
export const bankStarts = (
  bank: LatentBank,
  observed: tf.Tensor4D,
  mask: tf.Tensor4D,
  count: number,
): Array<tf.Tensor2D> =>
  tf.tidy(() => {
    const n = observed.shape[0]
    const x = tf.reshape(observed, [n, -1])
    const m = tf.reshape(tf.broadcastTo(mask, observed.shape), [n, -1])
    const mx = tf.mul(m, x)
    const distance = tf.add(
      tf.sum(tf.mul(mx, x), 1, true),
      tf.sub(tf.matMul(m, bank.squared, false, true), tf.mul(tf.matMul(mx, bank.images, false, true), 2)),
    )
    const k = Math.min(count, bank.z.shape[0])
    const { indices } = tf.topk(tf.neg(distance), k)
    return Array.from(
      { length: count },
      (_, r) => tf.gather(bank.z, tf.reshape(tf.slice(indices, [0, r % k], [-1, 1]), [-1])) as tf.Tensor2D,
    )
  })

/** One chain of z per restart: its end point and its visible-pixel error per image. */
export interface Restart {
  readonly z: tf.Tensor2D
  readonly error: tf.Tensor1D
}

/**
 * `restarts` independent chains, each `steps` long, from z ~ N(0, I) or, given
 * a bank, from the bank's best fits of each image (the caller disposes them).
 */
export const latentRestarts = (
  generator: Net,
  observed: tf.Tensor4D,
  mask: tf.Tensor4D,
  zDim: number,
  o: LatentInference,
  key: Key,
  bank?: LatentBank,
): ReadonlyArray<Restart> => {
  const n = observed.shape[0]
  const twoSigma2 = 2 * o.sigma * o.sigma
  const potentialGrad = tf.grad((z: tf.Tensor) =>
    tf.add(
      tf.div(tf.sum(visibleSquaredError(observed, mask, generate(generator, z))), twoSigma2),
      tf.div(tf.sum(tf.square(z)), 2),
    ),
  )
  if (o.restarts < 1) throw new RangeError("latent inference needs at least one restart")
  const starts = bank === undefined ? undefined : bankStarts(bank, observed, mask, o.restarts)
  return Array.from({ length: o.restarts }, (_, r) => {
    const chain = foldIn(key, "restart", r)
    let z = starts?.[r] ?? (normalTensor(foldIn(chain, "init"), [n, zDim]) as tf.Tensor2D)
    for (let t = 0; t < o.steps; t++) {
      const delta = latentStepSize(o, t, o.steps)
      const sd = noiseScale(o, t, o.steps)
      const next = tf.tidy(() => {
        const moved = tf.sub(z, tf.mul(potentialGrad(z), (delta * delta) / 2))
        return (
          o.noise && sd > 0 ? tf.add(moved, normalTensor(foldIn(chain, t), z.shape, sd)) : moved
        ) as tf.Tensor2D
      })
      z.dispose()
      z = next
    }
    return { z, error: tf.tidy(() => visibleSquaredError(observed, mask, generate(generator, z))) }
  })
}

/** Per image, 1 for the `keep` restarts with the smallest visible error, else 0: [restarts, n]. */
const bestRestarts = (restarts: ReadonlyArray<Restart>, keep: number): tf.Tensor2D =>
  tf.tidy(() => {
    const errors = tf.stack(restarts.map((r) => r.error)) as tf.Tensor2D // [R, n]
    const k = Math.min(keep, restarts.length)
    // the k-th smallest error per image (ties broken towards earlier restarts by a tiny ramp)
    const ramp = tf.reshape(tf.range(0, restarts.length), [restarts.length, 1])
    const ranked = tf.add(errors, tf.mul(ramp, tf.mul(tf.max(errors, 0, true), 1e-7)))
    const kth = tf.neg(tf.topk(tf.neg(tf.transpose(ranked)), k).values) // [n, k] ascending
    const threshold = tf.slice(kth, [0, k - 1], [-1, 1]) // [n, 1]
    return tf.cast(tf.lessEqual(ranked, tf.transpose(threshold)), "float32") as tf.Tensor2D
  })

/**
 * Infers z for each image from its visible pixels: `restarts` independent
 * chains from z ~ N(0, I), each `steps` long; per image the end point that
 * best fits the visible pixels wins. Returns [n, zDim] (the caller owns it).
 */
export const inferLatent = (
  generator: Net,
  observed: tf.Tensor4D,
  mask: tf.Tensor4D,
  zDim: number,
  o: LatentInference,
  key: Key,
  bank?: LatentBank,
): tf.Tensor2D => {
  const restarts = latentRestarts(generator, observed, mask, zDim, o, key, bank)
  const best = tf.tidy(() => {
    const chosen = bestRestarts(restarts, 1) // one 1 per image
    return restarts.reduce(
      (sum, r, i) => tf.add(sum, tf.mul(r.z, tf.reshape(tf.gather(chosen, i), [-1, 1]))),
      tf.zerosLike(restarts[0]?.z as tf.Tensor2D),
    ) as tf.Tensor2D
  })
  tf.dispose(restarts.flatMap((r) => [r.z, r.error]))
  return best
}

/**
 * The generator's fill of each image: g(z*) of the best restart, or with
 * `average` A > 1 the mean of g(z) over the A best restarts. Each restart's
 * g(z) is computed over the whole batch, as during inference (batch norm uses
 * batch statistics).
 */
export const inferFill = (
  generator: Net,
  observed: tf.Tensor4D,
  mask: tf.Tensor4D,
  zDim: number,
  o: LatentInference,
  key: Key,
  bank?: LatentBank,
): tf.Tensor4D => {
  const restarts = latentRestarts(generator, observed, mask, zDim, o, key, bank)
  const keep = Math.max(1, Math.min(o.average ?? 1, restarts.length))
  const fill = tf.tidy(() => {
    const chosen = bestRestarts(restarts, keep) // [R, n]
    const drafts = restarts.map((r) => generate(generator, r.z))
    if (o.combine === "median" && keep > 1) {
      // per pixel, the chosen restarts' values sorted (the others pushed past them), then the middle one(s)
      const [n, h, w, c] = observed.shape
      const stacked = tf.stack(
        drafts.map((g, i) =>
          tf.where(
            tf.greater(tf.reshape(tf.gather(chosen, i), [-1, 1, 1, 1]), 0.5),
            g,
            tf.fill(g.shape, 1e9),
          ),
        ),
        4,
      ) // [n, h, w, c, R]
      const ascending = tf.neg(tf.topk(tf.neg(stacked), keep).values) // [n, h, w, c, keep]
      const middle = tf.slice(
        ascending,
        [0, 0, 0, 0, Math.floor((keep - 1) / 2)],
        [n, h, w, c, 2 - (keep % 2)],
      )
      return tf.mean(middle, 4) as tf.Tensor4D
    }
    const sum = drafts.reduce(
      (acc, g, i) => tf.add(acc, tf.mul(g, tf.reshape(tf.gather(chosen, i), [-1, 1, 1, 1]))),
      tf.zerosLike(observed),
    )
    return tf.div(sum, tf.reshape(tf.sum(chosen, 0), [-1, 1, 1, 1])) as tf.Tensor4D
  })
  tf.dispose(restarts.flatMap((r) => [r.z, r.error]))
  return fill
}

/** M ⊙ X + (1 − M) ⊙ fill, exact on the visible pixels. */
export const fillHidden = (observed: tf.Tensor4D, mask: tf.Tensor4D, fill: tf.Tensor4D): tf.Tensor4D =>
  tf.tidy(
    () => tf.where(tf.greater(tf.broadcastTo(mask, observed.shape), 0.5), observed, fill) as tf.Tensor4D,
  )

export interface Completion {
  /** the completed images: the observation on visible pixels, the model's fill on hidden ones */
  readonly completed: tf.Tensor4D
  /** the generator's fill (g(z*), or the mean over the best restarts), before any descriptor refinement */
  readonly generated: tf.Tensor4D
}

/**
 * Completes `observed` (hidden pixels' values ignored): infer z, fill the
 * hidden pixels with g(z*), then with `refine.steps > 0` run descriptor
 * Langevin on the hidden pixels only (visible ones clamped every step).
 */
export const complete = (
  generator: Net,
  descriptor: Net | undefined,
  observed: tf.Tensor4D,
  mask: tf.Tensor4D,
  zDim: number,
  inference: LatentInference,
  refine: LangevinOptions,
  key: Key,
  bank?: LatentBank,
): Completion => {
  const generated = inferFill(generator, observed, mask, zDim, inference, foldIn(key, "infer"), bank)
  const filled = fillHidden(observed, mask, generated)
  if (descriptor === undefined || refine.steps === 0) return { completed: filled, generated }
  const { revised } = langevinRevise(descriptor, filled, refine, foldIn(key, "refine"), {
    mask,
    observed,
  })
  filled.dispose()
  return { completed: revised, generated }
}
