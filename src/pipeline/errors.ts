/**
 * Every failure a user can cause or meet has a tagged error whose `message` is
 * one paragraph naming the file, field or step and what to do. The entry point
 * prints that message alone (no stack trace) and exits non-zero.
 */
import { Data } from "effect"
import type { DivergenceError } from "../stages/divergence.js"

/** pipeline.json (or a `--set` override) is malformed or holds an impossible value. */
export class ConfigError extends Data.TaggedError("ConfigError")<{ readonly message: string }> {}

/** The command line is malformed. */
export class UsageError extends Data.TaggedError("UsageError")<{ readonly message: string }> {}

/** A dataset is missing, unreadable or does not fit the configuration. */
export class DataError extends Data.TaggedError("DataError")<{ readonly message: string }> {}

/** A run directory or output file cannot be created or written. */
export class OutputError extends Data.TaggedError("OutputError")<{ readonly message: string }> {}

/** Another process is writing into the run directory (its lock file, run-dir/lock.ts, names it). */
export class RunInUseError extends Data.TaggedError("RunInUseError")<{ readonly message: string }> {}

/** A checkpoint is missing, corrupt or belongs to another architecture. */
export class CheckpointError extends Data.TaggedError("CheckpointError")<{ readonly message: string }> {}

/** The requested tensor backend cannot be loaded. */
export class BackendError extends Data.TaggedError("BackendError")<{ readonly message: string }> {}

export type CoopnetsError =
  | ConfigError
  | UsageError
  | DataError
  | OutputError
  | RunInUseError
  | CheckpointError
  | BackendError
  | DivergenceError
