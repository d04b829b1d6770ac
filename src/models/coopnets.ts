/**
 * The CoopNets math, top to bottom like the paper.
 *
 *   descriptor score  f(X; θ)            = sum of the descriptor's outputs
 *   energy            E(X; θ)            = ‖X‖²/(2s²) − f(X; θ)
 *   Langevin (X)      X ← X − (δ²/2)·∂E/∂X + δ·N(0, I)
 *   descriptor loss   L_D(θ)             = mean f(X̂) − mean f(X_obs)      (minimised)
 *   generator loss    L_G(α)             = Σ_pixels mean_batch (X̂ − g(z))² / (2σ²)
 *   Langevin (z)      z ← z − (δ²/2)·∂/∂z [‖z‖²/2 + ‖X̂ − g(z)‖²/(2σ²)] + δ·N(0, I)
 *
 * Every function here returns tensors its caller owns and disposes the rest.
 */
import * as tf from "@tensorflow/tfjs-core"
import { backward, canKeepForward, disposeKept, forwardKeeping, type KeptForward } from "./backprop.js"
import { forward, forwardSum, type NetSpec, type Params } from "./layers.js"
import { foldIn, type Key, normalTensor } from "./random.js"

export interface Net {
  readonly spec: NetSpec
  readonly params: Params
  /** [batch, classes] one-hot labels for a conditional net's `concatLabels` layers */
  readonly labels?: tf.Tensor2D | undefined
}

/** The net conditioned on `labels` (a net without `concatLabels` layers ignores them). */
export const withLabels = (net: Net, labels: tf.Tensor2D | undefined): Net =>
  labels === undefined ? net : { ...net, labels }

export interface LangevinOptions {
  readonly steps: number
  /** δ */
  readonly stepSize: number
  /** s, the reference distribution's standard deviation */
  readonly refSigma: number
  readonly noise: boolean
}

const sumPerExample = (x: tf.Tensor): tf.Tensor1D =>
  tf.sum(
    x,
    x.shape.slice(1).map((_, i) => i + 1),
  ) as tf.Tensor1D

/** f(X): one score per example, the sum of all descriptor outputs. */
export const score = (descriptor: Net, x: tf.Tensor): tf.Tensor1D =>
  forwardSum(descriptor.spec, descriptor.params, x, descriptor.labels)

/** E(X) = ‖X‖²/(2s²) − f(X), one per example. */
export const energy = (descriptor: Net, x: tf.Tensor, refSigma: number): tf.Tensor1D =>
  tf.tidy(() => tf.sub(tf.div(sumPerExample(tf.square(x)), 2 * refSigma * refSigma), score(descriptor, x)))

/** The generator's mean: g(z). Call inside tf.tidy (intermediates are not disposed). */
export const generate = (generator: Net, z: tf.Tensor): tf.Tensor4D =>
  forward(generator.spec, generator.params, z, generator.labels)

export interface Revision {
  readonly revised: tf.Tensor4D
  /** Mean energy of the starting point, read off the first gradient evaluation (no extra forward pass). */
  readonly startEnergy: number
}

/** Pixels held fixed during Langevin: where `mask` (broadcast over channels) is 1, X stays `observed`. */
export interface Clamp {
  readonly mask: tf.Tensor4D
  readonly observed: tf.Tensor4D
}

/**
 * Descriptor Langevin dynamics from `x0` (not consumed). Step t draws its noise
 * from `foldIn(key, t)`. Chains are independent (no batch coupling in f).
 * With `clamp`, only the pixels it leaves free move (pattern completion).
 */
export const langevinRevise = (
  descriptor: Net,
  x0: tf.Tensor4D,
  o: LangevinOptions,
  key: Key,
  clamp?: Clamp,
): Revision => {
  const n = x0.shape[0]
  const half = (o.stepSize * o.stepSize) / 2
  const shrink = 1 - half / (o.refSigma * o.refSigma)
  const scoreAndGrad = tf.valueAndGrad((x: tf.Tensor) => tf.sum(score(descriptor, x)))
  // the start's energy is read off the first gradient evaluation and read back after the loop:
  // no host read inside it
  let startScore: tf.Scalar | undefined
  let x = x0
  for (let t = 0; t < o.steps; t++) {
    const next = tf.tidy(() => {
      const { value, grad } = scoreAndGrad(x)
      if (t === 0) startScore = tf.keep(value as tf.Scalar)
      // X − (δ²/2)(X/s² − ∂f/∂X) = X·(1 − δ²/(2s²)) + (δ²/2)·∂f/∂X
      const drift = tf.add(tf.mul(x, shrink), tf.mul(grad, half))
      const moved = (
        o.noise ? tf.add(drift, normalTensor(foldIn(key, t), x.shape, o.stepSize)) : drift
      ) as tf.Tensor4D
      return clamp === undefined
        ? moved
        : (tf.where(
            tf.greater(tf.broadcastTo(clamp.mask, moved.shape), 0.5),
            clamp.observed,
            moved,
          ) as tf.Tensor4D)
    })
    if (x !== x0) x.dispose()
    x = next
  }
  const [squaredNorm, f] = tf.tidy(() => [
    tf.sum(tf.square(x0)).dataSync()[0] as number,
    (startScore ?? tf.sum(score(descriptor, x0))).dataSync()[0] as number,
  ])
  startScore?.dispose()
  const startEnergy = ((squaredNorm as number) / (2 * o.refSigma * o.refSigma) - (f as number)) / n
  return { revised: x === x0 ? tf.clone(x0) : x, startEnergy }
}

export interface DescriptorStep {
  /** L_D = mean f(X̂) − mean f(X_obs), before the update */
  readonly loss: number
  readonly observedEnergy: number
  readonly revisedEnergy: number
}

const meanSquaredNorm = (x: tf.Tensor): number =>
  tf.tidy(() => tf.mean(sumPerExample(tf.square(x))).dataSync()[0] as number)

/** One optimiser step ascending mean f(X_obs) − mean f(X̂) in θ. Energies are those before the step. */
export const descriptorStep = (
  descriptor: Net,
  optimizer: tf.Optimizer,
  observed: tf.Tensor4D,
  revised: tf.Tensor4D,
  refSigma: number,
): DescriptorStep => {
  let fObs: tf.Scalar | undefined
  let fRev: tf.Scalar | undefined
  const nObs = observed.shape[0]
  const labels = descriptor.labels
  // one pass over both batches (larger kernels, one weight gradient per layer); conditional
  // nets read each chain's label, the label of the observed image with the same index
  const together = labels === undefined || (labels.shape[0] === nObs && labels.shape[0] === revised.shape[0])
  const both = together ? tf.concat([observed, revised], 0) : undefined
  const bothLabels = labels === undefined || !together ? undefined : tf.concat([labels, labels], 0)
  const { value, grads } = tf.variableGrads(() => {
    if (both !== undefined) {
      const f = score(withLabels(descriptor, bothLabels), both)
      fObs = tf.keep(tf.mean(tf.slice(f, 0, nObs)))
      fRev = tf.keep(tf.mean(tf.slice(f, nObs)))
    } else {
      fObs = tf.keep(tf.mean(score(descriptor, observed)))
      fRev = tf.keep(tf.mean(score(descriptor, revised)))
    }
    return tf.sub(fRev, fObs)
  }, [...descriptor.params.values()])
  tf.dispose([both, bothLabels].filter((t) => t !== undefined))
  optimizer.applyGradients(grads)
  tf.dispose(grads)
  const read = (t: tf.Tensor | undefined): number => {
    const v = t?.dataSync()[0] as number
    t?.dispose()
    return v
  }
  const loss = read(value)
  const twoS2 = 2 * refSigma * refSigma
  const observedEnergy = meanSquaredNorm(observed) / twoS2 - read(fObs)
  const revisedEnergy = meanSquaredNorm(revised) / twoS2 - read(fRev)
  return { loss, observedEnergy, revisedEnergy }
}

export interface GeneratorStep {
  /** L_G before the update */
  readonly loss: number
  /** mean over pixels and batch of (X̂ − g(z))² */
  readonly reconstructionError: number
}

/** Σ_pixels mean_batch (X̂ − g(z))² / (2σ²) — the official per-pixel-mean-over-batch, summed-over-pixels form. */
const generatorLoss = (generator: Net, z: tf.Tensor, target: tf.Tensor4D, sigma: number): tf.Scalar =>
  tf.div(tf.sum(tf.mean(tf.square(tf.sub(target, generate(generator, z))), 0)), 2 * sigma * sigma)

/** Teaching: one optimiser step regressing g(z) onto the revised samples, z known. */
export const generatorStep = (
  generator: Net,
  optimizer: tf.Optimizer,
  z: tf.Tensor2D,
  revised: tf.Tensor4D,
  sigma: number,
): GeneratorStep => {
  const { value, grads } = tf.variableGrads(
    () => generatorLoss(generator, z, revised, sigma),
    [...generator.params.values()],
  )
  optimizer.applyGradients(grads)
  tf.dispose(grads)
  const loss = value.dataSync()[0] as number
  value.dispose()
  const pixels = revised.size / (revised.shape[0] as number)
  return { loss, reconstructionError: (loss * 2 * sigma * sigma) / pixels }
}

/**
 * g(z) keeping what teaching needs to differentiate it without a second forward
 * pass (`generatorStepFromDraft`); `output` is bit for bit `generate(generator, z)`.
 */
export const generateKeeping = (generator: Net, z: tf.Tensor): KeptForward =>
  forwardKeeping(generator.spec, generator.params, z, generator.labels)

/** Whether `generateKeeping` covers this generator (else teaching runs its forward pass again). */
export const canKeepGeneratorPass = (generator: Net): boolean => canKeepForward(generator.spec)

export { disposeKept, type KeptForward }

/**
 * Teaching from the draft's kept forward pass: the same step as
 * `generatorStep(generator, optimizer, z, revised, sigma)` for the z that
 * drafted it, while the generator has not changed since. Does not consume `kept`.
 * ∂L_G/∂g(z) = (g(z) − X̂)/(n·σ²).
 */
export const generatorStepFromDraft = (
  generator: Net,
  optimizer: tf.Optimizer,
  kept: KeptForward,
  revised: tf.Tensor4D,
  sigma: number,
): GeneratorStep => {
  const g = kept.output
  const n = g.shape[0]
  const grads = tf.tidy(() =>
    backward(generator.spec, generator.params, kept, tf.div(tf.sub(g, revised), n * sigma * sigma)),
  )
  optimizer.applyGradients(grads)
  tf.dispose(grads)
  const loss = tf.tidy(
    () =>
      tf.div(tf.sum(tf.mean(tf.square(tf.sub(revised, g)), 0)), 2 * sigma * sigma).dataSync()[0] as number,
  )
  const pixels = revised.size / n
  return { loss, reconstructionError: (loss * 2 * sigma * sigma) / pixels }
}

export interface LatentLangevinOptions {
  readonly steps: number
  readonly stepSize: number
  /** σ of the generator's noise ε */
  readonly sigma: number
  readonly noise: boolean
}

/** Langevin revision of z under q(z | X̂) ∝ N(z; 0, I)·N(X̂; g(z), σ²I), from `z0` (not consumed). */
export const latentRevise = (
  generator: Net,
  z0: tf.Tensor2D,
  target: tf.Tensor4D,
  o: LatentLangevinOptions,
  key: Key,
): tf.Tensor2D => {
  const half = (o.stepSize * o.stepSize) / 2
  const n = z0.shape[0]
  // generatorLoss is the per-example-mean form; ×n gives the summed negative log-likelihood.
  const nll = tf.grad((z: tf.Tensor) =>
    tf.add(tf.mul(generatorLoss(generator, z, target, o.sigma), n), tf.div(tf.sum(tf.square(z)), 2)),
  )
  let z = z0
  for (let t = 0; t < o.steps; t++) {
    const next = tf.tidy(() => {
      const moved = tf.sub(z, tf.mul(nll(z), half))
      return (
        o.noise ? tf.add(moved, normalTensor(foldIn(key, t), z.shape, o.stepSize)) : moved
      ) as tf.Tensor2D
    })
    if (z !== z0) z.dispose()
    z = next
  }
  return z === z0 ? tf.clone(z0) : z
}
