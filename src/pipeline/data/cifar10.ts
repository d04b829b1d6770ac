/**
 * CIFAR-10, binary version (Exp 5): `data_batch_*.bin` files of records of
 * 1 label byte + 3072 pixel bytes (the R, G and B planes of a 32x32 image,
 * row-major). Decoded once into a Float32 cache, pixels x / 127.5 − 1. Nothing
 * is downloaded: `data.files` names the files, or folders holding them.
 */
import * as nodePath from "node:path"
import { Effect, FileSystem } from "effect"
import { foldIn, permutation, rootKey } from "../../models/random.js"
import type { Dataset } from "../../stages/load.js"
import type { Cifar10Data } from "../config/data-spec.js"
import { DataError } from "../errors.js"

export const CIFAR_SIDE = 32
const PLANE = CIFAR_SIDE * CIFAR_SIDE
export const CIFAR_RECORD = 1 + 3 * PLANE

const BATCH_FILE = /^data_batch_\d+\.bin$/

/** The files `data.files` names: each entry a file, or a folder whose data_batch_*.bin files are taken in order. */
const expand = (entries: ReadonlyArray<string>) =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const files: Array<string> = []
    for (const entry of entries) {
      const info = yield* fs.stat(entry).pipe(
        Effect.mapError(
          () =>
            new DataError({
              message: `data.files: ${entry} does not exist or cannot be read. Point data.files at the data_batch_*.bin files of CIFAR-10's binary version (or the folder cifar-10-batches-bin that holds them).`,
            }),
        ),
      )
      if (info.type !== "Directory") {
        files.push(entry)
        continue
      }
      const inside = (yield* fs.readDirectory(entry).pipe(Effect.orElseSucceed(() => [] as Array<string>)))
        .filter((n) => BATCH_FILE.test(n))
        .sort()
      if (inside.length === 0)
        return yield* new DataError({
          message: `data.files: the folder ${entry} holds no data_batch_*.bin files. Point data.files at the folder cifar-10-batches-bin of CIFAR-10's binary version, or at the files themselves.`,
        })
      files.push(...inside.map((n) => nodePath.join(entry, n)))
    }
    return files
  })

/** Records of one file → NHWC floats in [-1, 1] and labels. */
export const parseCifarRecords = (
  bytes: Uint8Array,
  images: Float32Array,
  labels: Int32Array,
  first: number,
): void => {
  const count = bytes.length / CIFAR_RECORD
  for (let r = 0; r < count; r++) {
    const base = r * CIFAR_RECORD
    labels[first + r] = bytes[base] as number
    const out = (first + r) * 3 * PLANE
    for (let p = 0; p < PLANE; p++)
      for (let ch = 0; ch < 3; ch++)
        images[out + p * 3 + ch] = (bytes[base + 1 + ch * PLANE + p] as number) / 127.5 - 1
  }
}

export const loadCifar10 = (
  data: typeof Cifar10Data.Type,
  seed: number,
): Effect.Effect<Dataset, DataError, FileSystem.FileSystem> =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const files = yield* expand(data.files)
    const contents: Array<Uint8Array> = []
    for (const file of files) {
      const bytes = yield* fs
        .readFile(file)
        .pipe(
          Effect.mapError(
            (e) => new DataError({ message: `data.files: cannot read ${file} (${e.message}).` }),
          ),
        )
      if (bytes.length === 0 || bytes.length % CIFAR_RECORD !== 0)
        return yield* new DataError({
          message: `data.files: ${file} is ${bytes.length} bytes, not a whole number of CIFAR-10 records (${CIFAR_RECORD} bytes each: 1 label byte and 3072 pixel bytes; a data_batch_*.bin file holds 10000). Use the files of CIFAR-10's binary version, not the Python or MATLAB one.`,
        })
      contents.push(bytes)
    }
    const total = contents.reduce((n, b) => n + b.length / CIFAR_RECORD, 0)
    const all = new Float32Array(total * 3 * PLANE)
    const allLabels = new Int32Array(total)
    let first = 0
    for (const bytes of contents) {
      parseCifarRecords(bytes, all, allLabels, first)
      first += bytes.length / CIFAR_RECORD
    }
    if (data.limit >= total)
      return { images: all, labels: allLabels, count: total, shape: [CIFAR_SIDE, CIFAR_SIDE, 3] as const }
    const size = 3 * PLANE
    const order = permutation(foldIn(rootKey(seed), "subset"), total)
    const images = new Float32Array(data.limit * size)
    const labels = new Int32Array(data.limit)
    for (let i = 0; i < data.limit; i++) {
      const j = order[i] as number
      images.set(all.subarray(j * size, (j + 1) * size), i * size)
      labels[i] = allLabels[j] as number
    }
    return { images, labels, count: data.limit, shape: [CIFAR_SIDE, CIFAR_SIDE, 3] as const }
  })
