/**
 * Resuming a run directory: its config.json, its newest checkpoint, and the
 * clean-up that makes the directory look exactly as it did when that
 * checkpoint was written (metrics past it dropped, half-written temporaries of
 * a killed writer removed). The data order and every noise draw of iteration
 * i are keyed by (seed, i) — and by the count of recoveries from divergence,
 * which the spec records — so the iteration count is the whole "RNG and
 * data-order position": nothing else needs saving. Also here: lengthening a
 * finished run (`--resume DIR --iterations N`, extendRunDir), and pruning old
 * checkpoints.
 */
import { Effect, FileSystem, Path } from "effect"
import { afterRecovery, decodeSpec, decodeStoredSpec, type PipelineSpec } from "../config/spec.js"
import { CheckpointError, ConfigError, OutputError } from "../errors.js"
import { type LoadedCheckpoint, readCheckpoint } from "./checkpoint.js"
import { checkpointName, LEFTOVER, MANIFEST_FILE, numberedCheckpoints, runFiles } from "./layout.js"
import { isRecoveryRecord, metricsRecords } from "./metrics.js"
import { type WriteJob, writeAtomic } from "./writer.js"

export interface ResumePoint {
  readonly runDir: string
  /** the spec to continue with: config.json's, with --iterations and recoveries it had not caught up with */
  readonly spec: PipelineSpec
  /** config.json as it is on disk (rewritten when it differs from `spec`) */
  readonly config: PipelineSpec
  /** iterations already done (0: no checkpoint yet, start over in the same directory) */
  readonly iteration: number
  readonly checkpoint: LoadedCheckpoint | undefined
}

export interface ResumeOptions {
  /** `--iterations N`: continue to N iterations (a finished run is extended) */
  readonly iterations?: number | undefined
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

const withTotal = (spec: PipelineSpec, iterations: number): PipelineSpec => ({
  ...spec,
  training: { ...spec.training, iterations },
})

/**
 * The spec to resume with, or undefined when the checkpoint belongs to another
 * pipeline. The total of iterations is config.json's (or --iterations): it may
 * differ from the checkpoint's (an extension). Recoveries the checkpoint holds
 * and config.json does not yet (a kill between writing the two) are replayed
 * onto config.json.
 */
export const reconcile = (
  config: PipelineSpec,
  stored: PipelineSpec,
  iterations: number,
): PipelineSpec | undefined => {
  const mine = config.recovery.recovered
  const theirs = stored.recovery.recovered
  if (theirs.length < mine.length || !sameSpec(theirs.slice(0, mine.length), mine)) return undefined
  const caughtUp = withTotal(theirs.slice(mine.length).reduce(afterRecovery, config), iterations)
  return sameSpec(caughtUp, withTotal(stored, iterations)) ? caughtUp : undefined
}

/** Reads `<runDir>/config.json` and the newest checkpoint of the run. */
export const findResumePoint = (
  runDir: string,
  options: ResumeOptions = {},
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
    const config = yield* decodeSpec(text, configFile)
    const target = options.iterations ?? config.training.iterations
    const newest = yield* newestCheckpoint(files.checkpoints)
    if (newest === undefined) {
      const spec = withTotal(config, target)
      return { runDir, spec, config, iteration: 0, checkpoint: undefined }
    }
    const checkpoint = yield* readCheckpoint(newest).pipe(
      Effect.mapError(
        (e) =>
          new CheckpointError({
            message: `Cannot resume ${runDir}: ${e.message.replace(/ Pass a run directory .*$/, "")} Move ${newest} away to resume from the checkpoint before it.`,
          }),
      ),
    )
    // both decoded: a field added since the checkpoint was written takes its default on both sides
    const stored = yield* decodeStoredSpec(checkpoint.manifest.spec).pipe(
      Effect.orElseSucceed(() => undefined),
    )
    const spec = stored === undefined ? undefined : reconcile(config, stored, target)
    if (spec === undefined)
      return yield* new CheckpointError({
        message: `Cannot resume ${runDir}: checkpoint ${checkpoint.dir} was written by a different pipeline than ${configFile}. Restore the run's own config.json, or start a new run.`,
      })
    const done = checkpoint.manifest.iteration
    if (done >= target)
      return yield* new ConfigError({
        message:
          options.iterations === undefined
            ? `Cannot resume ${runDir}: the run is complete (${done} of ${target} iterations, ${path.relative(runDir, checkpoint.dir)}). To train longer, extend it: node dist/run.js --resume ${runDir} --iterations N (N > ${done}).`
            : `Cannot resume ${runDir} with --iterations ${target}: the run has done ${done} iterations already. Give more than ${done}.`,
      })
    return { runDir, spec, config, iteration: done, checkpoint }
  })

/** The checkpoint directory with the most iterations done (final or iter-NNNNNN), of those written whole. */
const newestCheckpoint = (checkpoints: string) =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const names = yield* fs.readDirectory(checkpoints).pipe(Effect.orElseSucceed(() => [] as Array<string>))
    const manifest = (name: string) => path.join(checkpoints, name, MANIFEST_FILE)
    const complete = (name: string) => fs.exists(manifest(name)).pipe(Effect.orElseSucceed(() => false))
    let numbered: { readonly name: string; readonly iteration: number } | undefined
    for (const name of numberedCheckpoints(names).reverse())
      if (yield* complete(name)) {
        numbered = { name, iteration: Number(name.slice("iter-".length)) }
        break
      }
    // final is the newest, but while a finished run is being extended an iter-NNNNNN may pass it
    const finalIteration =
      names.includes("final") && (yield* complete("final"))
        ? yield* fs.readFileString(manifest("final")).pipe(
            Effect.map((t) => {
              try {
                const n = (JSON.parse(t) as { iteration?: unknown }).iteration
                return typeof n === "number" ? n : Number.POSITIVE_INFINITY
              } catch {
                // unreadable: it is chosen, and readCheckpoint says what is wrong with it
                return Number.POSITIVE_INFINITY
              }
            }),
            Effect.orElseSucceed(() => Number.POSITIVE_INFINITY),
          )
        : undefined
    const name =
      finalIteration !== undefined && (numbered === undefined || finalIteration >= numbered.iteration)
        ? "final"
        : numbered?.name
    return name === undefined ? undefined : path.join(checkpoints, name)
  })

const SAMPLE_GRID = /^[a-z]+-(\d{6,})\.png$/

/**
 * Makes the run directory look as it did after `iteration` iterations:
 * metrics.jsonl keeps the lines of iterations 1..N and the first `recoveries`
 * recovery lines (a half-written last line is dropped; rewritten
 * atomically), sample grids of later iterations are removed.
 */
export const rewindFiles = (
  runDir: string,
  iteration: number,
  recoveries: number,
): Effect.Effect<void, OutputError, FileSystem.FileSystem | Path.Path> =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const files = runFiles(runDir, path)
    const text = yield* fs.readFileString(files.metrics).pipe(Effect.orElseSucceed(() => ""))
    let recovery = 0
    const kept = metricsRecords(text)
      .records.filter((line): line is Record<string, unknown> =>
        line === null
          ? false
          : isRecoveryRecord(line)
            ? recovery++ < recoveries
            : typeof line.iteration === "number" && line.iteration <= iteration,
      )
      .map((line) => `${JSON.stringify(line)}\n`)
      .join("")
    if (kept !== text) yield* writeAtomic(files.metrics, new TextEncoder().encode(kept))
    const grids = yield* fs.readDirectory(files.samples).pipe(Effect.orElseSucceed(() => [] as Array<string>))
    for (const name of grids) {
      const at = SAMPLE_GRID.exec(name)?.[1]
      if (at !== undefined && Number(at) > iteration) yield* fs.remove(path.join(files.samples, name))
    }
  }).pipe(
    Effect.mapError((e) =>
      e instanceof OutputError
        ? e
        : new OutputError({
            message: `Cannot rewind ${runDir} to iteration ${iteration}: ${e.message}. Check permissions.`,
          }),
    ),
  )

/** `rewindFiles` on the writer's queue (after the writes of the iterations it takes back). */
export const rewindJob = (runDir: string, iteration: number, recoveries: number): WriteJob => ({
  description: `${runDir} (back to iteration ${iteration})`,
  write: rewindFiles(runDir, iteration, recoveries),
})

/**
 * Makes the run directory look as it did when the checkpoint was written
 * (rewindFiles), removes temporaries a killed writer left, and writes the
 * resolved config when the resume changed it (--iterations, a recovery
 * config.json had not caught up with).
 */
export const rewindRunDir = (
  point: ResumePoint,
): Effect.Effect<void, OutputError, FileSystem.FileSystem | Path.Path> =>
  Effect.gen(function* () {
    const path = yield* Path.Path
    yield* removeLeftovers(point.runDir)
    yield* removeLeftovers(path.join(point.runDir, "checkpoints"))
    yield* removeLeftovers(path.join(point.runDir, "samples"))
    yield* removeLeftovers(path.join(point.runDir, "tensorboard"))
    if (!sameSpec(point.spec, point.config))
      yield* writeAtomic(
        runFiles(point.runDir, path).config,
        new TextEncoder().encode(`${JSON.stringify(point.spec, null, 2)}\n`),
      )
    yield* rewindFiles(point.runDir, point.iteration, point.spec.recovery.recovered.length)
  }).pipe(
    Effect.mapError((e) =>
      e instanceof OutputError
        ? e
        : new OutputError({
            message: `Cannot prepare ${point.runDir} for resuming: ${e.message}. Check permissions.`,
          }),
    ),
  )

/**
 * Lengthening a finished run (`--resume DIR --iterations N`): afterwards the
 * directory is what a run given N iterations from the start holds at this
 * point. Every checkpoint's spec gets the new total (nothing else in it
 * changes); the final checkpoint becomes iter-NNNNNN (a run on its way has no
 * final yet), and the grid written only because it was the last iteration
 * goes. Each step is atomic and a repeated one does nothing, so a kill in
 * between is mended by the next resume. Returns where the checkpoint resumed
 * from now lives.
 */
export const extendRunDir = (
  point: ResumePoint,
): Effect.Effect<string | undefined, OutputError, FileSystem.FileSystem | Path.Path> =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const files = runFiles(point.runDir, path)
    const total = point.spec.training.iterations
    const names = yield* fs
      .readDirectory(files.checkpoints)
      .pipe(Effect.orElseSucceed(() => [] as Array<string>))
    for (const name of names) {
      const file = path.join(files.checkpoints, name, MANIFEST_FILE)
      const text = yield* fs.readFileString(file).pipe(Effect.orElseSucceed(() => undefined))
      if (text === undefined) continue
      let manifest: { spec?: { training?: { iterations?: number } } }
      try {
        manifest = JSON.parse(text)
      } catch {
        continue // not a checkpoint this run can resume from anyway (readCheckpoint says why when it is the newest)
      }
      const training = manifest.spec?.training
      if (training === undefined || training.iterations === total) continue
      const changed = {
        ...manifest,
        spec: { ...manifest.spec, training: { ...training, iterations: total } },
      }
      yield* writeAtomic(file, new TextEncoder().encode(`${JSON.stringify(changed, null, 2)}\n`))
    }
    const checkpoint = point.checkpoint
    if (checkpoint === undefined || path.basename(checkpoint.dir) !== "final") return checkpoint?.dir
    const done = point.iteration
    if (done % point.spec.output.sampleEvery !== 0)
      for (const kind of ["drafts", "revised"]) yield* fs.remove(files.grid(kind, done), { force: true })
    const numbered = files.checkpoint(checkpointName(done))
    if (yield* fs.exists(path.join(numbered, MANIFEST_FILE)))
      yield* fs.remove(checkpoint.dir, { recursive: true })
    else yield* fs.rename(checkpoint.dir, numbered)
    return numbered
  }).pipe(
    Effect.mapError((e) =>
      e instanceof OutputError
        ? e
        : new OutputError({
            message: `Cannot extend ${point.runDir}: ${e.message}. Check permissions.`,
          }),
    ),
  )

/**
 * Removes old `iter-NNNNNN` checkpoints (each renamed away first, so none is
 * ever half-deleted): of those on the `checkpointEvery` grid all but the newest
 * `keep`; of those off it (a graceful stop's, a recovery's, a finished run's
 * before it was extended) each one a newer checkpoint has superseded.
 */
export const pruneJob = (checkpoints: string, keep: number, every: number): WriteJob => ({
  description: `${checkpoints} (keeping the newest ${keep})`,
  write: Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const names = yield* fs.readDirectory(checkpoints).pipe(Effect.orElseSucceed(() => [] as Array<string>))
    const all = numberedCheckpoints(names)
    const at = (name: string) => Number(name.slice("iter-".length))
    const onGrid = all.filter((name) => every > 0 && at(name) % every === 0)
    const newest = all.at(-1)
    const finished = yield* fs.exists(path.join(checkpoints, "final", MANIFEST_FILE))
    const superseded = all.filter((name) => !onGrid.includes(name) && (name !== newest || finished))
    for (const name of [...onGrid.slice(0, Math.max(0, onGrid.length - keep)), ...superseded]) {
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
