/**
 * Sets of images to evaluate, read whole: a folder of PNG / JPEG / WebP files
 * (searched recursively, sorted by name, all of one size, kept at that size;
 * single-channel when every pixel is grey) or an .npy array of N×H×W or
 * N×H×W×C values in [0, 1] (float32 or float64), the format `sample` writes.
 * Pixels come out in [-1, 1]. Anything else is a DataError naming the file
 * and what was expected.
 */
import * as nodePath from "node:path"
import { Effect, FileSystem } from "effect"
import sharp from "sharp"
import { DataError } from "../errors.js"
import { decodeNpy } from "../run-dir/image-files.js"
import { decodeImage, linearScale, reasonOf } from "./decode.js"
import { IMAGE_EXTENSIONS } from "./folder.js"

export interface ImageSet {
  /** count × h × w × c values in [-1, 1] */
  readonly images: Float32Array
  readonly count: number
  readonly shape: readonly [number, number, number]
}

/** An .npy of N×H×W or N×H×W×C (C = 1 or 3) images → [-1, 1]. */
export const readNpyImages = (file: string): Effect.Effect<ImageSet, DataError, FileSystem.FileSystem> =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const bytes = yield* fs
      .readFile(file)
      .pipe(
        Effect.mapError(
          () => new DataError({ message: `Cannot read ${file}: no such file or not readable.` }),
        ),
      )
    const array = yield* Effect.try({
      try: () => decodeNpy(bytes),
      catch: (e) =>
        new DataError({
          message: `${file}: ${(e as Error).message}. evaluate reads .npy arrays of images as float32 or float64 values in [0, 1] (as \`sample\` writes).`,
        }),
    })
    const [n, h, w, c = 1] = array.shape
    if (
      (array.shape.length !== 3 && array.shape.length !== 4) ||
      (c !== 1 && c !== 3) ||
      n === undefined ||
      h === undefined ||
      w === undefined ||
      n === 0
    )
      return yield* new DataError({
        message: `${file} holds an array of shape (${array.shape.join(", ")}); evaluate expects images as N×H×W or N×H×W×C with C = 1 or 3 and N ≥ 1 (e.g. (1000, 28, 28) for MNIST, as \`sample\` writes).`,
      })
    let lo = Number.POSITIVE_INFINITY
    let hi = Number.NEGATIVE_INFINITY
    let finite = true
    for (const v of array.values) {
      if (!Number.isFinite(v)) {
        finite = false
        break
      }
      if (v < lo) lo = v
      if (v > hi) hi = v
    }
    if (!finite || lo < -1e-6 || hi > 1 + 1e-6)
      return yield* new DataError({
        message: `${file} holds ${finite ? `values from ${lo} to ${hi}` : "NaN or infinite values"}; evaluate expects pixels in [0, 1] (as \`sample\` writes). Rescale the array, e.g. (x + 1) / 2 for values in [-1, 1] or x / 255 for bytes.`,
      })
    const images = array.values.map((v) => Math.min(1, Math.max(0, v)) * 2 - 1)
    return { images, count: n, shape: [h, w, c] as const }
  })

/** Every image file under `dir` (recursively, sorted), decoded at its own size → [-1, 1]. */
export const readFolderImages = (dir: string): Effect.Effect<ImageSet, DataError, FileSystem.FileSystem> =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const names = yield* fs
      .readDirectory(dir, { recursive: true })
      .pipe(Effect.mapError(() => new DataError({ message: `Cannot read folder ${dir}: not readable.` })))
    const files = names
      .filter((n) => IMAGE_EXTENSIONS.test(n))
      .sort()
      .map((n) => nodePath.join(dir, n))
    if (files.length === 0)
      return yield* new DataError({
        message: `${dir} holds no .png, .jpg, .jpeg or .webp files (searched recursively). Pass a folder of images, an .npy file, or a run or checkpoint directory.`,
      })
    const metas = yield* Effect.forEach(
      files,
      (file) =>
        Effect.tryPromise({
          try: () => sharp(file).metadata(),
          catch: (e) =>
            new DataError({
              message: `${file} cannot be decoded as an image (${reasonOf(e)}). Fix or remove it and run again.`,
            }),
        }),
      { concurrency: 4 },
    )
    const first = metas[0] as (typeof metas)[number]
    const odd = metas.findIndex((m) => m.width !== first.width || m.height !== first.height)
    if (odd >= 0)
      return yield* new DataError({
        message: `${files[odd]} is ${metas[odd]?.width}x${metas[odd]?.height} but ${files[0]} is ${first.width}x${first.height}; every image of an evaluated folder must have the same size.`,
      })
    const decoded = yield* Effect.forEach(
      files,
      (file) =>
        Effect.tryPromise({
          try: () => decodeImage(file, { channels: 3 }),
          catch: (e) =>
            new DataError({
              message: `${file} cannot be decoded as an image (${reasonOf(e)}). Fix or remove it and run again.`,
            }),
        }),
      { concurrency: 4 },
    )
    // grey when every pixel of every image has R = G = B (sharp writes single-channel PNGs as RGB)
    const grey = decoded.every(({ pixels }) => {
      for (let i = 0; i < pixels.length; i += 3)
        if (pixels[i] !== pixels[i + 1] || pixels[i] !== pixels[i + 2]) return false
      return true
    })
    const channels = grey ? 1 : 3
    const h = first.height ?? 0
    const w = first.width ?? 0
    const size = h * w * channels
    const images = new Float32Array(files.length * size)
    decoded.forEach((img, i) => {
      linearScale(grey ? img.pixels.filter((_, k) => k % 3 === 0) : img.pixels, images, i * size)
    })
    return { images, count: files.length, shape: [h, w, channels] as const }
  })

/** A folder or an .npy file, by what `location` is. */
export const readImageSet = (location: string): Effect.Effect<ImageSet, DataError, FileSystem.FileSystem> =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const info = yield* fs.stat(location).pipe(
      Effect.mapError(
        () =>
          new DataError({
            message: `${location} does not exist. Pass a run or checkpoint directory, a folder of PNG images, or an .npy file of images in [0, 1].`,
          }),
      ),
    )
    if (info.type === "Directory") return yield* readFolderImages(location)
    if (location.toLowerCase().endsWith(".npy")) return yield* readNpyImages(location)
    return yield* new DataError({
      message: `${location} is neither a folder nor an .npy file. Pass a run or checkpoint directory, a folder of PNG images, or an .npy file of images in [0, 1].`,
    })
  })
