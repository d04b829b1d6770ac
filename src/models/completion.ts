/**
 * Pattern completion (Exp 6 of the paper): recover the hidden pixels of an
 * image from its visible ones with a trained generator, optionally refined
 * by the descriptor.
 *
 *   infer z   U(z) = ‖M ⊙ (X − g(z))‖²/(2σ²) + ‖z‖²/2          (M: 1 visible, 0 hidden)
 *             z ← z − (δ_t²/2)·∂U/∂z [+ δ_t·N(0, I)]             R restarts, keep the best
 *                                                                 on the visible pixels
 *             (δ_t = δ, or annealed from δ to δ/10 along a cosine, the noise ending at 0)
 *   fill      X̂ = M ⊙ X + (1 − M) ⊙ ḡ,  ḡ = g(z*) or the mean of g(z) over the A best
 *             restarts (an estimate of the hidden pixels' posterior mean)
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
  /** The fill is the mean of g(z) over this many best-fitting restarts (default 1: g(z*) of the best). */
  readonly average?: number | undefined
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

/** One chain of z per restart: its end point and its visible-pixel error per image. */
export interface Restart {
  readonly z: tf.Tensor2D
  readonly error: tf.Tensor1D
}

/** `restarts` independent chains from z ~ N(0, I), each `steps` long (the caller disposes them). */
export const latentRestarts = (
  generator: Net,
  observed: tf.Tensor4D,
  mask: tf.Tensor4D,
  zDim: number,
  o: LatentInference,
  key: Key,
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
  return Array.from({ length: o.restarts }, (_, r) => {
    const chain = foldIn(key, "restart", r)
    let z = normalTensor(foldIn(chain, "init"), [n, zDim]) as tf.Tensor2D
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
): tf.Tensor2D => {
  const restarts = latentRestarts(generator, observed, mask, zDim, o, key)
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
): tf.Tensor4D => {
  const restarts = latentRestarts(generator, observed, mask, zDim, o, key)
  const keep = Math.max(1, Math.min(o.average ?? 1, restarts.length))
  const fill = tf.tidy(() => {
    const chosen = bestRestarts(restarts, keep)
    const sum = restarts.reduce(
      (acc, r, i) =>
        tf.add(acc, tf.mul(generate(generator, r.z), tf.reshape(tf.gather(chosen, i), [-1, 1, 1, 1]))),
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
): Completion => {
  const generated = inferFill(generator, observed, mask, zDim, inference, foldIn(key, "infer"))
  const filled = fillHidden(observed, mask, generated)
  if (descriptor === undefined || refine.steps === 0) return { completed: filled, generated }
  const { revised } = langevinRevise(descriptor, filled, refine, foldIn(key, "refine"), {
    mask,
    observed,
  })
  filled.dispose()
  return { completed: revised, generated }
}
