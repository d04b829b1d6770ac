/**
 * pipeline.json: the whole description of a run. A user's file is laid over
 * `defaults` (the official MNIST configuration), then decoded with
 * effect/Schema; every problem is reported at once with its JSON path, and
 * unknown fields are errors (a typo never silently falls back to a default).
 */
import { Effect, Schema, SchemaIssue } from "effect"
import { architectures } from "../models/nets.js"
import { stageNames } from "../stages/registry.js"
import { DataSpec, rebaseData } from "./data-spec.js"
import { closest } from "./did-you-mean.js"
import { ConfigError } from "./errors.js"
import { checkArchitecture } from "./shapes.js"
import { checkStages } from "./stage-combinations.js"

const Int = Schema.Int
const PositiveInt = Int.check(Schema.isGreaterThan(0))
const NonNegativeInt = Int.check(Schema.isGreaterThanOrEqualTo(0))
const Positive = Schema.Finite.check(Schema.isGreaterThan(0))
const Probability = Schema.Finite.check(Schema.isBetween({ minimum: 0, maximum: 1, exclusiveMaximum: true }))
/** Layer widths; how many depends on the architecture (checked by `checkArchitecture`). */
const Channels = Schema.Array(PositiveInt).check(Schema.isMinLength(1))

const Adam = Schema.Struct({
  learningRate: Positive,
  beta1: Probability,
  beta2: Probability,
  epsilon: Positive,
})

export const BackendChoice = Schema.Literals(["auto", "tensorflow-gpu", "tensorflow", "wasm", "cpu"])

export const PipelineSpec = Schema.Struct({
  name: Schema.String.check(Schema.isNonEmpty()),
  seed: NonNegativeInt,
  backend: BackendChoice,
  /** where the observed images come from: a union by `source` (src/pipeline/data-spec.ts) */
  data: DataSpec,
  model: Schema.Struct({
    arch: Schema.Literals(Object.keys(architectures) as Array<keyof typeof architectures>),
    descriptorChannels: Channels,
    descriptorUnits: PositiveInt,
    zDim: PositiveInt,
    generatorChannels: Channels,
  }),
  stages: Schema.Struct({
    chains: Schema.Literals(stageNames.chains),
    revise: Schema.Literals(stageNames.revise),
    updateDescriptor: Schema.Literals(stageNames.updateDescriptor),
    teach: Schema.Literals(stageNames.teach),
  }),
  /** persistent chains (stages.chains "persistent") */
  persistent: Schema.Struct({
    /** fraction of the chains restarted each iteration */
    reinitFraction: Schema.Finite.check(Schema.isBetween({ minimum: 0, maximum: 1 })),
    reinitFrom: Schema.Literals(["noise", "generator"]),
  }),
  langevin: Schema.Struct({
    steps: NonNegativeInt,
    stepSize: Positive,
    refSigma: Positive,
    noise: Schema.Boolean,
  }),
  latentLangevin: Schema.Struct({
    steps: NonNegativeInt,
    stepSize: Positive,
    noise: Schema.Boolean,
  }),
  generatorSigma: Positive,
  optimizer: Schema.Struct({ descriptor: Adam, generator: Adam }),
  training: Schema.Struct({
    iterations: PositiveInt,
    batchSize: PositiveInt,
    chains: PositiveInt,
  }),
  output: Schema.Struct({
    /** write PNG grids of drafts and revisions every N iterations (and at the last) */
    sampleEvery: PositiveInt,
    /** write a checkpoint every N iterations; 0: only the final one */
    checkpointEvery: NonNegativeInt,
    /** print a progress line every N iterations */
    logEvery: PositiveInt,
    /** how many `iter-NNNNNN` checkpoints to keep (the newest; `final` is always kept) */
    keepCheckpoints: Schema.optionalKey(PositiveInt),
  }),
  buffers: Schema.Struct({
    /** observed batches prepared ahead of the compute stages */
    batches: PositiveInt,
    /** pending file writes (PNG grids, checkpoints) before compute waits */
    writes: PositiveInt,
  }),
})

export type PipelineSpec = typeof PipelineSpec.Type

/** The official MNIST configuration (FACTS.md section 2), 550 iterations = one pass over 55,000 digits' worth. */
export const defaults: PipelineSpec = {
  name: "mnist",
  seed: 1,
  backend: "auto",
  data: { source: "mnist", limit: 10000 },
  model: {
    arch: "mnist",
    descriptorChannels: [64, 128, 256],
    descriptorUnits: 100,
    zDim: 100,
    generatorChannels: [512, 256, 128],
  },
  stages: { chains: "generator", revise: "langevin", updateDescriptor: "adam", teach: "mcmc" },
  persistent: { reinitFraction: 0.05, reinitFrom: "noise" },
  langevin: { steps: 15, stepSize: 0.002, refSigma: 0.016, noise: true },
  latentLangevin: { steps: 0, stepSize: 0.1, noise: true },
  generatorSigma: 0.3,
  optimizer: {
    descriptor: { learningRate: 0.007, beta1: 0.5, beta2: 0.999, epsilon: 1e-8 },
    generator: { learningRate: 0.0001, beta1: 0.5, beta2: 0.999, epsilon: 1e-8 },
  },
  training: { iterations: 550, batchSize: 100, chains: 144 },
  output: { sampleEvery: 50, checkpointEvery: 0, logEvery: 10, keepCheckpoints: 3 },
  buffers: { batches: 2, writes: 4 },
}

type Json = null | boolean | number | string | ReadonlyArray<Json> | { readonly [key: string]: Json }

const isObject = (u: unknown): u is Record<string, unknown> =>
  typeof u === "object" && u !== null && !Array.isArray(u)

/** Lays `over` onto `base`: objects merge key by key, everything else replaces. */
export const layer = (base: unknown, over: unknown): unknown => {
  if (!isObject(base) || !isObject(over)) return over
  const out: Record<string, unknown> = { ...base }
  for (const [k, v] of Object.entries(over)) out[k] = k in base ? layer(base[k], v) : v
  return out
}

/** `a.b.c=value`: value is parsed as JSON when it parses, else taken as a string. */
export const parseOverride = (
  assignment: string,
): { readonly path: ReadonlyArray<string>; readonly value: Json } => {
  const eq = assignment.indexOf("=")
  if (eq <= 0) throw new Error(`--set expects path.to.field=value, got "${assignment}"`)
  const path = assignment.slice(0, eq).split(".")
  const raw = assignment.slice(eq + 1)
  let value: Json
  try {
    value = JSON.parse(raw) as Json
  } catch {
    value = raw
  }
  return { path, value }
}

const nest = (path: ReadonlyArray<string>, value: Json): Json =>
  path.reduceRight<Json>((inner, key) => ({ [key]: inner }), value)

type PathSegment = PropertyKey | { readonly key: PropertyKey }

const formatPath = (path: ReadonlyArray<PathSegment>): string =>
  path.length === 0 ? "(top level)" : path.map((p) => String(typeof p === "object" ? p.key : p)).join(".")

const keyOf = (p: PathSegment | undefined): PropertyKey | undefined => (typeof p === "object" ? p.key : p)

const valueAt = (root: unknown, path: ReadonlyArray<PathSegment>): unknown =>
  path.reduce<unknown>((node, p) => {
    const key = typeof p === "object" ? p.key : p
    return isObject(node) || Array.isArray(node) ? (node as Record<PropertyKey, unknown>)[key] : undefined
  }, root)

const standardFormatter = SchemaIssue.makeFormatterStandardSchemaV1()

/**
 * Decodes the text of a pipeline file with command-line overrides on top.
 * `source` names the file in error messages.
 */
export const decodeSpec = (
  text: string,
  source: string,
  overrides: ReadonlyArray<string> = [],
): Effect.Effect<PipelineSpec, ConfigError> =>
  Effect.gen(function* () {
    let user: unknown
    try {
      user = JSON.parse(text)
    } catch (e) {
      return yield* new ConfigError({
        message: `${source} is not valid JSON: ${(e as Error).message}. Fix the syntax (a trailing comma or a missing quote is the usual cause) and run again.`,
      })
    }
    if (!isObject(user))
      return yield* new ConfigError({
        message: `${source} must hold a JSON object of pipeline fields, e.g. {"name": "mnist", "training": {"iterations": 100}}.`,
      })
    const rebased = rebaseData(defaults, user, overrides)
    let merged = layer(rebased.base, rebased.user)
    for (const assignment of overrides) {
      try {
        const { path, value } = parseOverride(assignment)
        merged = layer(merged, nest(path, value))
      } catch (e) {
        return yield* new ConfigError({ message: `${(e as Error).message}.` })
      }
    }
    return yield* Schema.decodeUnknownEffect(PipelineSpec, { errors: "all", onExcessProperty: "error" })(
      merged,
    ).pipe(
      Effect.mapError((error) => {
        const issues = standardFormatter(error.issue).issues
        const lines = issues.map((i) => {
          const path = i.path ?? []
          if (i.message === "Expected no excess property") {
            const known = valueAt(rebased.base, path.slice(0, -1))
            const near = closest(String(keyOf(path.at(-1))), isObject(known) ? Object.keys(known) : [])
            const parent = path.length > 1 ? `${formatPath(path.slice(0, -1))}.` : ""
            return `  - ${formatPath(path)}: unknown field${near === undefined ? "" : `; did you mean ${parent}${near}?`}`
          }
          const got = valueAt(merged, path)
          return `  - ${formatPath(path)}: ${i.message}${got === undefined ? "" : `, got ${JSON.stringify(got)}`}`
        })
        const origin = overrides.length > 0 ? `${source} (with --set ${overrides.join(", ")})` : source
        return new ConfigError({
          message: `${origin}: ${issues.length} problem${issues.length === 1 ? "" : "s"}\n${lines.join("\n")}\nFix ${issues.length === 1 ? "this field" : "these fields"} and run again; \`node dist/run.js --help\` lists every field and its default.`,
        })
      }),
    )
  })

/** A run name that stays one directory below runs/ (no "/", "..", or leading "."). */
const SAFE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/

/** Cross-field checks that the Schema cannot express, made before any work starts. */
export const checkSpec = (spec: PipelineSpec, source: string): Effect.Effect<PipelineSpec, ConfigError> =>
  !SAFE_NAME.test(spec.name)
    ? Effect.fail(
        new ConfigError({
          message: `${source}: name ${JSON.stringify(spec.name)} cannot name a run directory (runs/<name>): use letters, digits, ".", "_" and "-" only, starting with a letter or digit, so that outputs stay inside runs/.`,
        }),
      )
    : spec.data.source === "mnist" && spec.training.batchSize > spec.data.limit
      ? Effect.fail(
          new ConfigError({
            message: `${source}: training.batchSize (${spec.training.batchSize}) is larger than data.limit (${spec.data.limit}); lower the batch size or use more data.`,
          }),
        )
      : checkArchitecture(spec, source).pipe(Effect.andThen(checkStages(spec, source)))
