/**
 * What the commands that use a trained run (`sample`, `interpolate`, `evaluate`, `complete`) share:
 * open its checkpoint and spec, claim an output directory, and run a
 * computation on the restored models (disposed afterwards).
 */
import { Effect, Path } from "effect"
import type { ModelsShape } from "../../stages/models.js"
import { useBackend } from "../backend/service.js"
import { type BackendChoice, decodeStoredSpec, type PipelineSpec } from "../config/spec.js"
import { CheckpointError } from "../errors.js"
import { type LoadedCheckpoint, readCheckpoint, restoreModels } from "../run-dir/checkpoint.js"
import { claimOutputDir } from "../run-dir/layout.js"
import { buildModels, disposeModels } from "./build.js"
import { type GeneratorWeights, useGeneratorWeights } from "./generator-average.js"

export interface TrainedRun {
  readonly checkpoint: LoadedCheckpoint
  readonly spec: PipelineSpec
  /** the output directory: `outDir`, else `<run>/<name>` (or `<checkpoint>-<name>`) */
  readonly outDir: string
}

/** Reads the checkpoint at `location` (a run or checkpoint directory) and claims the output directory. */
export const openTrainedRun = (location: string, outDir: string | undefined, force: boolean, name: string) =>
  Effect.gen(function* () {
    const path = yield* Path.Path
    const checkpoint = yield* readCheckpoint(location)
    const spec = yield* decodeStoredSpec(checkpoint.manifest.spec).pipe(
      Effect.mapError(
        (e) =>
          new CheckpointError({
            message: `${checkpoint.dir}/checkpoint.json holds a pipeline spec this version cannot read (${e.message}).`,
          }),
      ),
    )
    const out =
      outDir ??
      (checkpoint.dir.endsWith(path.join("checkpoints", "final"))
        ? path.join(checkpoint.dir, "..", "..", name)
        : `${checkpoint.dir}-${name}`)
    yield* claimOutputDir(out, { force, onForce: "overwrite" })
    const run: TrainedRun = { checkpoint, spec, outDir: out }
    return run
  })

/**
 * Selects the backend, builds the run's nets with the checkpoint's weights, runs `use`, disposes the nets.
 * The generator has the moving average of its weights when the run kept one, unless `weights` is "last";
 * `use` is told which it got.
 */
export const withTrainedModels = <A>(
  run: TrainedRun,
  backend: typeof BackendChoice.Type | undefined,
  quiet: boolean | undefined,
  use: (models: ModelsShape, weights: GeneratorWeights) => A,
  weights: GeneratorWeights = "average",
) =>
  withTrainedModelsEffect(run, backend, quiet, (models, got) => Effect.sync(() => use(models, got)), weights)

/** `withTrainedModels` for a computation that is itself an effect (e.g. one that yields between batches, so a signal can stop it). */
export const withTrainedModelsEffect = <A, E, R>(
  run: TrainedRun,
  backend: typeof BackendChoice.Type | undefined,
  quiet: boolean | undefined,
  use: (models: ModelsShape, weights: GeneratorWeights) => Effect.Effect<A, E, R>,
  weights: GeneratorWeights = "average",
) =>
  useBackend(backend ?? run.spec.backend, quiet ? () => {} : undefined).pipe(
    Effect.andThen(
      Effect.acquireUseRelease(
        Effect.sync(() => buildModels(run.spec)),
        (models) =>
          restoreModels(run.checkpoint, models, false).pipe(
            Effect.andThen(
              Effect.suspend(() => use(models, useGeneratorWeights(run.checkpoint, models, weights))),
            ),
          ),
        (models) => Effect.sync(() => disposeModels(models)),
      ),
    ),
  )
