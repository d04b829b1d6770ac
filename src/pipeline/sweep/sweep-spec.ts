/**
 * sweep.json: a grid of runs around one pipeline file.
 *
 *   {
 *     "name": "ablations",                      runs go to runs/<name>/<run id>/
 *     "base": "mnist-quick.json",               the pipeline every run starts from (relative to this file)
 *     "set": { "training.iterations": 300 },    overrides of every run
 *     "variants": {                             named stage swaps (the ablations), each a set of overrides
 *       "cooperative": {},
 *       "descriptor-alone": { "stages.chains": "noise", "stages.teach": "none" }
 *     },
 *     "grid": { "langevin.steps": [10, 15] },   field → values: every combination is run
 *     "seeds": [1, 2, 3],                       every variant × grid point with each seed
 *     "resources": { "cpus": 2, "memoryMb": 4000, "time": "2:00:00" }   per run, for SLURM
 *   }
 *
 * Overrides are `--set` assignments written as JSON (dotted field path → value), so a field is
 * varied exactly as `node dist/run.js base.json --set path=value` would set it; whether the
 * paths exist and the values fit is checked by decoding every expanded run's pipeline.
 * Decoded with effect/Schema through the project's layered JSON decoding: every problem at
 * once, with its path; unknown fields are errors.
 */
import { Effect, Schema } from "effect"
import { field, NonNegativeInt, PositiveInt, section } from "../../stages/options.js"
import { decodeLayered } from "../config/layered-json.js"
import { ConfigError } from "../errors.js"

/** A name that stays one directory level (runs/<sweep>/, run ids): letters, digits, ".", "_", "-". */
const SAFE = /^[A-Za-z0-9][A-Za-z0-9._-]*$/
const SafeName = Schema.String.check(
  Schema.isPattern(SAFE, {
    expected: 'a name of letters, digits, ".", "_" and "-", starting with a letter or digit',
  }),
)
/** A pipeline field as `--set` names it: `training.iterations`, `optimizer.descriptor.learningRate` (checked by `checkSweep`). */
const FIELD_PATH = /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$/
const Overrides = Schema.Record(Schema.String, Schema.Json)
/** SLURM's --time formats: M, M:S, H:M:S, D-H, D-H:M, D-H:M:S. */
const SLURM_TIME = /^(\d+|\d+:\d{1,2}|\d+:\d{1,2}:\d{1,2}|\d+-\d+|\d+-\d+:\d{1,2}|\d+-\d+:\d{1,2}:\d{1,2})$/
const NonEmpty = Schema.String.check(Schema.isNonEmpty())

export const Resources = section(
  {
    cpus: field(
      PositiveInt,
      1,
      "cores per run: SLURM --cpus-per-task, TensorFlow's thread count, and what the local engine divides the cores by",
    ),
    memoryMb: field(PositiveInt, 4000, "memory per run in MB (SLURM --mem)"),
    time: Schema.optionalKey(
      Schema.String.check(
        Schema.isPattern(SLURM_TIME, { expected: 'a SLURM time such as "90", "2:00:00" or "1-12:00:00"' }),
      ).annotate({
        description:
          'wall-time limit per task (SLURM --time: "M", "H:M:S", "D-H:M:S"); none: the partition\'s',
      }),
    ),
    partition: Schema.optionalKey(
      NonEmpty.annotate({ description: "SLURM partition; none: the cluster's default" }),
    ),
    account: Schema.optionalKey(
      NonEmpty.annotate({ description: "SLURM account to charge; none: the user's default" }),
    ),
    gpus: field(NonNegativeInt, 0, "GPUs per run (SLURM --gres=gpu:N)"),
    maxConcurrent: Schema.optionalKey(
      PositiveInt.annotate({ description: "at most this many array tasks at once (SLURM --array=…%N)" }),
    ),
    checkpointBeforeLimit: field(
      PositiveInt,
      120,
      "with a time limit: seconds before it at which a task stops its run at a checkpoint and requeues itself",
    ),
  },
  "what each run asks of the engine",
)
export type Resources = typeof Resources.Type

/** Sample quality of each finished run, by `node dist/run.js evaluate` (MNIST classifier: FD, IS, …). */
export const SweepEvaluation = Schema.Struct({
  samples: field(Schema.Int.check(Schema.isGreaterThanOrEqualTo(2)), 1000, "images drawn per run"),
  sampler: field(
    Schema.Literals(["chains", "generator"]),
    "chains",
    '"chains": as the run\'s own chains and revise stages made them in training (the fair sampler for ablations) | "generator": g(z), then `langevin` descriptor steps',
  ),
  langevin: field(NonNegativeInt, 0, 'sampler "generator": descriptor Langevin steps after g(z)'),
  seed: field(NonNegativeInt, 0, "the sampling seed"),
}).annotate({
  description:
    "evaluate every finished run (node dist/run.js evaluate <run> …) into <run>/evaluation/; none: no evaluation",
})
export type SweepEvaluation = typeof SweepEvaluation.Type

export const SweepFile = Schema.Struct({
  name: Schema.optionalKey(
    SafeName.annotate({
      description: "the sweep's directory: runs/<name>/ (default: the sweep file's base name)",
    }),
  ),
  base: NonEmpty.annotate({
    description: "the pipeline file every run starts from, relative to the sweep file",
  }),
  set: field(Overrides, {}, "overrides of every run: field path → value, as --set writes them"),
  variants: field(
    Schema.Record(SafeName, Overrides),
    {},
    "named stage swaps (the ablations): name → overrides; none: one unnamed variant",
  ),
  grid: field(
    Schema.Record(Schema.String, Schema.Array(Schema.Json).check(Schema.isMinLength(1))),
    {},
    "field path → values: every combination is run, the first field varying slowest",
  ),
  seeds: Schema.optionalKey(
    Schema.Array(NonNegativeInt)
      .check(Schema.isMinLength(1))
      .annotate({ description: "every variant × grid point with each seed; none: the base pipeline's seed" }),
  ),
  resources: Resources,
  evaluate: Schema.optionalKey(SweepEvaluation),
})

/** A decoded sweep file, its name filled in. */
export type SweepSpec = Omit<typeof SweepFile.Type, "name"> & { readonly name: string }

/** Seconds in a SLURM time limit (M, M:S, H:M:S, D-H, D-H:M, D-H:M:S). */
export const slurmSeconds = (time: string): number => {
  const [days, rest] = time.includes("-") ? (time.split("-") as [string, string]) : [undefined, time]
  const parts = rest.split(":").map(Number)
  if (days !== undefined) {
    const [h = 0, m = 0, s = 0] = parts
    return ((Number(days) * 24 + h) * 60 + m) * 60 + s
  }
  if (parts.length === 1) return (parts[0] as number) * 60
  if (parts.length === 2) return (parts[0] as number) * 60 + (parts[1] as number)
  const [h = 0, m = 0, s = 0] = parts
  return (h * 60 + m) * 60 + s
}

/** `a` names `b` or a field inside it (or the other way round): both would set the same value. */
const overlaps = (a: string, b: string): boolean => a === b || a.startsWith(`${b}.`) || b.startsWith(`${a}.`)

/** Fields the sweep sets itself: a run's name is its id, seeds come from `seeds`. */
const RESERVED: Readonly<Record<string, string>> = {
  name: "the sweep names every run after its id",
  seed: 'list the seeds under "seeds" instead',
}

/** What the Schema cannot say: fields set in two places, reserved fields, a grace longer than the limit. */
export const checkSweep = (spec: SweepSpec, source: string): Effect.Effect<SweepSpec, ConfigError> => {
  const problems: Array<string> = []
  const places: Array<readonly [string, ReadonlyArray<string>]> = [
    ["set", Object.keys(spec.set)],
    ["grid", Object.keys(spec.grid)],
    ...Object.entries(spec.variants).map(([name, o]) => [`variants.${name}`, Object.keys(o)] as const),
  ]
  for (const [place, fields] of places)
    for (const field of fields) {
      if (!FIELD_PATH.test(field))
        problems.push(
          `${place}.${field}: not a pipeline field path; write fields as --set names them, e.g. "training.iterations"`,
        )
      const reserved = Object.entries(RESERVED).find(([r]) => overlaps(r, field))
      if (reserved !== undefined) problems.push(`${place}.${field}: cannot be set here; ${reserved[1]}`)
    }
  // a grid field also fixed by `set` or by a variant would make that grid axis meaningless
  for (const field of Object.keys(spec.grid))
    for (const [place, fields] of places.filter(([p]) => p !== "grid"))
      for (const other of fields)
        if (overlaps(field, other))
          problems.push(
            `grid.${field}: also set by ${place}.${other}; a field is varied by the grid or fixed, not both`,
          )
  const duplicates = Object.entries(spec.grid).flatMap(([field, values]) => {
    const seen = values.map((v) => JSON.stringify(v))
    return seen.some((v, i) => seen.indexOf(v) !== i) ? [`grid.${field}: a value is listed twice`] : []
  })
  problems.push(...duplicates)
  if (spec.seeds !== undefined && new Set(spec.seeds).size !== spec.seeds.length)
    problems.push("seeds: a seed is listed twice")
  if (
    spec.resources.time !== undefined &&
    slurmSeconds(spec.resources.time) <= spec.resources.checkpointBeforeLimit
  )
    problems.push(
      `resources.checkpointBeforeLimit: ${spec.resources.checkpointBeforeLimit} s is not shorter than resources.time "${spec.resources.time}"`,
    )
  return problems.length === 0
    ? Effect.succeed(spec)
    : Effect.fail(
        new ConfigError({
          message: `${source}: ${problems.length} problem${problems.length === 1 ? "" : "s"}\n${problems.map((p) => `  - ${p}`).join("\n")}\nFix ${problems.length === 1 ? "this field" : "these fields"} and run again.`,
        }),
      )
}

/** The default sweep name: the file's base name (`config/sweep-ablations.json` → `sweep-ablations`). */
const nameOf = (source: string): string => {
  const base = (source.split(/[\\/]/).at(-1) ?? "sweep").replace(/\.json$/, "")
  return SAFE.test(base) ? base : "sweep"
}

/** The `evaluate` command's arguments after the run directory, for a sweep's `evaluate` section. */
export const evaluateArgs = (e: SweepEvaluation): Array<string> => [
  "--n",
  String(e.samples),
  "--sampler",
  e.sampler,
  ...(e.sampler === "generator" ? ["--langevin", String(e.langevin)] : []),
  "--seed",
  String(e.seed),
  "--force",
]

/** Decodes and checks the text of a sweep file (`source` names it in errors). */
export const decodeSweep = (text: string, source: string): Effect.Effect<SweepSpec, ConfigError> =>
  decodeLayered(SweepFile, text, source, [], {
    what: "sweep fields",
    example:
      '{"name": "lr", "base": "mnist-quick.json", "grid": {"optimizer.descriptor.learningRate": [0.007, 0.003]}}',
  }).pipe(Effect.flatMap((file) => checkSweep({ ...file, name: file.name ?? nameOf(source) }, source)))
