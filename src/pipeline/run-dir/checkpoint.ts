/**
 * Checkpoints on disk: a directory holding `checkpoint.json` (format, the
 * iteration reached, the full resolved pipeline spec, the weights manifest)
 * and `weights.bin` (both nets, then both Adam states). No timestamps, so two
 * runs with the same seed write byte-identical checkpoints.
 *
 * Loading one elsewhere: read checkpoint.json, then
 * `tf.io.decodeWeights(weights.bin, manifest.weightsManifest[0].weights)`.
 */
import * as tf from "@tensorflow/tfjs-core"
import { Effect, FileSystem, Path } from "effect"
import { adamPowers, restoreAdam } from "../../models/adam-state.js"
import { snapshot, unpack, type WeightSpec } from "../../models/checkpoint.js"
import type { ModelsShape } from "../../stages/models.js"
import type { PipelineSpec } from "../config/spec.js"
import { CheckpointError } from "../errors.js"
import { MANIFEST_FILE, WEIGHTS_FILE } from "./layout.js"
import { directoryJob, type WriteJob } from "./writer.js"

export const CHECKPOINT_FORMAT = "coopnets-checkpoint/1"

export interface CheckpointManifest {
  readonly format: typeof CHECKPOINT_FORMAT
  /** iterations completed */
  readonly iteration: number
  readonly spec: PipelineSpec
  readonly weightsManifest: ReadonlyArray<{
    readonly paths: ReadonlyArray<string>
    readonly weights: ReadonlyArray<WeightSpec>
  }>
}

const prefixed = (prefix: string, params: ModelsShape["descriptor"]["params"]) =>
  [...params].map(([name, tensor]) => ({ name: `${prefix}/${name}`, tensor }))

/** Net weights and extra state (`state/<name>`): what sampling and resuming need besides the optimisers. */
const modelTensors = (models: ModelsShape) => [
  ...prefixed("descriptor", models.descriptor.params),
  ...prefixed("generator", models.generator.params),
  ...prefixed("state", models.state),
]

/**
 * Everything trained, copied out now: net weights, extra state, optimiser step
 * counts and moments, then Adam's bias-correction powers (`adam/<net>/beta{1,2}Power`,
 * kept so that a resumed run continues bit for bit).
 */
export const captureState = (models: ModelsShape): Effect.Effect<ReturnType<typeof snapshot>> =>
  Effect.promise(async () => {
    const optimizerState = async (prefix: string, optimizer: tf.Optimizer) =>
      (await optimizer.getWeights()).map(({ name, tensor }) => ({ name: `${prefix}/${name}`, tensor }))
    const powers = (prefix: string, optimizer: tf.Optimizer) =>
      adamPowers(optimizer).map(({ name, tensor }) => ({ name: `${prefix}/${name}`, tensor }))
    const named = [
      ...modelTensors(models),
      ...(await optimizerState("optimizer/descriptor", models.descriptorOptimizer)),
      ...(await optimizerState("optimizer/generator", models.generatorOptimizer)),
      ...powers("adam/descriptor", models.descriptorOptimizer),
      ...powers("adam/generator", models.generatorOptimizer),
    ]
    const state = snapshot(named)
    // getWeights() makes a fresh scalar for each step count; the moments are the optimiser's own variables.
    tf.dispose(named.map((n) => n.tensor).filter((t) => !(t instanceof tf.Variable)))
    return state
  })

export const checkpointJob = (
  dir: string,
  spec: PipelineSpec,
  iteration: number,
  state: ReturnType<typeof snapshot>,
): WriteJob => {
  const manifest: CheckpointManifest = {
    format: CHECKPOINT_FORMAT,
    iteration,
    spec,
    weightsManifest: [{ paths: [WEIGHTS_FILE], weights: state.specs }],
  }
  return directoryJob(dir, [
    [WEIGHTS_FILE, state.data],
    [MANIFEST_FILE, new TextEncoder().encode(`${JSON.stringify(manifest, null, 2)}\n`)],
  ])
}

export interface LoadedCheckpoint {
  readonly dir: string
  readonly manifest: CheckpointManifest
  readonly values: ReturnType<typeof unpack>
}

/** Reads a checkpoint directory, or a run directory (its `checkpoints/final`). */
export const readCheckpoint = (
  location: string,
): Effect.Effect<LoadedCheckpoint, CheckpointError, FileSystem.FileSystem | Path.Path> =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const inRun = path.join(location, "checkpoints", "final")
    const dir = (yield* fs.exists(path.join(inRun, MANIFEST_FILE)).pipe(Effect.orElseSucceed(() => false)))
      ? inRun
      : location
    const manifestPath = path.join(dir, MANIFEST_FILE)
    const fail = (why: string) =>
      new CheckpointError({
        message: `${manifestPath}: ${why}. Pass a run directory (with checkpoints/final) or a checkpoint directory written by \`node dist/run.js\`.`,
      })
    const text = yield* fs.readFileString(manifestPath).pipe(Effect.mapError(() => fail("cannot be read")))
    const manifest = yield* Effect.try({
      try: () => JSON.parse(text) as CheckpointManifest,
      catch: () => fail("is not valid JSON"),
    })
    if (manifest?.format !== CHECKPOINT_FORMAT)
      return yield* fail(`has format ${JSON.stringify(manifest?.format)}, expected "${CHECKPOINT_FORMAT}"`)
    const entry = manifest.weightsManifest?.[0]
    if (entry === undefined) return yield* fail("has no weightsManifest")
    const weightsPath = path.join(dir, entry.paths[0] ?? WEIGHTS_FILE)
    const data = yield* fs
      .readFile(weightsPath)
      .pipe(Effect.mapError(() => fail(`names ${weightsPath}, which cannot be read`)))
    const values = yield* Effect.try({
      try: () => unpack({ specs: entry.weights, data }),
      catch: (e) => fail(`${weightsPath} is truncated or corrupt (${(e as Error).message})`),
    })
    return { dir, manifest, values }
  })

/**
 * Assigns the checkpoint's net weights to the models and, with `withOptimizers`
 * (resuming), its extra state and the exact Adam state too.
 */
export const restoreModels = (
  checkpoint: Pick<LoadedCheckpoint, "dir" | "values">,
  models: ModelsShape,
  withOptimizers: boolean,
): Effect.Effect<void, CheckpointError> =>
  Effect.gen(function* () {
    if (withOptimizers)
      // state that a stage makes on first use (persistent chains) is not there yet in fresh models: make it
      for (const [name, stored] of checkpoint.values) {
        const key = name.slice("state/".length)
        if (!name.startsWith("state/") || models.state.has(key)) continue
        const value = tf.tensor(stored.values, [...stored.shape])
        models.state.set(key, tf.variable(value, false))
        value.dispose()
      }
    const nets = [
      ...prefixed("descriptor", models.descriptor.params),
      ...prefixed("generator", models.generator.params),
      ...(withOptimizers ? prefixed("state", models.state) : []),
    ]
    for (const { name, tensor } of nets) {
      const stored = checkpoint.values.get(name)
      if (stored === undefined || stored.shape.join("x") !== tensor.shape.join("x"))
        return yield* new CheckpointError({
          message: `${checkpoint.dir} does not fit this architecture: parameter ${name} is ${stored ? `[${stored.shape}]` : "missing"} there but [${tensor.shape}] here. Use the pipeline spec the checkpoint was trained with.`,
        })
    }
    for (const { name, tensor } of nets) {
      const stored = checkpoint.values.get(name)
      if (stored) tf.tidy(() => (tensor as tf.Variable).assign(tf.tensor(stored.values, [...stored.shape])))
    }
    if (!withOptimizers) return
    yield* Effect.promise(async () => {
      for (const [prefix, optimizer] of [
        ["optimizer/descriptor/", models.descriptorOptimizer],
        ["optimizer/generator/", models.generatorOptimizer],
      ] as const) {
        const named = [...checkpoint.values]
          .filter(([name]) => name.startsWith(prefix))
          .map(([name, v]) => ({
            name: name.slice(prefix.length),
            tensor: tf.tensor(v.values, [...v.shape]),
          }))
        const power = (which: string) =>
          checkpoint.values.get(`adam/${prefix.split("/")[1]}/${which}`)?.values[0]
        const [beta1Power, beta2Power] = [power("beta1Power"), power("beta2Power")]
        await restoreAdam(
          optimizer,
          named,
          beta1Power === undefined || beta2Power === undefined ? undefined : { beta1Power, beta2Power },
        )
      }
    })
  })
