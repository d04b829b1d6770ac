/**
 * pipeline.json: the whole description of a run, as one effect/Schema. Every
 * field carries its default and its `--help` line (`field`/`section`), so a
 * file lists only what it changes; unknown fields are errors (a typo never
 * silently falls back to a default). The stage names and the option sections
 * the stages read come from the stage registry. The defaults are the official
 * MNIST configuration (jianwen-xie/CoopNets, main.py).
 */
import { type Effect, Schema } from "effect"
import { architectures } from "../../models/nets.js"
import { field, NonNegative, NonNegativeInt, Positive, PositiveInt, section } from "../../stages/options.js"
import { stageNames, stageSections, variantsOf } from "../../stages/registry.js"
import type { ConfigError } from "../errors.js"
import { DataSpec } from "./data-spec.js"
import { EvaluationSpec } from "./evaluation-spec.js"
import { decodeLayered } from "./layered-json.js"
import { type RecoveryEntry, RecoverySection } from "./recovery-spec.js"

const Probability = Schema.Finite.check(Schema.isBetween({ minimum: 0, maximum: 1, exclusiveMaximum: true }))
const Fraction = Schema.Finite.check(Schema.isBetween({ minimum: 0, maximum: 1 }))
/** Layer widths; how many depends on the architecture (checked by `checkArchitecture`). */
const Channels = Schema.Array(PositiveInt).check(Schema.isMinLength(1))

const adam = (net: string, learningRate: number) =>
  section(
    {
      learningRate: field(Positive, learningRate, `Adam learning rate of the ${net}`),
      beta1: field(Probability, 0.5, "Adam's decay of the first moment"),
      beta2: field(Probability, 0.999, "Adam's decay of the second moment"),
      epsilon: field(Positive, 1e-8, "Adam's epsilon"),
      weightDecay: field(
        NonNegative,
        0,
        "decoupled weight decay λ (AdamW): every parameter shrinks by 1 − lr·λ before each step; 0: none",
      ),
    },
    `the ${net}'s optimiser`,
  )

export const BackendChoice = Schema.Literals(["auto", "tensorflow-gpu", "tensorflow", "wasm", "cpu"])
export type BackendChoice = typeof BackendChoice.Type

const stageChoice = <S extends keyof typeof stageNames>(slot: S, description: string) =>
  field(Schema.Literals(stageNames[slot]), stageNames[slot][0] as (typeof stageNames)[S][number], description)

export const PipelineSpec = Schema.Struct({
  notes: field(
    Schema.String,
    "",
    "free text for people: what the configuration is for, which knob to turn (not read by the pipeline)",
  ),
  name: field(
    Schema.String.check(Schema.isNonEmpty()),
    "mnist",
    "run name; the run directory defaults to runs/<name>",
  ),
  seed: field(
    // random keys are 32-bit (models/random.ts rootKey): a larger seed would alias a smaller one
    Schema.Number.check(
      Schema.makeFilter((n: number) => Number.isInteger(n), { expected: "a whole number" }, true),
      Schema.isBetween(
        { minimum: 0, maximum: 2 ** 32 - 1 },
        {
          expected: `a seed from 0 to ${2 ** 32 - 1} (random keys are 32-bit: a larger seed would repeat a smaller one)`,
        },
      ),
    ),
    1,
    "every random draw derives from it: same seed, same backend → identical checkpoints",
  ),
  backend: field(BackendChoice, "auto", '"auto" | "tensorflow-gpu" | "tensorflow" | "wasm" | "cpu"'),
  data: DataSpec,
  model: section(
    {
      arch: field(
        Schema.Literals(Object.keys(architectures) as Array<keyof typeof architectures>),
        "mnist",
        '"mnist": the official 28x28 nets | "mnistConditional": class-conditional 28x28 | "object64": 64x64 objects/scenes | "cifar32": 32x32 CIFAR-10 | "texture": fully convolutional, any size | "textureOfficial": the texture nets of the official draft | "dynamicTexture": spatial-temporal nets for videos (3-D convolutions)',
      ),
      descriptorChannels: field(
        Channels,
        [64, 128, 256],
        "widths of the descriptor's conv layers (how many: per model.arch)",
      ),
      descriptorUnits: field(PositiveInt, 100, "units of the descriptor's last layer; f(X) is their sum"),
      zDim: field(
        PositiveInt,
        100,
        "latent dimension of the generator (texture: channels of its latent map)",
      ),
      generatorChannels: field(Channels, [512, 256, 128], "widths of the generator's transposed convs"),
    },
    "the nets",
  ),
  stages: section(
    {
      chains: stageChoice("chains", "where the descriptor's chains start"),
      revise: stageChoice("revise", "how the chains are revised"),
      updateDescriptor: stageChoice("updateDescriptor", "how the descriptor learns"),
      teach: stageChoice("teach", "how the generator learns"),
    },
    "the stage variant of each slot (the ablations)",
  ),
  ...stageSections,
  generatorSigma: field(Positive, 0.3, "σ of the generator's noise ε (scales the teaching loss)"),
  generatorAverage: section(
    {
      decay: field(
        Probability,
        0,
        "β of θ̄ ← β_t·θ̄ + (1 − β_t)·θ after every step, β_t = min(β, (1 + t)/(10 + t)); 0: no average",
      ),
    },
    "an exponential moving average of the generator's weights, kept in checkpoints; sample, evaluate, interpolate and complete use it by default",
  ),
  optimizer: section(
    {
      descriptor: adam("descriptor", 0.007),
      generator: adam("generator", 0.0001),
      schedule: section(
        {
          after: field(
            Fraction,
            1,
            "the share of training.iterations after which both learning rates start to fall (1: they never do)",
          ),
          final: field(
            Fraction,
            0.1,
            "the factor on both learning rates at the last iteration, reached along a half cosine from `after`",
          ),
        },
        "both learning rates held, then lowered towards the end of training",
      ),
    },
    "Adam for both nets",
  ),
  training: section(
    {
      iterations: field(PositiveInt, 550, "cooperative iterations to run"),
      batchSize: field(PositiveInt, 100, "observed images per iteration"),
      chains: field(PositiveInt, 144, "synthesised images per iteration (drafts = chains)"),
    },
    "the training budget",
  ),
  output: section(
    {
      sampleEvery: field(
        PositiveInt,
        50,
        "PNG grids of drafts and revisions every N iterations (and at the last)",
      ),
      checkpointEvery: field(NonNegativeInt, 0, "checkpoint every N iterations (0: only the final one)"),
      logEvery: field(PositiveInt, 10, "progress line every N iterations"),
      keepCheckpoints: field(
        PositiveInt,
        3,
        "iter-NNNNNN checkpoints kept (the newest; final is always kept)",
      ),
      report: field(
        Schema.Boolean,
        true,
        "report.html: curves, sample grids and facts, rewritten while the run trains and at the end",
      ),
      tensorboard: field(
        Schema.Boolean,
        true,
        "TensorBoard event files in tensorboard/: scalars every iteration, grids as images, the config",
      ),
    },
    "what the run writes, and how often",
  ),
  buffers: section(
    {
      batches: field(PositiveInt, 2, "observed batches prepared ahead of compute"),
      writes: field(PositiveInt, 4, "pending file writes (grids, checkpoints) before compute waits"),
    },
    "bounded buffers between the stages and the writer",
  ),
  recovery: RecoverySection,
  evaluation: Schema.optionalKey(EvaluationSpec),
})

export type PipelineSpec = typeof PipelineSpec.Type

/** `spec` after the recovery `entry`: the setting it lowered at its new value, the entry recorded. */
export const afterRecovery = (spec: PipelineSpec, entry: RecoveryEntry): PipelineSpec => {
  const recovery = { ...spec.recovery, recovered: [...spec.recovery.recovered, entry] }
  switch (entry.field) {
    case "langevin.stepSize":
      return { ...spec, recovery, langevin: { ...spec.langevin, stepSize: entry.to } }
    case "optimizer.descriptor.learningRate":
    case "optimizer.generator.learningRate": {
      const net = entry.field === "optimizer.descriptor.learningRate" ? "descriptor" : "generator"
      return {
        ...spec,
        recovery,
        optimizer: { ...spec.optimizer, [net]: { ...spec.optimizer[net], learningRate: entry.to } },
      }
    }
  }
}

/** Every field at its default: the official MNIST configuration, 550 iterations. */
export const specDefaults: PipelineSpec = Schema.decodeUnknownSync(PipelineSpec)({})

/** The stage variants of every slot, for `--help`. */
export const stageChoices = (["chains", "revise", "updateDescriptor", "teach"] as const).map((slot) => ({
  slot,
  variants: variantsOf(slot).map((v) => ({ name: v.name, summary: v.summary })),
}))

/**
 * Decodes the text of a pipeline file with command-line overrides on top.
 * `source` names the file in error messages.
 */
export const decodeSpec = (
  text: string,
  source: string,
  overrides: ReadonlyArray<string> = [],
): Effect.Effect<PipelineSpec, ConfigError> =>
  decodeLayered(PipelineSpec, text, source, overrides, {
    what: "pipeline fields",
    example: '{"name": "mnist", "training": {"iterations": 100}}',
  })

/** A spec stored earlier (config.json, a checkpoint's manifest), decoded with today's defaults. */
export const decodeStoredSpec = (value: unknown) =>
  Schema.decodeUnknownEffect(PipelineSpec, { errors: "all", onExcessProperty: "error" })(value)
