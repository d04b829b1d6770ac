/**
 * chains "persistent" (persistent contrastive divergence): the chains continue
 * from where the last iteration's revision left them. Each iteration a keyed
 * random fraction `persistent.reinitFraction` restarts, from N(0, s²I) or from
 * fresh generator drafts g(z) (`persistent.reinitFrom`); the first iteration
 * (an empty buffer) restarts them all.
 *
 * The buffer lives in `Models.state` (so checkpoints carry it): `startPersistentChains`
 * reads it, `keepPersistentChains` (run by the scheduler right after revision)
 * writes the revised samples back. With reinitFrom "generator" each chain also
 * keeps the z that first drafted it, so teaching can regress g(z) onto it.
 */
import * as tf from "@tensorflow/tfjs-core"
import { Effect } from "effect"
import { foldIn, rootKey, uniforms } from "../models/random.js"
import { noiseChains } from "./chains-noise.js"
import { draftFromGenerator } from "./draft.js"
import { Models, type ModelsShape } from "./models.js"
import { type Drafted, type Observed, type Revised, type Timings, timed } from "./records.js"
import type { Stage, StageOptions } from "./stage.js"

/** `Models.state` names of the buffer of chains and of their latent vectors. */
export const PERSISTENT_CHAINS = "chains/persistent"
export const PERSISTENT_LATENTS = "chains/persistent-z"

/** Which chains restart at this iteration: a keyed Bernoulli(fraction) draw per chain. */
export const restartMask = (
  seed: number,
  iteration: number,
  chains: number,
  fraction: number,
): Uint8Array => {
  const u = uniforms(foldIn(rootKey(seed), "persistent", iteration), chains)
  return Uint8Array.from(u, (v) => (v < fraction ? 1 : 0))
}

/** Per chain (first axis): `fresh` where the mask is set, else `kept`. */
const pick = <T extends tf.Tensor>(mask: tf.Tensor1D, fresh: T, kept: tf.Variable): T =>
  tf.tidy(() => {
    const perChain = tf.reshape(mask, [mask.shape[0], ...fresh.shape.slice(1).map(() => 1)])
    return tf.where(perChain, fresh, kept as tf.Tensor as T) as T
  })

export const startPersistentChains = (o: StageOptions): Stage<Observed, Drafted> => {
  // fresh starting points for every chain, drawn as the chains "noise" / "generator" stages draw them
  const restart = o.persistent.reinitFrom === "generator" ? draftFromGenerator(o) : noiseChains(o)
  return (input) =>
    Effect.gen(function* () {
      const t0 = performance.now()
      const fresh = yield* restart(input)
      const { state } = yield* Models
      const kept = state.get(PERSISTENT_CHAINS)
      const keptZ = state.get(PERSISTENT_LATENTS)
      const timings = (): Timings => ({ ...input.timings, draft: performance.now() - t0 })
      if (kept === undefined) return { ...fresh, timings: timings() }
      const mask = tf.tensor1d(
        restartMask(o.seed, input.iteration, o.chains, o.persistent.reinitFraction),
        "bool",
      )
      const drafts = pick(mask, fresh.drafts, kept)
      const z = fresh.z !== null && keptZ !== undefined ? pick(mask, fresh.z, keptZ) : null
      tf.dispose([mask, fresh.drafts, fresh.z ?? []])
      return { ...input, z, drafts, timings: timings() }
    })
}

/** Stores `value` under `name`; the variable shares the tensor's data, which outlives the record's release. */
const store = (state: ModelsShape["state"], name: string, value: tf.Tensor): void => {
  const variable = state.get(name)
  if (variable === undefined) state.set(name, tf.variable(value, false))
  else variable.assign(value)
}

export const keepPersistentChains =
  (_: StageOptions): Stage<Revised, Revised> =>
  (input) =>
    Effect.gen(function* () {
      const { state } = yield* Models
      const [, timings] = timed(input.timings, "keepChains", () => {
        store(state, PERSISTENT_CHAINS, input.revised)
        if (input.z !== null) store(state, PERSISTENT_LATENTS, input.z)
      })
      return { ...input, timings }
    })
