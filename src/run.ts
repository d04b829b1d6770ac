#!/usr/bin/env node
/** Entry point: `node dist/run.js --help`. Parses argv, runs the command, prints errors as one paragraph. */
import { NodeServices } from "@effect/platform-node"
import { Effect } from "effect"
import { parseArgs, runInvocation } from "./pipeline/commands/cli.js"
import { processStop, runMain, StopRequest } from "./pipeline/training/stop.js"

const main = parseArgs(process.argv.slice(2)).pipe(
  Effect.flatMap(runInvocation),
  Effect.catch((error) =>
    Effect.sync(() => {
      process.stderr.write(`error: ${error.message}\n`)
      process.exitCode = error._tag === "UsageError" || error._tag === "ConfigError" ? 2 : 1
    }),
  ),
)

main.pipe(Effect.provideService(StopRequest, processStop), Effect.provide(NodeServices.layer), runMain)
