/**
 * Training from the command line: `node dist/run.js <pipeline.json>` (or
 * `train <pipeline.json>`) starts a run, `--resume <run-dir>` continues one.
 */
import { Effect, Option, Path } from "effect"
import { Argument, Command, Flag } from "effect/cli"
import { loadPipeline } from "../config/pipeline-file.js"
import { UsageError } from "../errors.js"
import { summaryTable } from "../report/terminal-progress.js"
import { refuseIfInUse } from "../run-dir/lock.js"
import { findResumePoint } from "../run-dir/resume.js"
import { describeRecovery } from "../training/recovery.js"
import { signalExitCode } from "../training/stop.js"
import { type TrainResult, train } from "../training/train.js"
import { forceFlag, given, intFlag, invoke, outFlag, setFlag, UsageHint } from "./flags.js"

export type TrainInvocation =
  | { readonly kind: "help"; readonly commandPath: ReadonlyArray<string> }
  | {
      readonly kind: "train"
      readonly file: string
      readonly overrides: ReadonlyArray<string>
      readonly outDir: string | undefined
      readonly force: boolean
    }
  | { readonly kind: "resume"; readonly runDir: string; readonly iterations: number | undefined }

const trainingFlags = {
  set: setFlag(
    "override a pipeline field, e.g. --set training.iterations=20 (value parsed as JSON when it parses; repeatable)",
  ),
  out: outFlag("the run directory (default runs/<name>)"),
  force: forceFlag("replace an existing run directory"),
}

const TRAIN_HINT = "Give exactly one pipeline file, e.g. `node dist/run.js config/mnist-quick.json`."

/** The root command: train the pipeline file given, continue a run with --resume, or print the help. */
export const trainRoot = Command.make(
  "node dist/run.js",
  {
    file: Argument.String("pipeline.json").pipe(
      Argument.withDescription("the pipeline to train (see config/)"),
      Argument.optional,
    ),
    resume: Flag.String("resume").pipe(
      Flag.withDescription(
        "continue that run from its newest checkpoint, with its own config.json: the result is byte-identical to a run never stopped",
      ),
      Flag.withMetavar("RUN-DIR"),
      Flag.optional,
    ),
    iterations: intFlag(
      "iterations",
      1,
      "with --resume: train to N iterations in all (extends a finished run; config.json records it). A run extended to N ends as one given N from the start",
    ).pipe(Flag.optional),
    ...trainingFlags,
  },
  (a) =>
    Option.isSome(a.resume)
      ? Option.isSome(a.file) || a.set.length > 0
        ? Effect.fail(
            new UsageError({
              message: `--resume ${a.resume.value} continues the run exactly as its config.json describes, so it takes no pipeline file and no --set (the result would no longer be the run you started). To change settings, start a new run: node dist/run.js <pipeline.json> --out DIR.`,
            }),
          )
        : Option.isSome(a.out) || a.force
          ? Effect.fail(
              new UsageError({
                message: `--resume ${a.resume.value} writes into that run directory; --out and --force do not apply.`,
              }),
            )
          : invoke(() => ({
              kind: "resume" as const,
              runDir: a.resume.pipe(Option.getOrThrow),
              iterations: given(a.iterations),
            }))(a)
      : Option.isSome(a.iterations)
        ? Effect.fail(
            new UsageError({
              message: `--iterations ${a.iterations.value} lengthens a run given with --resume DIR. For a new run, set its length with --set training.iterations=${a.iterations.value}.`,
            }),
          )
        : invoke(
            (): TrainInvocation =>
              Option.isSome(a.file)
                ? {
                    kind: "train",
                    file: a.file.value,
                    overrides: a.set,
                    outDir: given(a.out),
                    force: a.force,
                  }
                : { kind: "help", commandPath: [] },
          )(a),
).pipe(
  Command.withDescription(
    "Train CoopNets. The run directory receives config.json, run.json, metrics.jsonl, samples/{drafts,revised}-NNNNNN.png and checkpoints/. SIGINT/SIGTERM (Ctrl-C) while training finish the current iteration, write a checkpoint and exit (130/143); a second signal stops at once.",
  ),
  Command.annotate(UsageHint, TRAIN_HINT),
)

/** `train <pipeline.json>`: the same as giving the file to the root command. */
export const trainCommand = Command.make(
  "train",
  {
    file: Argument.String("pipeline.json").pipe(Argument.withDescription("the pipeline to train")),
    ...trainingFlags,
  },
  invoke((a) => ({
    kind: "train" as const,
    file: a.file,
    overrides: a.set,
    outDir: given(a.out),
    force: a.force,
  })),
).pipe(
  Command.withDescription("Train the pipeline file (as without the word train)."),
  Command.annotate(UsageHint, TRAIN_HINT),
)

/**
 * The end of a training run on the terminal: done, or stopped by a signal
 * after a checkpoint (exit 130/143), then a short table of where things are.
 */
const summarise = (name: string, result: TrainResult): void => {
  const table = `${summaryTable(result)}\n`
  if (result.stopped !== undefined) {
    process.stderr.write(
      `[${name}] stopped by ${result.stopped} after iteration ${result.iterations}; checkpoint written. Continue with: node dist/run.js --resume ${result.outDir}\n${table}`,
    )
    process.exitCode = signalExitCode(result.stopped)
    return
  }
  const recovered = result.recoveries
  process.stderr.write(
    `[${name}] done: ${result.iterations} iterations${result.extendedFrom === undefined ? "" : ` (extended from ${result.extendedFrom})`}, ${(result.msPerIteration / 1000).toFixed(2)} s/it on ${result.backend}. ` +
      `Run directory ${result.outDir} (metrics.jsonl, samples/, checkpoints/final).` +
      (recovered.length === 0
        ? ""
        : ` It recovered from divergence ${recovered.length === 1 ? "once" : `${recovered.length} times`}: ${recovered.map(describeRecovery).join("; ")}. Its config.json holds the lowered settings.`) +
      `\n${table}`,
  )
}

export const runTraining = (o: Extract<TrainInvocation, { kind: "train" }>) =>
  Effect.gen(function* () {
    const path = yield* Path.Path
    const spec = yield* loadPipeline(o.file, o.overrides)
    const outDir = o.outDir ?? path.join("runs", spec.name)
    const result = yield* train(spec, { source: o.file, outDir, force: o.force })
    yield* Effect.sync(() => summarise(spec.name, result))
  })

export const runResume = (o: Extract<TrainInvocation, { kind: "resume" }>) =>
  Effect.gen(function* () {
    // a run still writing is refused as such, not for what its half-written state looks like
    yield* refuseIfInUse(o.runDir)
    const point = yield* findResumePoint(o.runDir, { iterations: o.iterations })
    const result = yield* train(point.spec, {
      source: `${o.runDir}/config.json`,
      outDir: o.runDir,
      force: false,
      resume: point,
    })
    yield* Effect.sync(() => summarise(point.spec.name, result))
  })
