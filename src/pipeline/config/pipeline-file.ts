/** Reading a pipeline file: its text, decoded with `--set` overrides on top, then checked. */
import { Effect, FileSystem } from "effect"
import { ConfigError } from "../errors.js"
import { checkSpec } from "./checks.js"
import { decodeSpec, type PipelineSpec } from "./spec.js"

/** Reads a configuration file; a missing or unreadable one is a ConfigError naming it. */
export const readConfigFile = (file: string, what: string, example: string) =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    return yield* fs.readFileString(file).pipe(
      Effect.mapError(
        () =>
          new ConfigError({
            message: `Cannot read ${what} ${file}: no such file or not readable. The shipped ones are in config/ (e.g. ${example}).`,
          }),
      ),
    )
  })

/** The checked spec of a pipeline file with `overrides` (`--set a.b=v`) on top. */
export const loadPipeline = (
  file: string,
  overrides: ReadonlyArray<string> = [],
): Effect.Effect<PipelineSpec, ConfigError, FileSystem.FileSystem> =>
  readConfigFile(file, "pipeline file", "config/mnist-quick.json").pipe(
    Effect.flatMap((text) => decodeSpec(text, file, overrides)),
    Effect.flatMap((spec) => checkSpec(spec, file)),
  )
