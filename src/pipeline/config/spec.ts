/**
 * pipeline.json: the whole description of a run. A user's file is laid over
 * `defaults` (the official MNIST configuration), then decoded with
 * effect/Schema; every problem is reported at once with its JSON path, and
 * unknown fields are errors (a typo never silently falls back to a default).
 */
import { Effect, Schema } from "effect"
import { architectures } from "../../models/nets.js"
import { stageNames } from "../../stages/registry.js"
import { ConfigError } from "../errors.js"
import { DataSpec, rebaseData } from "./data-spec.js"
import { checkEvaluation, EvaluationSpec } from "./evaluation-spec.js"
import { decodeLayered } from "./layered-json.js"
import { checkArchitecture } from "./shapes.js"
import { checkStages } from "./stage-checks.js"

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
  /** sample quality every N iterations, logged to metrics.jsonl (optional; src/pipeline/evaluation-spec.ts) */
  evaluation: Schema.optionalKey(EvaluationSpec),
})

export type PipelineSpec = typeof PipelineSpec.Type

/** The official MNIST configuration (FACTS.md section 2), 550 iterations = one pass over 55,000 digits' worth. */
export const defaults: PipelineSpec = {
  name: "mnist",
  seed: 1,
  backend: "auto",
  data: { source: "mnist", split: "train", limit: 9000 },
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

/**
 * Decodes the text of a pipeline file with command-line overrides on top.
 * `source` names the file in error messages.
 */
export const decodeSpec = (
  text: string,
  source: string,
  overrides: ReadonlyArray<string> = [],
): Effect.Effect<PipelineSpec, ConfigError> =>
  decodeLayered(PipelineSpec, defaults, text, source, overrides, {
    what: "pipeline fields",
    example: '{"name": "mnist", "training": {"iterations": 100}}',
    rebase: (base, user) => rebaseData(base, user, overrides),
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
      : checkArchitecture(spec, source).pipe(
          Effect.andThen(checkStages(spec, source)),
          Effect.andThen(checkEvaluation(spec, source)),
        )
