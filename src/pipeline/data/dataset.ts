/** The observed images a spec names, decoded once into a Float32 cache: one loader per `data.source`. */
import { Effect, type FileSystem } from "effect"
import type { Dataset } from "../../stages/load.js"
import type { DataSpec } from "../config/data-spec.js"
import { DataError } from "../errors.js"
import { loadCifar10 } from "./cifar10.js"
import { loadFolder } from "./folder.js"
import { loadMnist } from "./mnist.js"
import { loadTexture } from "./texture.js"
import { loadVideo } from "./video.js"

export interface LoadContext {
  readonly seed: number
  readonly batchSize: number
  /** where to report files that were skipped (one paragraph per call) */
  readonly warn: (line: string) => void
}

/** One clip: the one observed example, [frames, size, size, channels]. */
const loadVideoClip = (data: Extract<DataSpec, { source: "video" }>): Effect.Effect<Dataset, DataError> =>
  loadVideo({ ...data, height: data.size, width: data.size }).pipe(
    Effect.map(
      (video): Dataset => ({ images: video.frames, labels: new Int32Array(1), count: 1, shape: video.shape }),
    ),
  )

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
    case "video":
      return loadVideoClip(data)
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
              message: `data (source "${data.source}") gives ${dataset.count} ${data.source === "video" ? "clip" : "image"}${dataset.count === 1 ? "" : "s"} but training.batchSize is ${c.batchSize}; lower training.batchSize to at most ${dataset.count} or add data.`,
            }),
          ),
    ),
  )
