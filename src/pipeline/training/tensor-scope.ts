/**
 * The tensors of a training run's records — in the loader's buffer, in the
 * stage that is running, in the report steps — belong to the run: when it
 * fails or is stopped, whatever it still holds is released with it.
 *
 * tfjs tracks every tensor made while an engine scope is open (tf.tidy is such
 * a scope); the run opens one for its whole stream and closes it when its
 * Effect scope closes, which disposes what the records did not release.
 * Variables (weights, optimiser slots, persistent chains) are not tracked by
 * scopes and outlive it, as they must.
 */
import * as tf from "@tensorflow/tfjs-core"
import { Effect } from "effect"

export const withTensorScope = <A, E, R>(run: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.acquireUseRelease(
    Effect.sync(() => tf.engine().startScope("coopnets/run")),
    () => run,
    () => Effect.sync(() => tf.engine().endScope()),
  )
