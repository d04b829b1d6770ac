/**
 * The local engine: the runs of a sweep as child processes on this machine, at most `parallel` at
 * once. Each child is the ordinary training command — `node dist/run.js <pipeline> --out <dir>
 * --force` for a run not started, `node dist/run.js --resume <dir>` for one with a run directory —
 * so a sweep stopped half-way picks up where each run's newest checkpoint is. With a sweep's
 * `evaluate` section, a run whose training is done is then evaluated (`node dist/run.js evaluate
 * <dir> …` into <dir>/evaluation/) unless it already was. A run that fails is recorded (exit code
 * in `sweep/state/<id>.json`, output in `sweep/logs/<id>.log`) and the others go on.
 *
 * Stopping the sweep (Ctrl-C, SIGTERM) sends SIGTERM to every running child; each finishes its
 * iteration, writes a checkpoint and exits 143, and the sweep waits for them.
 */
import { availableParallelism, hostname } from "node:os"
import { Effect, FileSystem } from "effect"
import { ChildProcess } from "effect/process"
import { OutputError } from "../errors.js"
import type { SweepLayout } from "./layout.js"
import { type Attempt, evaluated, type NextStep, nextStep, writeAttempt } from "./run-state.js"

export interface LocalOptions {
  readonly layout: SweepLayout
  /** the runs to launch, in order */
  readonly ids: ReadonlyArray<string>
  readonly parallel: number
  /** TensorFlow threads per run (unless TF_NUM_INTRAOP_THREADS is set) */
  readonly cpus: number
  /** absolute paths of the node binary, of dist/run.js and of the project directory */
  readonly node: string
  readonly runJs: string
  readonly cwd: string
  /** one line per event (started, ended) */
  readonly say?: (line: string) => void
  /** the `evaluate` command's arguments after the run directory, run once training is done; none: no evaluation */
  readonly evaluate?: ReadonlyArray<string> | undefined
}

export interface LocalOutcome {
  readonly id: string
  readonly step: NextStep
  /** 0 for a run found done */
  readonly exitCode: number
}

/** As many runs at once as the cores allow, at least one. */
export const defaultParallel = (cpusPerRun: number, cores = availableParallelism()): number =>
  Math.max(1, Math.floor(cores / cpusPerRun))

/** The training command's arguments for a run's next step. */
export const stepArgs = (layout: SweepLayout, id: string, step: "start" | "resume"): Array<string> =>
  step === "resume"
    ? ["--resume", layout.runDir(id)]
    : [layout.pipeline(id), "--out", layout.runDir(id), "--force"]

/** One child process for run `id` (training or its evaluation), its output appended to the run's log. */
const attemptOnce = (o: LocalOptions, id: string, action: Attempt["action"], args: ReadonlyArray<string>) =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const say = o.say ?? (() => {})
    yield* fs.makeDirectory(o.layout.logs, { recursive: true })
    const threads = String(o.cpus)
    const exitCode = yield* Effect.scoped(
      Effect.gen(function* () {
        // sh execs the run with its output appended straight to the log file (same pid, no pipe to drain:
        // the log is whole even if this process dies, and a stopped reader can never block the run)
        const handle = yield* ChildProcess.make(
          "/bin/sh",
          ["-c", 'exec "$0" "$@" >>"$COOPNETS_SWEEP_LOG" 2>&1', o.node, o.runJs, ...args],
          {
            cwd: o.cwd,
            extendEnv: true,
            env: {
              COOPNETS_SWEEP_LOG: o.layout.logFile(id),
              TF_NUM_INTRAOP_THREADS: process.env.TF_NUM_INTRAOP_THREADS ?? threads,
              TF_NUM_INTEROP_THREADS: process.env.TF_NUM_INTEROP_THREADS ?? threads,
            },
            stdin: "ignore",
            stdout: "ignore",
            stderr: "ignore",
            killSignal: "SIGTERM",
          },
        )
        const attempt: Attempt = {
          engine: "local",
          host: hostname(),
          pid: handle.pid,
          action,
          started: new Date().toISOString(),
        }
        yield* writeAttempt(o.layout, id, attempt)
        say(
          `[${id}] ${action === "start" ? "started" : action === "resume" ? "resumed" : "evaluating"} (pid ${handle.pid})`,
        )
        // interrupted (Ctrl-C, SIGTERM to the sweep): SIGTERM to the run, which checkpoints and exits 143;
        // wait for it and record how it ended. (This finalizer runs before the spawner's own, which
        // would wait for the exit without signalling first.)
        yield* Effect.addFinalizer(() =>
          handle.isRunning.pipe(
            Effect.flatMap((running) => (running ? handle.kill({ killSignal: "SIGTERM" }) : Effect.void)),
            Effect.ignore,
            Effect.andThen(handle.exitCode),
            Effect.flatMap((code) =>
              writeAttempt(o.layout, id, { ...attempt, exitCode: code, finished: new Date().toISOString() }),
            ),
            Effect.ignore,
          ),
        )
        return (yield* handle.exitCode) as number
      }),
    )
    say(
      `[${id}] ${action === "evaluate" ? "evaluation " : ""}${exitCode === 0 ? "done" : `ended with exit code ${exitCode}`}`,
    )
    return exitCode
  })

const runOne = (o: LocalOptions, id: string) =>
  Effect.gen(function* () {
    const step = yield* nextStep(o.layout.runDir(id))
    let exitCode = 0
    if (step !== "done") exitCode = yield* attemptOnce(o, id, step, stepArgs(o.layout, id, step))
    if (exitCode === 0 && o.evaluate !== undefined && !(yield* evaluated(o.layout.runDir(id))))
      exitCode = yield* attemptOnce(o, id, "evaluate", ["evaluate", o.layout.runDir(id), ...o.evaluate])
    return { id, step, exitCode } satisfies LocalOutcome
  }).pipe(
    Effect.mapError(
      (e) =>
        new OutputError({
          message: `Cannot run ${id} of the sweep: ${e.message}. Check that ${o.node} and ${o.runJs} exist and that ${o.layout.root} is writable.`,
        }),
    ),
  )

/** Runs every id, `parallel` at a time; a run's failure is its outcome, not the sweep's. */
export const runLocal = (o: LocalOptions) =>
  Effect.forEach(o.ids, (id) => runOne(o, id), { concurrency: Math.max(1, o.parallel) })
