/**
 * The run directory: where each file of a run lives, and claiming a directory
 * for a command's outputs. The one owner of the layout:
 *
 *   <run>/config.json                the resolved pipeline (defaults filled in)
 *   <run>/run.json                   source file, backend and why, versions, start time
 *   <run>/metrics.jsonl              one line per iteration, plus evaluation lines (metrics.ts)
 *   <run>/samples/<kind>-NNNNNN.png  grids of drafts and revisions (.gif for videos: the observed clip beside them)
 *   <run>/checkpoints/iter-NNNNNN/   periodic checkpoints; checkpoints/final/ the last
 *   <run>/report.html                the run at a glance, rewritten as it trains (../report/)
 *   <run>/tensorboard/               TensorBoard event files, one per training process (../report/tensorboard/)
 *   <run>/run.lock                   while a process writes into the run: which one (lock.ts)
 */
import { Effect, FileSystem, Path } from "effect"
import { OutputError } from "../errors.js"

/** A checkpoint directory's two files (./checkpoint.ts writes and reads them). */
export const MANIFEST_FILE = "checkpoint.json"
export const WEIGHTS_FILE = "weights.bin"

export const checkpointName = (iteration: number): string => `iter-${String(iteration).padStart(6, "0")}`

const CHECKPOINT_NAME = /^iter-(\d{6,})$/

/** `iter-NNNNNN` names, oldest first (by number: iter-1000000 comes after iter-999999). */
export const numberedCheckpoints = (names: ReadonlyArray<string>): Array<string> =>
  names
    .filter((n) => CHECKPOINT_NAME.test(n))
    .sort((a, b) => Number(a.slice("iter-".length)) - Number(b.slice("iter-".length)))

/** What a killed writer can leave behind: `<name>.tmp-<pid>`, `<name>.old-<pid>`, `<name>.trash-<pid>`. */
export const LEFTOVER = /\.(tmp|old|trash)-\d+$/

export interface RunFiles {
  readonly dir: string
  readonly config: string
  readonly record: string
  readonly metrics: string
  readonly samples: string
  /** the grid of `kind` ("drafts" | "revised") written after `iteration` iterations (a .gif for videos) */
  readonly grid: (kind: string, iteration: number, extension?: "png" | "gif") => string
  readonly checkpoints: string
  /** `checkpoints/<name>`: `final` or `iter-NNNNNN` */
  readonly checkpoint: (name: string) => string
  readonly report: string
  readonly tensorboard: string
}

/** `path`: effect's Path service, or node:path where no Effect runtime runs (the report's worker). */
export const runFiles = (dir: string, path: Pick<Path.Path, "join">): RunFiles => ({
  dir,
  config: path.join(dir, "config.json"),
  record: path.join(dir, "run.json"),
  metrics: path.join(dir, "metrics.jsonl"),
  samples: path.join(dir, "samples"),
  grid: (kind, iteration, extension = "png") =>
    path.join(dir, "samples", `${kind}-${String(iteration).padStart(6, "0")}.${extension}`),
  checkpoints: path.join(dir, "checkpoints"),
  checkpoint: (name) => path.join(dir, "checkpoints", name),
  report: path.join(dir, "report.html"),
  tensorboard: path.join(dir, "tensorboard"),
})

export interface ClaimOptions {
  readonly force: boolean
  /**
   * What --force does with an existing directory: "replace" removes it first (a
   * run or comparison directory is one whole); "overwrite" keeps it and writes
   * the command's files over their old versions (outputs inside a run directory).
   */
  readonly onForce: "replace" | "overwrite"
  /** how messages name the directory, e.g. "Run directory" */
  readonly what?: string
  /** entries that neither make the directory "not empty" nor go with --force (the command's own lock file) */
  readonly ignore?: ReadonlyArray<string>
}

/**
 * Claims `dir` for a command's outputs: it must be absent or empty, or --force
 * takes it over. Nothing is created here (a command that fails before writing
 * leaves nothing behind); the writer creates directories as files arrive.
 */
export const claimOutputDir = (
  dir: string,
  o: ClaimOptions,
): Effect.Effect<void, OutputError, FileSystem.FileSystem | Path.Path> =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const ignored = o.ignore ?? []
    const entries = (yield* fs
      .readDirectory(dir)
      .pipe(Effect.orElseSucceed(() => [] as Array<string>))).filter((name) => !ignored.includes(name))
    if (entries.length > 0) {
      if (!o.force)
        return yield* new OutputError({
          message: `${o.what === undefined ? dir : `${o.what} ${dir}`} already exists and is not empty. Pass --out DIR to write elsewhere, or --force to replace ${o.onForce === "replace" ? "it" : "its files"}.`,
        })
      if (o.onForce === "replace")
        if (ignored.length === 0) yield* fs.remove(dir, { recursive: true })
        else for (const name of entries) yield* fs.remove(path.join(dir, name), { recursive: true })
    }
  }).pipe(
    Effect.mapError((e) =>
      e instanceof OutputError
        ? e
        : new OutputError({
            message: `Cannot replace ${o.what?.toLowerCase() ?? "directory"} ${dir}: ${e.message}`,
          }),
    ),
  )
