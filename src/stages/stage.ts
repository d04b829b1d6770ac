/** What every compute stage is, and the options the registry builds them from. */
import type { Effect } from "effect"
import type { LangevinOptions, LatentLangevinOptions } from "../models/coopnets.js"
import type { DivergenceError } from "../pipeline/errors.js"
import type { Models } from "./models.js"

/** A typed step from one record to the next; it may fail only by divergence. */
export type Stage<In, Out> = (input: In) => Effect.Effect<Out, DivergenceError, Models>

/** Persistent chains (chains "persistent"): which fraction restarts each iteration, and from what. */
export interface PersistentOptions {
  readonly reinitFraction: number
  readonly reinitFrom: "noise" | "generator"
}

export interface StageOptions {
  readonly seed: number
  readonly persistent: PersistentOptions
  readonly chains: number
  readonly zDim: number
  readonly langevin: LangevinOptions
  readonly latentLangevin: LatentLangevinOptions
  readonly generatorSigma: number
}
