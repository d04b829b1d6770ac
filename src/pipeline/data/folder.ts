/**
 * A folder of images (Exp 2-3 of the paper: objects and scenes): every JPEG,
 * PNG and WebP file under `data.path` (recursively, in sorted order), resized
 * and centre-cropped to size x size, normalised, decoded once into a Float32
 * cache before training starts, so no epoch decodes again and no unreadable
 * file can stop a run halfway. Unreadable files are skipped and reported by
 * name, or with `data.strict` stop the run before it starts.
 */
import * as nodePath from "node:path"
import { Effect, FileSystem } from "effect"
import type { Dataset } from "../../stages/load.js"
import type { FolderData } from "../config/data-spec.js"
import { DataError } from "../errors.js"
import { decodeImage, linearScale, minMaxScale, type RawImage, reasonOf } from "./decode.js"

export const IMAGE_EXTENSIONS = /\.(jpe?g|png|webp)$/i

/** Files decoded in parallel (sharp works on libuv's thread pool). */
const CONCURRENCY = 4

export const loadFolder = (
  data: typeof FolderData.Type,
  warn: (line: string) => void,
): Effect.Effect<Dataset, DataError, FileSystem.FileSystem> =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const names = yield* fs.readDirectory(data.path, { recursive: true }).pipe(
      Effect.mapError(
        () =>
          new DataError({
            message: `data.path: ${data.path} is not a readable folder. Set data.path to a folder of JPEG, PNG or WebP images (searched recursively).`,
          }),
      ),
    )
    const files = names
      .filter((n) => IMAGE_EXTENSIONS.test(n))
      .sort()
      .map((n) => nodePath.join(data.path, n))
    if (files.length === 0)
      return yield* new DataError({
        message: `data.path: ${data.path} holds no .jpg, .jpeg, .png or .webp files (searched recursively). Point data.path at a folder of images.`,
      })
    const decoded = yield* Effect.forEach(
      files,
      (file) =>
        Effect.tryPromise({
          try: () =>
            decodeImage(file, { channels: data.channels, cover: { width: data.size, height: data.size } }),
          catch: reasonOf,
        }).pipe(Effect.result),
      { concurrency: CONCURRENCY },
    )
    const good: Array<RawImage> = []
    const bad: Array<string> = []
    decoded.forEach((r, i) => {
      if (r._tag === "Success") good.push(r.success)
      else bad.push(`${files[i]} (${r.failure})`)
    })
    if (bad.length > 0 && data.strict)
      return yield* new DataError({
        message: `data.path: ${bad[0]} cannot be decoded as an image${bad.length > 1 ? `, nor can ${bad.length - 1} more` : ""}. Fix or remove it, or set data.strict to false to skip unreadable files.`,
      })
    if (bad.length > 0)
      warn(
        `data.path: skipped ${bad.length} of ${files.length} files that cannot be decoded as images: ${bad.join(", ")}. Fix or remove them, or set data.strict to true to stop on such files.`,
      )
    if (good.length === 0)
      return yield* new DataError({
        message: `data.path: none of the ${files.length} image files under ${data.path} can be decoded. Check that they are JPEG, PNG or WebP images.`,
      })
    const size = data.size * data.size * data.channels
    const images = new Float32Array(good.length * size)
    const scale = data.normalize === "minmax" ? minMaxScale : linearScale
    good.forEach((img, i) => {
      scale(img.pixels, images, i * size)
    })
    return {
      images,
      labels: new Int32Array(good.length),
      count: good.length,
      shape: [data.size, data.size, data.channels] as const,
    }
  })
