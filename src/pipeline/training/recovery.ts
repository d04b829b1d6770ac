/**
 * Recovery from divergence, a wrapper around the training stream (no stage
 * knows of it). While a run trains, an in-memory copy of everything trained
 * (nets, optimiser state, extra state such as persistent chains) is kept every
 * `recovery.snapshotEvery` iterations and at every checkpoint. When a stage's
 * divergence guard stops an iteration and `recovery.retries` allows another
 * recovery, the run goes back to that copy, multiplies the setting the guard
 * names (src/stages/divergence.ts REMEDIES: the Langevin step size for revise,
 * the learning rate of the net for updateDescriptor, teach and draft) by
 * `recovery.factor`, and continues from there with fresh noise: the recovery is
 * appended to the spec's `recovery.recovered`, whose count the stages' noise
 * seed folds in (config/recovery-spec.ts noiseSeed). Everything depends only on
 * the seed, the config and the iteration, so the same run recovers the same way.
 */
import { Effect, Ref } from "effect"
import { type Snapshot as State, unpack } from "../../models/checkpoint.js"
import { DivergenceError, remediesFor } from "../../stages/divergence.js"
import { Models, type ModelsShape } from "../../stages/models.js"
import { type RecoveryEntry, remedyValue } from "../config/recovery-spec.js"
import { afterRecovery, type PipelineSpec } from "../config/spec.js"
import type { CheckpointError } from "../errors.js"
import { setLearningRates } from "../nets/learning-rate-schedule.js"
import { captureState, restoreModels } from "../run-dir/checkpoint.js"

/** The trained state after `iteration` iterations, copied out of the variables. */
export interface Snapshot {
  readonly iteration: number
  readonly state: State
}

export interface Snapshots {
  /** Copies the trained state now, as the state after `iteration` iterations (replacing the older copy). */
  readonly take: (iteration: number) => Effect.Effect<void, never, Models>
  readonly newest: Effect.Effect<Snapshot | undefined>
}

/** Keeps the newest copy only: a recovery goes back to it, and a repeated divergence goes back to it again. */
export const makeSnapshots: Effect.Effect<Snapshots> = Effect.map(
  Ref.make<Snapshot | undefined>(undefined),
  (newest) => ({
    take: (iteration) =>
      Effect.gen(function* () {
        const state = yield* captureState(yield* Models)
        yield* Ref.set(newest, { iteration, state })
      }),
    newest: Ref.get(newest),
  }),
)

/** Whether the state after `done` iterations is copied: every `snapshotEvery` and at every checkpoint. */
export const snapshotDue = (spec: PipelineSpec, done: number): boolean =>
  done % spec.recovery.snapshotEvery === 0 ||
  (spec.output.checkpointEvery > 0 && done % spec.output.checkpointEvery === 0)

/**
 * What recovering from `e` back to `backTo` changes, or undefined when nothing
 * can be lowered. The setting is the first the divergence points at; when the
 * recoveries just before did not get past this iteration (they went back to
 * the same state and it diverged again no later), the next one in turn.
 */
export const recoveryFor = (
  spec: PipelineSpec,
  e: DivergenceError,
  backTo: number,
): RecoveryEntry | undefined => {
  const remedies = remediesFor(e.stage, e.quantity)
  if (remedies.length === 0) return undefined
  const diverged = e.iteration + 1
  let stuck = 0
  for (const r of [...spec.recovery.recovered].reverse()) {
    if (r.backTo !== backTo || r.diverged < diverged) break
    stuck++
  }
  const field = remedies[stuck % remedies.length] as RecoveryEntry["field"]
  const from = remedyValue(spec, field)
  return {
    diverged,
    backTo,
    stage: e.stage,
    quantity: e.quantity,
    value: String(e.value),
    field,
    from,
    to: from * spec.recovery.factor,
  }
}

/** One recovery in words, e.g. `iteration 57 diverged in revise (…); back to 50 with langevin.stepSize 0.002 → 0.001`. */
export const describeRecovery = (r: RecoveryEntry): string =>
  `iteration ${r.diverged} diverged in ${r.stage} (${r.quantity} was ${r.value}), went back to iteration ${r.backTo} with ${r.field} ${r.from} → ${r.to}`

/** Puts the copy back into the nets and optimisers, with the learning rates of `spec`. */
export const restoreSnapshot = (
  snapshot: Snapshot,
  models: ModelsShape,
  spec: PipelineSpec,
): Effect.Effect<void, CheckpointError> =>
  restoreModels(
    { dir: `the in-memory copy of iteration ${snapshot.iteration}`, values: unpack(snapshot.state) },
    models,
    true,
  ).pipe(Effect.andThen(Effect.sync(() => setLearningRates(models, spec, snapshot.iteration))))

/**
 * Runs `attempt(spec, start)`; when it fails by divergence and `spec` allows
 * another recovery, restores the newest snapshot, lowers the setting, lets
 * `onRecover` record the recovery (files, messages), and runs `attempt` again
 * from the snapshot's iteration under the changed spec. Returns the result and
 * the spec the run ended with. With `recovery.retries` 0 it is `attempt` itself.
 */
export const withRecovery = <A, E, R>(
  spec: PipelineSpec,
  start: number,
  snapshots: Snapshots,
  attempt: (spec: PipelineSpec, start: number) => Effect.Effect<A, DivergenceError | E, R>,
  onRecover: (spec: PipelineSpec, entry: RecoveryEntry) => Effect.Effect<void, E, R>,
): Effect.Effect<
  { readonly result: A; readonly spec: PipelineSpec },
  DivergenceError | E | CheckpointError,
  R | Models
> => {
  const run = (
    current: PipelineSpec,
    from: number,
  ): Effect.Effect<
    { readonly result: A; readonly spec: PipelineSpec },
    DivergenceError | E | CheckpointError,
    R | Models
  > =>
    attempt(current, from).pipe(
      Effect.map((result) => ({ result, spec: current })),
      Effect.catch((e) =>
        Effect.gen(function* () {
          if (!(e instanceof DivergenceError)) return yield* Effect.fail(e)
          const made = current.recovery.recovered.length
          const snapshot = yield* snapshots.newest
          const entry = snapshot && recoveryFor(current, e, snapshot.iteration)
          if (made >= current.recovery.retries || snapshot === undefined || entry === undefined)
            return yield* Effect.fail(made === 0 ? e : gaveUp(e, current))
          const next = afterRecovery(current, entry)
          yield* restoreSnapshot(snapshot, yield* Models, next)
          yield* onRecover(next, entry)
          return yield* run(next, snapshot.iteration)
        }),
      ),
    )
  return run(spec, start)
}

/** The divergence that recovery could not get past, with the recoveries made before it. */
const gaveUp = (e: DivergenceError, spec: PipelineSpec): DivergenceError => {
  const made = spec.recovery.recovered
  return new DivergenceError({
    ...e,
    message: `${e.message} Recovery did not get past it: the run recovered ${made.length} time${made.length === 1 ? "" : "s"} (${made.map(describeRecovery).join("; ")}), and recovery.retries is ${spec.recovery.retries}.`,
  })
}
