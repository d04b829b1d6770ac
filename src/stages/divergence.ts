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

/**
 * The setting each stage's divergence is remedied by first (the first of its
 * hints): what recovery from divergence lowers (src/pipeline/training/recovery.ts).
 */
export const REMEDIES = {
  revise: "langevin.stepSize",
  updateDescriptor: "optimizer.descriptor.learningRate",
  teach: "optimizer.generator.learningRate",
  draft: "optimizer.generator.learningRate",
} as const satisfies Readonly<Record<string, string>>

export type Remedy = (typeof REMEDIES)[keyof typeof REMEDIES]

/** The setting to lower when `stage` diverged, if there is one. */
export const remedyFor = (stage: string): Remedy | undefined =>
  Object.hasOwn(REMEDIES, stage) ? REMEDIES[stage as keyof typeof REMEDIES] : undefined

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
