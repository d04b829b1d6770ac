/**
 * chains "persistent" (persistent contrastive divergence): the chains continue
 * from where the last iteration's revision left them. Each iteration a keyed
 * random fraction `persistent.reinitFraction` restarts, from N(0, s²I) or from
 * fresh generator drafts g(z) (`persistent.reinitFrom`); the first iteration
 * (an empty buffer) restarts them all.
 *
 * The buffer lives in `Models.state` (so checkpoints carry it): the stage reads
 * it, and its write-back (run right after revision) stores the revised samples.
 * With reinitFrom "generator" each chain also keeps the z that first drafted it,
 * so teaching can regress g(z) onto it.
 */
import * as tf from "@tensorflow/tfjs-core"
import { Effect, Schema } from "effect"
import { foldIn, rootKey, uniforms } from "../models/random.js"
import { draftFromNoise } from "./chains-noise.js"
import { draftFromGenerator } from "./draft.js"
import { Models, type ModelsShape } from "./models.js"
import { field, LangevinSection, section } from "./options.js"
import type { Drafted, Observed, Revised } from "./records.js"
import { type CoreOptions, compute, defineStage, type SectionValues, type Stage } from "./stage.js"

/** `Models.state` names of the buffer of chains and of their latent vectors. */
export const PERSISTENT_CHAINS = "chains/persistent"
export const PERSISTENT_LATENTS = "chains/persistent-z"

const options = {
  persistent: section(
    {
      reinitFraction: field(
        Schema.Finite.check(Schema.isBetween({ minimum: 0, maximum: 1 })),
        0.05,
        'chains "persistent": fraction of the chains restarted each iteration',
      ),
      reinitFrom: field(
        Schema.Literals(["noise", "generator"]),
        "noise",
        '"noise" (N(0, s²I)) | "generator" (g(z); keeps z, so teach "mcmc" works)',
      ),
    },
    'persistent chains (stages.chains "persistent")',
  ),
  langevin: LangevinSection,
}
type Options = CoreOptions & SectionValues<typeof options>

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

const startChains = (o: Options): Stage<Observed, Drafted> => {
  // fresh starting points for every chain, drawn as the chains "noise" / "generator" stages draw them
  const restart = o.persistent.reinitFrom === "generator" ? draftFromGenerator(o) : draftFromNoise(o)
  return (input) =>
    Effect.gen(function* () {
      const t0 = performance.now()
      const fresh = yield* restart(input)
      const { state } = yield* Models
      const kept = state.get(PERSISTENT_CHAINS)
      const keptZ = state.get(PERSISTENT_LATENTS)
      const timings = () => ({ ...input.timings, draft: performance.now() - t0 })
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

const keepChains =
  (_: Options): Stage<Revised, Revised> =>
  (input) =>
    compute(input, "keepChains", ({ state }) => {
      store(state, PERSISTENT_CHAINS, input.revised)
      if (input.z !== null) store(state, PERSISTENT_LATENTS, input.z)
    }).pipe(Effect.map(([, timings]) => ({ ...input, timings })))

export const persistentChains = defineStage({
  slot: "chains",
  name: "persistent",
  summary:
    "chains continue from the last iteration's revised samples; a keyed persistent.reinitFraction restarts from noise or g(z) each time",
  options,
  provides: [
    {
      capability: "z",
      when: (o) => o.persistent.reinitFrom === "generator",
      hint: 'with persistent.reinitFrom "generator"',
    },
  ],
  state: [PERSISTENT_CHAINS, PERSISTENT_LATENTS],
  make: startChains,
  writeBack: keepChains,
})
