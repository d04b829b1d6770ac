/**
 * The flags the commands share, declared once with their `--help` lines, and
 * how a command turns its parsed flags into a typed invocation (see cli.ts).
 */
import { Context, Effect, Option } from "effect"
import { Argument, CliError, Flag } from "effect/cli"

/** An integer flag ≥ `min`, rejected with a message that names it and the value given. */
export const intFlag = (name: string, min: number, description: string) =>
  Flag.String(name).pipe(
    Flag.withDescription(description),
    Flag.withMetavar("N"),
    Flag.mapEffect((raw) => {
      const n = Number(raw)
      // safe: beyond 2^53 − 1 a number no longer counts exactly (and "1e300" is an integer to JavaScript)
      return Number.isSafeInteger(n) && n >= min
        ? Effect.succeed(n)
        : Effect.fail(
            new CliError.ValidationError({
              message: `--${name} must be a whole number from ${min} to ${Number.MAX_SAFE_INTEGER}, got "${raw}".`,
            }),
          )
    }),
  )

/** A flag that takes one of `choices`, rejected with `why` otherwise. */
export const choiceFlag = <const C extends ReadonlyArray<string>>(
  name: string,
  choices: C,
  description: string,
  why: (raw: string) => string,
) =>
  Flag.String(name).pipe(
    Flag.withDescription(description),
    Flag.withMetavar(choices.join("|")),
    Flag.mapEffect((raw) =>
      (choices as ReadonlyArray<string>).includes(raw)
        ? Effect.succeed(raw as C[number])
        : Effect.fail(new CliError.ValidationError({ message: why(raw) })),
    ),
  )

/** The run or checkpoint directory a command reads a trained model from. */
export const trainedRunArgument = Argument.String("run-dir|checkpoint-dir").pipe(
  Argument.withDescription("a run directory (its checkpoints/final) or a checkpoint directory"),
)

export const outFlag = (what: string) =>
  Flag.String("out").pipe(Flag.withDescription(what), Flag.withMetavar("DIR"), Flag.optional)

export const forceFlag = (what: string) =>
  Flag.Boolean("force").pipe(Flag.withDescription(what), Flag.withDefault(false))

export const setFlag = (what: string) =>
  Flag.String("set").pipe(Flag.withDescription(what), Flag.withMetavar("field=value"), Flag.atLeast(0))

/** Which generator weights a trained run is sampled with (src/pipeline/nets/generator-average.ts). */
export const weightsFlag = choiceFlag(
  "weights",
  ["average", "last"] as const,
  "the generator's weights: the moving average of its weights when the run kept one (generatorAverage.decay > 0), else the last; or the last",
  (raw) => `--weights must be "average" or "last", got "${raw}".`,
)

export const seedFlag = (what: string) => intFlag("seed", 0, what).pipe(Flag.optional)

/** What a command says when its positional arguments are missing or too many (a Command annotation). */
export const UsageHint = Context.Reference<string | undefined>("coopnets/UsageHint", {
  defaultValue: () => undefined,
})

/** Option → value or undefined (the commands' options types use undefined for "not given"). */
export const given = <A>(o: Option.Option<A>): A | undefined => Option.getOrUndefined(o)

/** Where a command's handler puts what it parsed: the command line is parsed, not run (cli.ts runs it). */
export class ParsedInvocation extends Context.Service<
  ParsedInvocation,
  { readonly set: (value: unknown) => void }
>()("coopnets/ParsedInvocation") {}

/** A handler that records `invocation` instead of running it. */
export const invoke =
  <A, I>(toInvocation: (args: A) => I) =>
  (args: A) =>
    ParsedInvocation.useSync((parsed) => parsed.set(toInvocation(args)))
