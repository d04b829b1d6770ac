/**
 * The command line, declared with effect/cli: the root command trains (or
 * resumes), and each mode is a subcommand declared next to its options in its
 * own module. Parsing yields a typed invocation and runs nothing; `runInvocation`
 * executes it. Usage errors carry the project's messages (one paragraph, what
 * to do), never the parser's help screen.
 */
import { Context, Effect } from "effect"
import { type CliError, CliOutput, Command, type HelpDoc } from "effect/cli"
import { decodeCompletionSpec } from "../config/completion-spec.js"
import { readConfigFile } from "../config/pipeline-file.js"
import { UsageError } from "../errors.js"
import { type CompareInvocation, compare, compareCommand } from "./compare.js"
import { type CompleteInvocation, completeCommand, completeRun } from "./complete.js"
import { type EvaluateInvocation, evaluate, evaluateCommand } from "./evaluate.js"
import { ParsedInvocation, UsageHint } from "./flags.js"
import { formatCommand, helpText } from "./help.js"
import { type InterpolateInvocation, interpolateCommand, interpolateRun } from "./interpolate.js"
import { type ReportInvocation, report, reportCommand } from "./report.js"
import { type SampleInvocation, sample, sampleCommand } from "./sample.js"
import { runSweep, type SweepInvocation, sweepCommand } from "./sweep.js"
import { runResume, runTraining, type TrainInvocation, trainCommand, trainRoot } from "./train.js"

const subcommands = [
  trainCommand,
  sampleCommand,
  interpolateCommand,
  compareCommand,
  completeCommand,
  evaluateCommand,
  sweepCommand,
  reportCommand,
] as const

export const cli = trainRoot.pipe(Command.withSubcommands(subcommands))

const VERSION = "0.1.0"

/** What a parsed command line asks for. */
export type Invocation =
  | TrainInvocation
  | SampleInvocation
  | InterpolateInvocation
  | CompareInvocation
  | CompleteInvocation
  | EvaluateInvocation
  | SweepInvocation
  | ReportInvocation
  | { readonly kind: "version" }

const SEE_HELP = "See `node dist/run.js --help`."

/** The project's message for what the parser rejected; `hint` is the command's usage hint. */
const messageOf = (error: CliError.CliError, hint: string | undefined): string => {
  switch (error._tag) {
    case "UnrecognizedOption":
      return `Unknown option ${error.option}. ${SEE_HELP}`
    case "InvalidValue":
      if (error.kind === "argument") return hint ?? `${error.message}.`
      return error.value.length === 0 ? `--${error.option} needs a value. ${SEE_HELP}` : `${error.message}.`
    case "MissingOption":
      return `${error.option.startsWith("-") ? error.option : `--${error.option}`} needs a value. ${SEE_HELP}`
    case "MissingArgument":
    case "UnexpectedArgument":
      return hint ?? `${error.message}. ${SEE_HELP}`
    case "ValidationError":
      return error.message
    case "ShowHelp":
      return error.errors[0] === undefined ? SEE_HELP : messageOf(error.errors[0], hint)
    default:
      return `${error.message}. ${SEE_HELP}`
  }
}

/** The command a path names (["node dist/run.js", "sweep", "status"]), or the deepest one it reaches. */
const commandAt = (path: ReadonlyArray<string>): Command.Command.Any => {
  let command: Command.Command.Any = cli
  for (const name of path.slice(1)) {
    const next = command.subcommands.flatMap((g) => g.commands).find((c) => c.name === name)
    if (next === undefined) break
    command = next
  }
  return command
}

const usageError = (error: CliError.CliError): UsageError => {
  const path = error._tag === "ShowHelp" ? error.commandPath : []
  const hint = Context.get(commandAt(path).annotations as Context.Context<never>, UsageHint)
  return new UsageError({ message: messageOf(error, hint) })
}

/** `--flag -1,1` → `--flag=-1,1`: a value that starts with "-" and a digit is a value, never a flag. */
const withNegativeValues = (argv: ReadonlyArray<string>): Array<string> => {
  const out: Array<string> = []
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string
    const next = argv[i + 1]
    if (arg.startsWith("--") && !arg.includes("=") && next !== undefined && /^-\d/.test(next)) {
      out.push(`${arg}=${next}`)
      i++
    } else out.push(arg)
  }
  return out
}

/** Parses `argv` (without node and the script) into what it asks for; nothing runs. */
export const parseArgs = (argv: ReadonlyArray<string>) =>
  Effect.gen(function* () {
    let parsed: Invocation | undefined
    const presenter: CliOutput.Presenter = {
      present: (event) =>
        Effect.sync(() => {
          if (event._tag === "Help" && event.reason === "Requested")
            parsed = { kind: "help", commandPath: event.commandPath.slice(1) }
          if (event._tag === "Version") parsed = { kind: "version" }
        }),
    }
    yield* Command.runWith(cli, { version: VERSION, renderErrors: false })(withNegativeValues(argv)).pipe(
      Effect.provideService(ParsedInvocation, {
        set: (value) => {
          parsed = value as Invocation
        },
      }),
      Effect.provide(CliOutput.layerPresenter(presenter)),
      Effect.mapError((e) => (e instanceof UsageError ? e : usageError(e as CliError.CliError))),
    )
    return parsed ?? ({ kind: "help", commandPath: [] } as const)
  })

/** The help document of the command at `path` (e.g. ["sample"]), as the parser builds it. */
const helpDocOf = (path: ReadonlyArray<string>) =>
  Effect.gen(function* () {
    let doc: HelpDoc.HelpDoc | undefined
    const presenter: CliOutput.Presenter = {
      present: (event) =>
        Effect.sync(() => {
          if (event._tag === "Help") doc = event.helpDoc
        }),
    }
    yield* Command.runWith(cli, { version: VERSION, renderErrors: false })([...path, "--help"]).pipe(
      Effect.provideService(ParsedInvocation, { set: () => {} }),
      Effect.provide(CliOutput.layerPresenter(presenter)),
      Effect.ignore,
    )
    return doc
  })

/** `--help` of the root (every command and every field) or of one command. */
export const help = (path: ReadonlyArray<string>) =>
  Effect.gen(function* () {
    if (path.length > 0) {
      const doc = yield* helpDocOf(path)
      return doc === undefined ? "" : `${formatCommand(doc)}\n`
    }
    const root = yield* helpDocOf([])
    // each command, then its own subcommands (sweep status, sweep collect)
    const paths = subcommands.flatMap((c) => [
      [c.name],
      ...c.subcommands.flatMap((g) => g.commands.map((sub) => [c.name, sub.name])),
    ])
    const commands = yield* Effect.forEach(paths, (p) => helpDocOf(p))
    return helpText(
      root as HelpDoc.HelpDoc,
      commands.filter((d): d is HelpDoc.HelpDoc => d !== undefined),
    )
  })

const written = (result: { readonly outDir: string }, what: string, files?: string) =>
  Effect.sync(() =>
    process.stderr.write(`Wrote ${what} to ${result.outDir}${files === undefined ? "" : ` (${files})`}.\n`),
  )

/** Runs what the command line asked for. */
export const runInvocation = (invocation: Invocation) =>
  Effect.gen(function* () {
    switch (invocation.kind) {
      case "help":
        return yield* Effect.flatMap(help(invocation.commandPath), (text) =>
          Effect.sync(() => process.stdout.write(text)),
        )
      case "version":
        return yield* Effect.sync(() => process.stdout.write(`coopnets ${VERSION}\n`))
      case "train":
        return yield* runTraining(invocation)
      case "resume":
        return yield* runResume(invocation)
      case "complete": {
        const text = yield* readConfigFile(invocation.file, "completion file", "config/mnist-completion.json")
        const spec = yield* decodeCompletionSpec(text, invocation.file, invocation.overrides)
        const result = yield* completeRun({ ...invocation, spec, source: invocation.file })
        yield* Effect.sync(() => process.stdout.write(result.table))
        return yield* written(result, "triplets, .npy files and report.md/json")
      }
      case "compare": {
        const result = yield* compare({ ...invocation, outDir: invocation.outDir ?? "runs/compare" })
        yield* Effect.sync(() => process.stdout.write(result.table))
        return yield* written(result, "compare.md, compare.json, compare.png and report.html")
      }
      case "interpolate": {
        const result = yield* interpolateRun(invocation)
        return yield* written(
          result,
          `${invocation.pairs} interpolations of ${invocation.steps} frames [${result.shape}]`,
          result.shape.length === 6 ? "grid.gif, frames.npy" : "grid.png, frames.npy",
        )
      }
      case "evaluate": {
        const result = yield* evaluate(invocation)
        yield* Effect.sync(() => process.stdout.write(result.table))
        return yield* written(result, "evaluation.json and evaluation.md")
      }
      case "report": {
        const text = yield* report(invocation)
        return yield* Effect.sync(() => process.stderr.write(`${text}.\n`))
      }
      case "sample": {
        const result = yield* sample(invocation)
        return yield* written(result, `${result.count} samples [${result.shape}]`)
      }
      case "sweep":
      case "sweep-status":
      case "sweep-collect":
        return yield* runSweep(invocation)
    }
  })
