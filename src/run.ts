#!/usr/bin/env node
/** Entry point: `node dist/run.js --help`. Reads argv, runs the command, prints errors as one paragraph. */
import { NodeRuntime, NodeServices } from "@effect/platform-node"
import { Effect, FileSystem, Path } from "effect"
import { type Command, helpText, parseArgs } from "./pipeline/cli.js"
import { ConfigError } from "./pipeline/errors.js"
import { sample } from "./pipeline/sample.js"
import { checkSpec, decodeSpec } from "./pipeline/spec.js"
import { train } from "./pipeline/train.js"

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
        yield* Effect.sync(() =>
          process.stderr.write(
            `[${spec.name}] done: ${result.iterations} iterations, ${(result.msPerIteration / 1000).toFixed(2)} s/it on ${result.backend}. ` +
              `Run directory ${result.outDir} (metrics.jsonl, samples/, checkpoints/final).\n`,
          ),
        )
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

main.pipe(Effect.provide(NodeServices.layer), NodeRuntime.runMain)
