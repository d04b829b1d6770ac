/**
 * What a run of a sweep has done, read from files only (so `sweep status` works the same for the
 * local engine, for SLURM tasks on other hosts, and after the sweep command has gone):
 *
 * - `<run>/checkpoints/final/checkpoint.json`: the run is done;
 * - `<run>/metrics.jsonl`: how many iterations it has reported;
 * - `<run>/checkpoints/iter-NNNNNN/checkpoint.json`: where a resume would start;
 * - `sweep/state/<id>.json`: the newest attempt — who runs it (host, pid, SLURM job) and, once it
 *   ended, its exit code. A pid on this host that is gone means the attempt was killed.
 *
 * Exit codes 130 and 143 are the training command's graceful stop (SIGINT, SIGTERM: checkpoint
 * written), so such a run is pending — the next attempt resumes it — not failed.
 */
import { hostname } from "node:os"
import { Effect, FileSystem, Path } from "effect"
import { MANIFEST_FILE, numberedCheckpoints, runFiles } from "../run-dir/layout.js"
import { parseMetrics } from "../run-dir/metrics.js"
import { writeAtomic } from "../run-dir/writer.js"
import type { SweepLayout } from "./layout.js"

export interface Attempt {
  readonly engine: "local" | "slurm"
  readonly host: string
  /** the training process */
  readonly pid: number
  /** SLURM: `<array job id>_<array index>` */
  readonly job?: string | undefined
  readonly action: "start" | "resume" | "evaluate"
  readonly started: string
  readonly exitCode?: number | undefined
  readonly finished?: string | undefined
}

export type Status = "done" | "running" | "failed" | "pending"

export interface RunState {
  readonly id: string
  readonly status: Status
  /** iterations reported in metrics.jsonl */
  readonly iterations: number
  /** the iteration of the newest complete checkpoint (the final one counts) */
  readonly checkpoint: number | undefined
  readonly attempt: Attempt | undefined
  /** one line for people: why this status */
  readonly detail: string
}

/** What the next attempt at a run does: nothing, `--resume <dir>`, or start it afresh (`--out <dir> --force`). */
export type NextStep = "done" | "resume" | "start"

export const GRACEFUL_EXIT = [130, 143] as const

const exists = (fs: FileSystem.FileSystem, file: string) =>
  fs.exists(file).pipe(Effect.orElseSucceed(() => false))

/** Whether a process with this pid lives on this host (EPERM: it does, but belongs to someone else). */
export const pidAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM"
  }
}

/**
 * The rule every engine follows (the SLURM task script says the same in bash): a run with a final
 * checkpoint is done; one whose directory holds its config.json is resumed from its newest
 * checkpoint (from iteration 0 when it has none); anything else — no directory, or one killed
 * before its config.json appeared — is started afresh, replacing what is there.
 */
export const nextStep = (runDir: string) =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const files = runFiles(runDir, path)
    // a checkpoint directory is complete once its manifest is there (it is renamed into place whole)
    if (yield* exists(fs, path.join(files.checkpoint("final"), MANIFEST_FILE))) return "done" as NextStep
    if (yield* exists(fs, files.config)) return "resume" as NextStep
    return "start" as NextStep
  })

/** Whether `node dist/run.js evaluate <run>` has written its report (`<run>/evaluation/evaluation.json`). */
export const evaluated = (runDir: string) =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    return yield* exists(fs, path.join(runDir, "evaluation", "evaluation.json"))
  })

/** Iterations reported in a metrics.jsonl text (a torn last line is ignored). */
export const reportedIterations = (text: string): number =>
  parseMetrics(text).metrics.iterations.reduce((most, line) => Math.max(most, line.iteration), 0)

export const readAttempt = (layout: SweepLayout, id: string) =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const text = yield* fs.readFileString(layout.stateFile(id)).pipe(Effect.orElseSucceed(() => undefined))
    if (text === undefined) return undefined
    try {
      return JSON.parse(text) as Attempt
    } catch {
      return undefined
    }
  })

export const writeAttempt = (layout: SweepLayout, id: string, attempt: Attempt) =>
  writeAtomic(layout.stateFile(id), new TextEncoder().encode(`${JSON.stringify(attempt)}\n`))

/** The last line of a log that says `error: …` (the training command's one-paragraph errors), if any. */
export const lastError = (log: string): string | undefined =>
  log
    .split("\n")
    .filter((l) => l.startsWith("error: "))
    .at(-1)
    ?.slice("error: ".length)

const progress = (iterations: number, total: number | undefined) =>
  total === undefined ? `${iterations} iterations` : `${iterations}/${total}`

/**
 * The state of run `id`; `total` is its planned iteration count (for the progress figure). With
 * `withEvaluation`, a run is done only once its evaluation report is there too.
 */
export const readRunState = (layout: SweepLayout, id: string, total?: number, withEvaluation = false) =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const files = runFiles(layout.runDir(id), path)
    const attempt = yield* readAttempt(layout, id)
    const metrics = yield* fs.readFileString(files.metrics).pipe(Effect.orElseSucceed(() => ""))
    const iterations = reportedIterations(metrics)
    const done = yield* exists(fs, path.join(files.checkpoint("final"), MANIFEST_FILE))
    const names = yield* fs
      .readDirectory(files.checkpoints)
      .pipe(Effect.orElseSucceed(() => [] as Array<string>))
    let checkpoint: number | undefined
    for (const name of numberedCheckpoints(names))
      if (yield* exists(fs, path.join(files.checkpoint(name), MANIFEST_FILE)))
        checkpoint = Number(name.slice("iter-".length))
    if (done) checkpoint = Math.max(checkpoint ?? 0, iterations)
    const where = checkpoint === undefined ? "from the start" : `from iteration ${checkpoint}`
    const state = (status: Status, detail: string): RunState => ({
      id,
      status,
      iterations,
      checkpoint,
      attempt,
      detail,
    })
    const evaluatedToo = !withEvaluation || (yield* evaluated(files.dir))
    if (done && evaluatedToo) return state("done", progress(iterations, total))
    if (done && attempt?.action !== "evaluate")
      return state("pending", `${progress(iterations, total)}, trained; not evaluated yet`)
    if (attempt === undefined)
      return iterations > 0 || checkpoint !== undefined
        ? state("pending", `${progress(iterations, total)}, started outside the sweep; resumes ${where}`)
        : state("pending", "not started")
    const who = `${attempt.job === undefined ? "" : `SLURM job ${attempt.job}, `}pid ${attempt.pid} on ${attempt.host}`
    if (attempt.exitCode === undefined) {
      if (attempt.host !== hostname())
        return state("running", `${progress(iterations, total)} (${who}; not checked from here)`)
      return pidAlive(attempt.pid)
        ? state("running", `${progress(iterations, total)} (${who})`)
        : state("pending", `${progress(iterations, total)}, killed (${who} is gone); resumes ${where}`)
    }
    if ((GRACEFUL_EXIT as ReadonlyArray<number>).includes(attempt.exitCode))
      return state(
        "pending",
        `${progress(iterations, total)}, stopped by a signal (exit ${attempt.exitCode}); resumes ${where}`,
      )
    const log = yield* fs.readFileString(layout.logFile(id)).pipe(Effect.orElseSucceed(() => ""))
    const error = lastError(log)
    return state(
      "failed",
      `${attempt.action === "evaluate" ? "trained; evaluation failed with " : ""}exit ${attempt.exitCode} at ${progress(iterations, total)}${error === undefined ? "" : `: ${error}`} (log ${layout.logFile(id)})`,
    )
  })
