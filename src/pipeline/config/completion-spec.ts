/**
 * completion.json: what `complete` recovers, from which trained run, under
 * which masks and with how much inference. Laid over `completionDefaults`
 * like pipeline.json over its defaults (unknown fields are errors).
 */
import type { Effect } from "effect"
import { Schema } from "effect"
import type { ConfigError } from "../errors.js"
import { decodeLayered } from "./layered-json.js"

const PositiveInt = Schema.Int.check(Schema.isGreaterThan(0))
const NonNegativeInt = Schema.Int.check(Schema.isGreaterThanOrEqualTo(0))
const Positive = Schema.Finite.check(Schema.isGreaterThan(0))
const Path = Schema.String.check(Schema.isNonEmpty())

/** The images to complete. */
export const CompletionImages = Schema.Union([
  /** MNIST runs: the first `count` of the 1,000 digits held out of training (data.split "train") */
  Schema.Struct({ source: Schema.Literal("held-out"), count: PositiveInt }),
  /** the first `count` images of a folder (sorted), resized and centre-cropped to the run's image size */
  Schema.Struct({ source: Schema.Literal("folder"), path: Path, count: PositiveInt }),
  /** an N×H×W or N×H×W×C float32 .npy in [0, 1] (what `sample` writes) */
  Schema.Struct({ source: Schema.Literal("npy"), path: Path, count: PositiveInt }),
])

export const MaskSpec = Schema.Union([
  /** a size x size square hidden in every image, centred or at a seeded random position per image */
  Schema.Struct({
    kind: Schema.Literal("square"),
    size: PositiveInt,
    /** default "center" */
    position: Schema.optionalKey(Schema.Literals(["center", "random"])),
  }),
  /** one mask image for every image, the run's size: white (≥ 128) visible, black hidden */
  Schema.Struct({ kind: Schema.Literal("image"), path: Path }),
])
export type MaskSpec = typeof MaskSpec.Type

export const CompletionSpec = Schema.Struct({
  /** a run directory (its checkpoints/final) or a checkpoint directory */
  checkpoint: Path,
  images: CompletionImages,
  masks: Schema.Array(MaskSpec).check(Schema.isMinLength(1)),
  /** inferring z from the visible pixels */
  inference: Schema.Struct({
    restarts: PositiveInt,
    steps: NonNegativeInt,
    stepSize: Positive,
    /** Langevin (true) or gradient descent (false) */
    noise: Schema.Boolean,
  }),
  /** descriptor Langevin on the hidden pixels after the generator's fill (0 steps: none) */
  refine: Schema.Struct({ steps: NonNegativeInt, stepSize: Positive }),
  /** images per batch (the generator's batch norm uses batch statistics); 0: the run's training.chains */
  batchSize: NonNegativeInt,
  /** images shown in each triplets.png */
  show: PositiveInt,
  seed: NonNegativeInt,
})
export type CompletionSpec = typeof CompletionSpec.Type

export const completionDefaults: CompletionSpec = {
  checkpoint: "runs/mnist-quick",
  images: { source: "held-out", count: 100 },
  masks: [
    { kind: "square", size: 12, position: "center" },
    { kind: "square", size: 16, position: "center" },
    { kind: "square", size: 20, position: "center" },
  ],
  inference: { restarts: 3, steps: 50, stepSize: 0.1, noise: true },
  refine: { steps: 0, stepSize: 0.002 },
  batchSize: 0,
  show: 10,
  seed: 0,
}

const imagesDefaults = {
  "held-out": { source: "held-out", count: 100 },
  folder: { source: "folder", path: "", count: 100 },
  npy: { source: "npy", path: "", count: 100 },
} as const

/** A file that names another image source gets that source's defaults, not held-out's fields. */
const rebaseImages = (base: unknown, user: Record<string, unknown>) => {
  const images = user.images
  const source =
    typeof images === "object" && images !== null && "source" in images ? String(images.source) : undefined
  return source !== undefined && source in imagesDefaults
    ? {
        base: { ...(base as object), images: imagesDefaults[source as keyof typeof imagesDefaults] },
        user,
      }
    : { base, user }
}

export const decodeCompletionSpec = (
  text: string,
  source: string,
  overrides: ReadonlyArray<string>,
): Effect.Effect<CompletionSpec, ConfigError> =>
  decodeLayered(CompletionSpec, completionDefaults, text, source, overrides, {
    what: "completion fields",
    example:
      '{"checkpoint": "runs/mnist-quick", "masks": [{"kind": "square", "size": 14, "position": "center"}]}',
    rebase: rebaseImages,
  })

/** A short name for a mask, used as its output folder and table row. */
export const maskName = (mask: MaskSpec): string =>
  mask.kind === "square"
    ? `square${mask.size}-${mask.position ?? "center"}`
    : `mask-${mask.path.replace(/^.*[/\\]/, "").replace(/\.[^.]*$/, "")}`
