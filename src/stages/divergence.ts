/** Detects non-finite or exploding quantities in the iteration they appear. */
import { Data, Effect } from "effect"

/** A stage produced a non-finite or exploding quantity. */
export class DivergenceError extends Data.TaggedError("DivergenceError")<{
  readonly message: string
  readonly stage: string
  readonly iteration: number
  readonly quantity: string
  readonly value: number
}> {}

/** Above this magnitude an energy or loss is treated as exploded. */
export const EXPLOSION_LIMIT = 1e12

const HINTS: Readonly<Record<string, string>> = {
  revise:
    "lower langevin.stepSize (δ) or raise langevin.refSigma, or lower optimizer.descriptor.learningRate",
  updateDescriptor: "lower optimizer.descriptor.learningRate, or langevin.stepSize",
  teach: "lower optimizer.generator.learningRate or raise generatorSigma",
  draft: "lower optimizer.generator.learningRate",
}

/** The settings recovery from divergence can lower (src/pipeline/training/recovery.ts). */
export type Remedy =
  | "langevin.stepSize"
  | "optimizer.descriptor.learningRate"
  | "optimizer.generator.learningRate"

export const REMEDY_SETTINGS: ReadonlyArray<Remedy> = [
  "langevin.stepSize",
  "optimizer.descriptor.learningRate",
  "optimizer.generator.learningRate",
]

/** The settings that remedy each stage's divergence, in the order its hint names them. */
const STAGE_REMEDIES: Readonly<Record<string, ReadonlyArray<Remedy>>> = {
  revise: ["langevin.stepSize", "optimizer.descriptor.learningRate"],
  updateDescriptor: ["optimizer.descriptor.learningRate", "langevin.stepSize"],
  teach: ["optimizer.generator.learningRate"],
  draft: ["optimizer.generator.learningRate"],
}

/**
 * Quantities with a plain cause whichever stage measured them: revised samples
 * that explode come from a Langevin step too large for the energy's curvature
 * (its gradient term (δ²/2)·X/s² alone overshoots once δ > 2s).
 */
const QUANTITY_REMEDIES: Readonly<Record<string, Remedy>> = {
  "mean |pixel| of the revised samples": "langevin.stepSize",
  "mean energy of the revised samples": "langevin.stepSize",
}

/** What to lower when `stage` diverged on `quantity`, most likely first (empty: nothing to lower). */
export const remediesFor = (stage: string, quantity: string): ReadonlyArray<Remedy> => {
  const first = QUANTITY_REMEDIES[quantity]
  const listed = STAGE_REMEDIES[stage] ?? []
  return first === undefined ? listed : [first, ...listed.filter((r) => r !== first)]
}

export const guardFinite = (
  stage: string,
  iteration: number,
  quantities: Readonly<Record<string, number>>,
): Effect.Effect<void, DivergenceError> => {
  for (const [quantity, value] of Object.entries(quantities)) {
    if (!Number.isFinite(value) || Math.abs(value) > EXPLOSION_LIMIT)
      return Effect.fail(
        new DivergenceError({
          stage,
          iteration,
          quantity,
          value,
          message: `Training diverged in iteration ${iteration + 1}, stage "${stage}": ${quantity} is ${value}. To fix it, ${HINTS[stage] ?? "lower the learning rates"}. Checkpoints written before this iteration are intact.`,
        }),
      )
  }
  return Effect.void
}
