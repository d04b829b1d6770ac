/**
 * Resuming a run directory: its config.json, its newest checkpoint, and the
 * clean-up that makes the directory look exactly as it did when that
 * checkpoint was written (metrics past it dropped, half-written temporaries of
 * a killed writer removed). The data order and every noise draw of iteration
 * i are keyed by (seed, i), so the iteration count is the whole "RNG and
 * data-order position": nothing else needs saving.
 */
import { Effect, FileSystem, Path } from "effect"
import { decodeSpec, decodeStoredSpec, type PipelineSpec } from "../config/spec.js"
import { CheckpointError, ConfigError, OutputError } from "../errors.js"
import { type LoadedCheckpoint, readCheckpoint } from "./checkpoint.js"
import { LEFTOVER, MANIFEST_FILE, numberedCheckpoints, runFiles } from "./layout.js"
import { metricsRecords } from "./metrics.js"
import { type WriteJob, writeAtomic } from "./writer.js"

export interface ResumePoint {
  readonly runDir: string
  readonly spec: PipelineSpec
  /** iterations already done (0: no checkpoint yet, start over in the same directory) */
  readonly iteration: number
  readonly checkpoint: LoadedCheckpoint | undefined
}

/** Keys sorted at every level, so two specs compare equal whatever order their fields were written in. */
const canonical = (value: unknown): string =>
  JSON.stringify(value, (_, v) =>
    typeof v === "object" && v !== null && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => a.localeCompare(b)))
      : v,
  )

export const sameSpec = (a: unknown, b: unknown): boolean => canonical(a) === canonical(b)

/** Removes what a killed writer left half-done in `dir` (never a complete file or checkpoint). */
const removeLeftovers = (dir: string) =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const names = yield* fs.readDirectory(dir).pipe(Effect.orElseSucceed(() => [] as Array<string>))
    for (const name of names)
      if (LEFTOVER.test(name)) yield* fs.remove(path.join(dir, name), { recursive: true, force: true })
  })

/** Reads `<runDir>/config.json` and the newest checkpoint of the run. */
export const findResumePoint = (
  runDir: string,
): Effect.Effect<
  ResumePoint,
  ConfigError | CheckpointError | OutputError,
  FileSystem.FileSystem | Path.Path
> =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const files = runFiles(runDir, path)
    const configFile = files.config
    const isDir = yield* fs.stat(runDir).pipe(
      Effect.map((info) => info.type === "Directory"),
      Effect.orElseSucceed(() => false),
    )
    if (!isDir)
      return yield* new OutputError({
        message: `Cannot resume ${runDir}: no such run directory. Pass the directory a run wrote (e.g. runs/mnist-quick), or start a new run with a pipeline file.`,
      })
    const text = yield* fs.readFileString(configFile).pipe(
      Effect.mapError(
        () =>
          new ConfigError({
            message: `Cannot resume ${runDir}: ${configFile} is missing or unreadable, so this is not a run directory (or the run was killed before it started). Start it again with the pipeline file and --force.`,
          }),
      ),
    )
    const spec = yield* decodeSpec(text, configFile)
    const checkpoints = files.checkpoints
    const names = yield* fs.readDirectory(checkpoints).pipe(Effect.orElseSucceed(() => [] as Array<string>))
    const complete = (name: string) =>
      fs.exists(path.join(checkpoints, name, MANIFEST_FILE)).pipe(Effect.orElseSucceed(() => false))
    let newest: string | undefined
    if (names.includes("final") && (yield* complete("final"))) newest = "final"
    else {
      for (const name of numberedCheckpoints(names).reverse())
        if (yield* complete(name)) {
          newest = name
          break
        }
    }
    if (newest === undefined) return { runDir, spec, iteration: 0, checkpoint: undefined }
    const dir = path.join(checkpoints, newest)
    const checkpoint = yield* readCheckpoint(dir).pipe(
      Effect.mapError(
        (e) =>
          new CheckpointError({
            message: `Cannot resume ${runDir}: ${e.message.replace(/ Pass a run directory .*$/, "")} Move ${dir} away to resume from the checkpoint before it.`,
          }),
      ),
    )
    // both decoded: a field added since the checkpoint was written takes its default on both sides
    const stored = yield* decodeStoredSpec(checkpoint.manifest.spec).pipe(
      Effect.orElseSucceed(() => undefined),
    )
    if (stored === undefined || !sameSpec(stored, spec))
      return yield* new CheckpointError({
        message: `Cannot resume ${runDir}: checkpoint ${checkpoint.dir} was written by a different pipeline than ${configFile}. Restore the run's own config.json, or start a new run.`,
      })
    if (checkpoint.manifest.iteration >= spec.training.iterations)
      return yield* new ConfigError({
        message: `Cannot resume ${runDir}: the run is complete (${checkpoint.manifest.iteration} of ${spec.training.iterations} iterations, checkpoints/final). To train longer, start a new run.`,
      })
    return { runDir, spec, iteration: checkpoint.manifest.iteration, checkpoint }
  })

/**
 * Makes the run directory look as it did when the checkpoint was written:
 * metrics.jsonl keeps exactly the lines of iterations 1..N (a half-written last
 * line is dropped; rewritten atomically), and temporaries are removed.
 */
export const rewindRunDir = (
  point: ResumePoint,
): Effect.Effect<void, OutputError, FileSystem.FileSystem | Path.Path> =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    yield* removeLeftovers(point.runDir)
    yield* removeLeftovers(path.join(point.runDir, "checkpoints"))
    yield* removeLeftovers(path.join(point.runDir, "samples"))
    yield* removeLeftovers(path.join(point.runDir, "tensorboard"))
    const metrics = runFiles(point.runDir, path).metrics
    const text = yield* fs.readFileString(metrics).pipe(Effect.orElseSucceed(() => ""))
    const kept = metricsRecords(text)
      .records.filter((line) => typeof line?.iteration === "number" && line.iteration <= point.iteration)
      .map((line) => `${JSON.stringify(line)}\n`)
      .join("")
    if (kept !== text) yield* writeAtomic(metrics, new TextEncoder().encode(kept))
  }).pipe(
    Effect.mapError((e) =>
      e instanceof OutputError
        ? e
        : new OutputError({
            message: `Cannot prepare ${point.runDir} for resuming: ${e.message}. Check permissions.`,
          }),
    ),
  )

/** Removes all but the `keep` newest `iter-NNNNNN` checkpoints (each renamed away first, so none is ever half-deleted). */
export const pruneJob = (checkpoints: string, keep: number): WriteJob => ({
  description: `${checkpoints} (keeping the newest ${keep})`,
  write: Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const names = yield* fs.readDirectory(checkpoints).pipe(Effect.orElseSucceed(() => [] as Array<string>))
    const all = numberedCheckpoints(names)
    for (const name of all.slice(0, Math.max(0, all.length - keep))) {
      const trash = path.join(checkpoints, `${name}.trash-${process.pid}`)
      yield* fs.rename(path.join(checkpoints, name), trash)
      yield* fs.remove(trash, { recursive: true })
    }
  }).pipe(
    Effect.mapError(
      (e) =>
        new OutputError({
          message: `Cannot remove old checkpoints in ${checkpoints}: ${e.message}. Check permissions, or set output.keepCheckpoints higher.`,
        }),
    ),
  ),
})
