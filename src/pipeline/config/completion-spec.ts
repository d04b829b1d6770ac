/**
 * completion.json: what `complete` recovers, from which trained run, under
 * which masks and with how much inference. Every field has its default in
 * the schema, as in pipeline.json (unknown fields are errors).
 */
import { Effect, Schema } from "effect"
import { field, NonNegativeInt, Positive, PositiveInt, section } from "../../stages/options.js"
import type { ConfigError } from "../errors.js"
import { decodeLayered } from "./layered-json.js"

const Path = Schema.String.check(Schema.isNonEmpty())
const count = field(PositiveInt, 100, "how many images")

/** The images to complete. */
const ImageSources = Schema.Union([
  /** MNIST runs: the first `count` of the 1,000 digits held out of training (data.split "train") */
  Schema.Struct({ source: Schema.Literal("held-out"), count }),
  /** the first `count` images of a folder (sorted), resized and centre-cropped to the run's image size */
  Schema.Struct({ source: Schema.Literal("folder"), path: Path, count }),
  /** an N×H×W or N×H×W×C float32 .npy in [0, 1] (what `sample` writes) */
  Schema.Struct({ source: Schema.Literal("npy"), path: Path, count }),
])
export const CompletionImages = Schema.withDecodingDefaultKey<typeof ImageSources>(
  Effect.succeed({ source: "held-out" }),
)(ImageSources)

export const MaskSpec = Schema.Union([
  /** a size x size square hidden in every image, centred or at a seeded random position per image */
  Schema.Struct({
    kind: Schema.Literal("square"),
    size: PositiveInt,
    position: field(
      Schema.Literals(["center", "random"]),
      "center",
      "centred, or a seeded position per image",
    ),
  }),
  /** one mask image for every image, the run's size: white (≥ 128) visible, black hidden */
  Schema.Struct({ kind: Schema.Literal("image"), path: Path }),
])
export type MaskSpec = typeof MaskSpec.Type

export const CompletionSpec = Schema.Struct({
  checkpoint: field(
    Path,
    "runs/mnist-quick",
    "a run directory (its checkpoints/final) or a checkpoint directory",
  ),
  images: CompletionImages,
  masks: field(
    Schema.Array(MaskSpec).check(Schema.isMinLength(1)),
    [
      { kind: "square", size: 12, position: "center" },
      { kind: "square", size: 16, position: "center" },
      { kind: "square", size: 20, position: "center" },
    ],
    "the masks, each scored separately",
  ),
  inference: section(
    {
      restarts: field(
        PositiveInt,
        3,
        "chains per image (from z ~ N(0, I), or from the bank's best fits); the best fit of the visible pixels is kept",
      ),
      bank: field(
        NonNegativeInt,
        0,
        "start the chains from the latent vectors of the best-fitting of this many generator samples g(z), z ~ N(0, I) (0: from z ~ N(0, I))",
      ),
      starts: field(
        Schema.Literals(["samples", "training"]),
        "samples",
        "where the bank's chains start: the best fits among `bank` generator samples, or among the run's training images encoded by the generator (z inferred from all their pixels by encodeSteps gradient steps from the samples' best fits; cached in the output folder)",
      ),
      encodeSteps: field(
        PositiveInt,
        100,
        'starts "training": gradient steps of z per training image, from the best fit among the bank\'s samples',
      ),
      steps: field(NonNegativeInt, 50, "Langevin (or gradient) steps of z per chain"),
      stepSize: field(Positive, 0.1, "their step size"),
      sigma: Schema.optionalKey(Positive).annotate({
        description:
          "σ weighing the visible-pixel fit against the prior N(0, I) of z; left out: the trained run's generatorSigma",
      }),
      noise: field(Schema.Boolean, true, "Langevin (true) or gradient descent (false)"),
      anneal: field(
        Schema.Boolean,
        false,
        "anneal the step size from stepSize to stepSize/10 along a cosine, the noise to 0 at the last step",
      ),
      average: field(
        PositiveInt,
        1,
        "fill with g(z) combined over this many best-fitting restarts (1: the best one's g(z))",
      ),
      combine: field(
        Schema.Literals(["mean", "median"]),
        "mean",
        "how average combines them: the pixelwise mean, or the median (which minimises the absolute error)",
      ),
    },
    "inferring z from the visible pixels",
  ),
  refine: section(
    {
      steps: field(
        NonNegativeInt,
        0,
        "descriptor Langevin steps on the hidden pixels after the generator's fill",
      ),
      stepSize: Schema.optionalKey(Positive).annotate({
        description: "their step size; left out: the trained run's langevin.stepSize",
      }),
    },
    "descriptor refinement of the hidden pixels (0 steps: none)",
  ),
  batchSize: field(
    NonNegativeInt,
    0,
    "images per batch (the generator's batch norm uses batch statistics); 0: the run's training.chains",
  ),
  classAgreement: field(
    Schema.Boolean,
    true,
    "28x28 grey images: score how often the MNIST classifier of `evaluate` labels a completion as it labels the original (trains and caches the classifier on first use)",
  ),
  show: field(PositiveInt, 10, "images shown in each triplets.png"),
  seed: field(NonNegativeInt, 0, "the seed of masks, order and inference"),
})
export type CompletionSpec = typeof CompletionSpec.Type

export const decodeCompletionSpec = (
  text: string,
  source: string,
  overrides: ReadonlyArray<string>,
): Effect.Effect<CompletionSpec, ConfigError> =>
  decodeLayered(CompletionSpec, text, source, overrides, {
    what: "completion fields",
    example:
      '{"checkpoint": "runs/mnist-quick", "masks": [{"kind": "square", "size": 14, "position": "center"}]}',
  })

/** A short name for a mask, used as its output folder and table row. */
export const maskName = (mask: MaskSpec): string =>
  mask.kind === "square"
    ? `square${mask.size}-${mask.position}`
    : `mask-${mask.path.replace(/^.*[/\\]/, "").replace(/\.[^.]*$/, "")}`
