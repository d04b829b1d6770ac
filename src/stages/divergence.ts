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
