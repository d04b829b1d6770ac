/**
 * Pattern completion (Exp 6 of the paper): recover the hidden pixels of an
 * image from its visible ones with a trained generator, optionally refined
 * by the descriptor.
 *
 *   infer z   U(z) = ‖M ⊙ (X − g(z))‖²/(2σ²) + ‖z‖²/2          (M: 1 visible, 0 hidden)
 *             z ← z − (δ²/2)·∂U/∂z [+ δ·N(0, I)]                 R restarts, keep the best
 *                                                                 on the visible pixels
 *   refine    descriptor Langevin on X with the visible pixels clamped to the observation
 *   fill      X̂ = M ⊙ X + (1 − M) ⊙ g(z*)                       visible pixels untouched
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
}

/** Per example: Σ over visible pixels of (X − g(z))², and the number of visible values. */
const visibleSquaredError = (x: tf.Tensor4D, mask: tf.Tensor4D, g: tf.Tensor4D): tf.Tensor1D =>
  tf.sum(tf.mul(mask, tf.square(tf.sub(x, g))), [1, 2, 3]) as tf.Tensor1D

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
  const n = observed.shape[0]
  const half = (o.stepSize * o.stepSize) / 2
  const twoSigma2 = 2 * o.sigma * o.sigma
  const potentialGrad = tf.grad((z: tf.Tensor) =>
    tf.add(
      tf.div(tf.sum(visibleSquaredError(observed, mask, generate(generator, z))), twoSigma2),
      tf.div(tf.sum(tf.square(z)), 2),
    ),
  )
  let best: tf.Tensor2D | undefined
  let bestError: tf.Tensor1D | undefined
  for (let r = 0; r < o.restarts; r++) {
    const chain = foldIn(key, "restart", r)
    let z = normalTensor(foldIn(chain, "init"), [n, zDim]) as tf.Tensor2D
    for (let t = 0; t < o.steps; t++) {
      const next = tf.tidy(() => {
        const moved = tf.sub(z, tf.mul(potentialGrad(z), half))
        return (
          o.noise ? tf.add(moved, normalTensor(foldIn(chain, t), z.shape, o.stepSize)) : moved
        ) as tf.Tensor2D
      })
      z.dispose()
      z = next
    }
    const error = tf.tidy(() => visibleSquaredError(observed, mask, generate(generator, z)))
    if (best === undefined || bestError === undefined) {
      best = z
      bestError = error
      continue
    }
    const [keptZ, keptError] = tf.tidy(() => {
      const better = tf.less(error, bestError as tf.Tensor1D)
      return [
        tf.where(tf.reshape(better, [n, 1]), z, best as tf.Tensor2D) as tf.Tensor2D,
        tf.where(better, error, bestError as tf.Tensor1D) as tf.Tensor1D,
      ] as const
    })
    tf.dispose([z, error, best, bestError])
    best = keptZ
    bestError = keptError
  }
  bestError?.dispose()
  if (best === undefined) throw new RangeError("inferLatent needs at least one restart")
  return best
}

/** M ⊙ X + (1 − M) ⊙ fill, exact on the visible pixels. */
export const fillHidden = (observed: tf.Tensor4D, mask: tf.Tensor4D, fill: tf.Tensor4D): tf.Tensor4D =>
  tf.tidy(
    () => tf.where(tf.greater(tf.broadcastTo(mask, observed.shape), 0.5), observed, fill) as tf.Tensor4D,
  )

export interface Completion {
  /** the completed images: the observation on visible pixels, the model's fill on hidden ones */
  readonly completed: tf.Tensor4D
  /** g(z*) for the inferred z*, before any descriptor refinement */
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
  const z = inferLatent(generator, observed, mask, zDim, inference, foldIn(key, "infer"))
  const generated = tf.tidy(() => generate(generator, z))
  z.dispose()
  const filled = fillHidden(observed, mask, generated)
  if (descriptor === undefined || refine.steps === 0) return { completed: filled, generated }
  const { revised } = langevinRevise(descriptor, filled, refine, foldIn(key, "refine"), {
    mask,
    observed,
  })
  filled.dispose()
  return { completed: revised, generated }
}
