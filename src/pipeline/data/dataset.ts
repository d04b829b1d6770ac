/** The observed images a spec names, decoded once into a Float32 cache: one loader per `data.source`. */
import { Effect, type FileSystem } from "effect"
import type { Dataset } from "../../stages/load.js"
import type { DataSpec } from "../config/data-spec.js"
import { DataError } from "../errors.js"
import { loadCifar10 } from "./cifar10.js"
import { loadFolder } from "./folder.js"
import { loadMnist } from "./mnist.js"
import { loadTexture } from "./texture.js"

export interface LoadContext {
  readonly seed: number
  readonly batchSize: number
  /** where to report files that were skipped (one paragraph per call) */
  readonly warn: (line: string) => void
}

const bySource = (
  data: DataSpec,
  c: LoadContext,
): Effect.Effect<Dataset, DataError, FileSystem.FileSystem> => {
  switch (data.source) {
    case "mnist":
      return loadMnist(data.limit, c.seed, data.split)
    case "folder":
      return loadFolder(data, c.warn)
    case "cifar10":
      return loadCifar10(data, c.seed)
    case "texture":
      return loadTexture(data, c.seed)
  }
}

export const loadDataset = (
  data: DataSpec,
  c: LoadContext,
): Effect.Effect<Dataset, DataError, FileSystem.FileSystem> =>
  bySource(data, c).pipe(
    Effect.flatMap((dataset) =>
      dataset.count >= c.batchSize
        ? Effect.succeed(dataset)
        : Effect.fail(
            new DataError({
              message: `data (source "${data.source}") gives ${dataset.count} image${dataset.count === 1 ? "" : "s"} but training.batchSize is ${c.batchSize}; lower training.batchSize to at most ${dataset.count} or add data.`,
            }),
          ),
    ),
  )
