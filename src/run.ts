#!/usr/bin/env node
/** Entry point: `node dist/run.js --help`. Reads argv, runs the command, prints errors as one paragraph. */
import { NodeServices } from "@effect/platform-node"
import { Effect, FileSystem, Path } from "effect"
import { type Command, helpText, parseArgs } from "./pipeline/commands/cli.js"
import { compare } from "./pipeline/commands/compare.js"
import { completeRun } from "./pipeline/commands/complete.js"
import { evaluate } from "./pipeline/commands/evaluate.js"
import { interpolateRun } from "./pipeline/commands/interpolate.js"
import { sample } from "./pipeline/commands/sample.js"
import { decodeCompletionSpec } from "./pipeline/config/completion-spec.js"
import { checkSpec, decodeSpec } from "./pipeline/config/spec.js"
import { ConfigError } from "./pipeline/errors.js"
import { findResumePoint } from "./pipeline/run-dir/resume.js"
import { processStop, runMain, StopRequest, signalExitCode } from "./pipeline/training/stop.js"
import { type TrainResult, train } from "./pipeline/training/train.js"

/** The last line of a training run: done, or stopped by a signal after a checkpoint (exit 130/143). */
const summarise = (name: string, result: TrainResult): void => {
  if (result.stopped !== undefined) {
    process.stderr.write(
      `[${name}] stopped by ${result.stopped} after iteration ${result.iterations}; checkpoint written. Continue with: node dist/run.js --resume ${result.outDir}\n`,
    )
    process.exitCode = signalExitCode(result.stopped)
    return
  }
  process.stderr.write(
    `[${name}] done: ${result.iterations} iterations, ${(result.msPerIteration / 1000).toFixed(2)} s/it on ${result.backend}. ` +
      `Run directory ${result.outDir} (metrics.jsonl, samples/, checkpoints/final).\n`,
  )
}

const readConfig = (file: string, what: string) =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    return yield* fs.readFileString(file).pipe(
      Effect.mapError(
        () =>
          new ConfigError({
            message: `Cannot read ${what} ${file}: no such file or not readable. The shipped ones are in config/.`,
          }),
      ),
    )
  })

const runCommand = (command: Command) =>
  Effect.gen(function* () {
    switch (command.kind) {
      case "help":
        return yield* Effect.sync(() => process.stdout.write(helpText()))
      case "train": {
        const fs = yield* FileSystem.FileSystem
        const path = yield* Path.Path
        const text = yield* fs.readFileString(command.file).pipe(
          Effect.mapError(
            () =>
              new ConfigError({
                message: `Cannot read pipeline file ${command.file}: no such file or not readable. The shipped ones are in config/ (e.g. config/mnist-quick.json).`,
              }),
          ),
        )
        const spec = yield* decodeSpec(text, command.file, command.overrides).pipe(
          Effect.flatMap((s) => checkSpec(s, command.file)),
        )
        const outDir = command.outDir ?? path.join("runs", spec.name)
        const result = yield* train(spec, { source: command.file, outDir, force: command.force })
        return yield* Effect.sync(() => summarise(spec.name, result))
      }
      case "resume": {
        const point = yield* findResumePoint(command.runDir)
        const source = `${command.runDir}/config.json`
        const result = yield* train(point.spec, {
          source,
          outDir: command.runDir,
          force: false,
          resume: point,
        })
        return yield* Effect.sync(() => summarise(point.spec.name, result))
      }
      case "complete": {
        const text = yield* readConfig(command.file, "completion file")
        const spec = yield* decodeCompletionSpec(text, command.file, command.overrides)
        const result = yield* completeRun({ ...command, spec, source: command.file })
        yield* Effect.sync(() => {
          process.stdout.write(result.table)
          process.stderr.write(`Wrote triplets, .npy files and report.md/json to ${result.outDir}.\n`)
        })
        return
      }
      case "compare": {
        const result = yield* compare({ ...command, outDir: command.outDir ?? "runs/compare" })
        yield* Effect.sync(() => {
          process.stdout.write(result.table)
          process.stderr.write(`Wrote compare.md, compare.json and compare.png to ${result.outDir}.\n`)
        })
        return
      }
      case "interpolate": {
        const result = yield* interpolateRun(command)
        yield* Effect.sync(() =>
          process.stderr.write(
            `Wrote ${command.pairs} interpolations of ${command.steps} frames [${result.shape}] to ${result.outDir} (grid.png, frames.npy).\n`,
          ),
        )
        return
      }
      case "evaluate": {
        const result = yield* evaluate(command)
        yield* Effect.sync(() => {
          process.stdout.write(result.table)
          process.stderr.write(`Wrote evaluation.json and evaluation.md to ${result.outDir}.\n`)
        })
        return
      }
      case "sample": {
        const result = yield* sample(command)
        yield* Effect.sync(() =>
          process.stderr.write(`Wrote ${result.count} samples [${result.shape}] to ${result.outDir}.\n`),
        )
        return
      }
    }
  })

const main = parseArgs(process.argv.slice(2)).pipe(
  Effect.flatMap(runCommand),
  Effect.catch((error) =>
    Effect.sync(() => {
      process.stderr.write(`error: ${error.message}\n`)
      process.exitCode = error._tag === "UsageError" || error._tag === "ConfigError" ? 2 : 1
    }),
  ),
)

main.pipe(Effect.provideService(StopRequest, processStop), Effect.provide(NodeServices.layer), runMain)
