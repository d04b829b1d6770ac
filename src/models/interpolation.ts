/**
 * Latent interpolation: paths between two latent vectors, linear or spherical
 * (slerp, which keeps a Gaussian latent's norm near the shell where N(0, I)
 * puts its mass), and the generator evaluated one frame at a time.
 */
import * as tf from "@tensorflow/tfjs-core"
import { generate, type Net, withLabels } from "./coopnets.js"

export type InterpolationMode = "linear" | "spherical"

/** The point at t ∈ [0, 1] from `a` (t = 0, exactly) to `b` (t = 1, exactly). */
export const interpolate = (
  a: Float32Array,
  b: Float32Array,
  t: number,
  mode: InterpolationMode,
): Float32Array => {
  if (t === 0) return a.slice()
  if (t === 1) return b.slice()
  let wa = 1 - t
  let wb = t
  if (mode === "spherical") {
    let dot = 0
    let na = 0
    let nb = 0
    for (let i = 0; i < a.length; i++) {
      dot += (a[i] as number) * (b[i] as number)
      na += (a[i] as number) ** 2
      nb += (b[i] as number) ** 2
    }
    // slerp(a, b; t) = sin((1−t)Ω)/sin Ω · a + sin(tΩ)/sin Ω · b, Ω the angle between a and b
    const omega = Math.acos(Math.min(1, Math.max(-1, dot / Math.sqrt(na * nb))))
    if (Math.sin(omega) > 1e-6) {
      wa = Math.sin((1 - t) * omega) / Math.sin(omega)
      wb = Math.sin(t * omega) / Math.sin(omega)
    }
  }
  const out = new Float32Array(a.length)
  for (let i = 0; i < a.length; i++) out[i] = wa * (a[i] as number) + wb * (b[i] as number)
  return out
}

/** `steps` frames from each start to its end (t = 0, 1/(steps−1), …, 1): row p·steps + i, dim values each. */
export const interpolationPaths = (
  starts: Float32Array,
  ends: Float32Array,
  dim: number,
  steps: number,
  mode: InterpolationMode,
): Float32Array => {
  const pairs = starts.length / dim
  const out = new Float32Array(pairs * steps * dim)
  for (let p = 0; p < pairs; p++) {
    const a = starts.subarray(p * dim, (p + 1) * dim)
    const b = ends.subarray(p * dim, (p + 1) * dim)
    for (let i = 0; i < steps; i++)
      out.set(interpolate(a, b, steps === 1 ? 0 : i / (steps - 1), mode), (p * steps + i) * dim)
  }
  return out
}

/**
 * g(z) row by row, each row evaluated in a batch made of it and the same
 * `reference` latents. The generator's batch norm always uses the statistics of
 * its batch (as the official code does, also at test time), so this makes each
 * image a function of its own latent alone: a frame does not depend on the
 * other frames it is shown with. Returns a tensor the caller owns.
 */
export const generateEach = (
  generator: Net,
  z: tf.Tensor2D,
  reference: tf.Tensor2D,
  /** class-conditional nets: one-hot labels of the reference rows and of the rows of z */
  labels?: { readonly reference: tf.Tensor2D; readonly rows: tf.Tensor2D },
): tf.Tensor4D => {
  const n = z.shape[0]
  const r = reference.shape[0]
  const frames = Array.from({ length: n }, (_, i) =>
    tf.tidy(() => {
      const batch = tf.concat([reference, tf.slice(z, [i, 0], [1, -1])], 0)
      const conditioned =
        labels === undefined
          ? generator
          : withLabels(generator, tf.concat([labels.reference, tf.slice(labels.rows, [i, 0], [1, -1])], 0))
      const x = generate(conditioned, batch)
      return tf.slice(x, r, 1) // row r along the batch axis, whatever the rank (images, videos)
    }),
  )
  const out = tf.concat(frames, 0)
  tf.dispose(frames)
  return out
}
