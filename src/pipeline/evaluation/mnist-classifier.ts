/**
 * The MNIST classifier of the sample-quality evaluation, trained once and
 * cached: `classifier.json` (format tag, architecture, training settings,
 * held-out accuracy, tfjs weights manifest) and `weights.bin` in a directory
 * that appears whole or not at all. A cache trained with other settings or
 * another architecture, or one that cannot be read, is retrained with a
 * warning (it is only a cache; nothing is lost).
 */
import { fileURLToPath } from "node:url"
import * as tf from "@tensorflow/tfjs-core"
import { Effect, FileSystem, Path } from "effect"
import { snapshot, unpack, type WeightSpec } from "../../models/checkpoint.js"
import {
  accuracyOf,
  type Classifier,
  type ClassifierSettings,
  classifierFromValues,
  classifierSpec,
  classifierWeights,
  classify,
  defaultClassifierSettings,
  disposeClassifier,
  trainClassifier,
} from "../../models/classifier.js"
import { loadMnistSplit } from "../data/mnist.js"
import { type DataError, OutputError } from "../errors.js"
import { directoryJob } from "../run-dir/writer.js"

export const CLASSIFIER_FORMAT = "coopnets-mnist-classifier/1"
const MANIFEST = "classifier.json"
const WEIGHTS = "weights.bin"

/** `.cache/mnist-classifier` in the project (whatever the working directory), or `$COOPNETS_CLASSIFIER_DIR`. */
export const defaultClassifierDir = (): string =>
  process.env.COOPNETS_CLASSIFIER_DIR ??
  // this module is src/pipeline/evaluation/*.ts or dist/pipeline/evaluation/*.js: three levels below the project root
  fileURLToPath(new URL("../../../.cache/mnist-classifier", import.meta.url))

/** Where the classifier is cached and how it is (or was) trained. */
export interface ClassifierSource {
  readonly dir: string
  readonly settings: ClassifierSettings
}

export const defaultClassifierSource = (): ClassifierSource => ({
  dir: defaultClassifierDir(),
  settings: defaultClassifierSettings,
})

export interface ClassifierManifest {
  readonly format: typeof CLASSIFIER_FORMAT
  readonly architecture: typeof classifierSpec
  readonly settings: ClassifierSettings
  /** accuracy on the 1,000 held-out digits (mnist split "test") */
  readonly testAccuracy: number
  /** accuracy on the digits it was trained on (without shifts) */
  readonly trainAccuracy: number
  readonly trainDigits: number
  readonly testDigits: number
  readonly trainSeconds: number
  readonly backend: string
  readonly weightsManifest: ReadonlyArray<{
    readonly paths: ReadonlyArray<string>
    readonly weights: ReadonlyArray<WeightSpec>
  }>
}

export interface LoadedClassifier {
  readonly classifier: Classifier
  readonly manifest: ClassifierManifest
  readonly dir: string
  /** trained by this call (false: read from the cache) */
  readonly trained: boolean
}

const same = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b)

/** The cached classifier, or why it cannot be used. */
const readCache = (source: ClassifierSource) =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const file = path.join(source.dir, MANIFEST)
    if (!(yield* fs.exists(file).pipe(Effect.orElseSucceed(() => false)))) return { missing: true } as const
    const text = yield* fs.readFileString(file).pipe(Effect.orElseSucceed(() => undefined))
    let manifest: ClassifierManifest | undefined
    try {
      manifest = text === undefined ? undefined : (JSON.parse(text) as ClassifierManifest)
    } catch {
      manifest = undefined
    }
    if (manifest?.format !== CLASSIFIER_FORMAT)
      return { problem: `${file} is unreadable or not a ${CLASSIFIER_FORMAT} manifest` } as const
    if (!same(manifest.architecture, classifierSpec))
      return { problem: `${file} describes another classifier architecture` } as const
    if (!same(manifest.settings, source.settings))
      return {
        problem: `${file} was trained with other settings (${JSON.stringify(manifest.settings)}, wanted ${JSON.stringify(source.settings)})`,
      } as const
    const entry = manifest.weightsManifest?.[0]
    const weightsFile = path.join(source.dir, entry?.paths?.[0] ?? WEIGHTS)
    const data = yield* fs.readFile(weightsFile).pipe(Effect.orElseSucceed(() => undefined))
    if (entry === undefined || data === undefined)
      return { problem: `${weightsFile} cannot be read` } as const
    try {
      const values = new Map([...unpack({ specs: entry.weights, data })].map(([name, v]) => [name, v.values]))
      return { loaded: { classifier: classifierFromValues(values), manifest } } as const
    } catch (e) {
      return { problem: `${weightsFile} does not fit the manifest (${(e as Error).message})` } as const
    }
  })

/** Trains on the "train" split, measures held-out accuracy, writes the cache directory atomically. */
const trainAndCache = (source: ClassifierSource, log: (line: string) => void) =>
  Effect.gen(function* () {
    const train = yield* loadMnistSplit("train")
    const test = yield* loadMnistSplit("test")
    log(
      `Training the MNIST sample-quality classifier (${source.settings.steps} steps on the ${train.count} "train" digits) into ${source.dir} ...`,
    )
    const started = performance.now()
    const every = Math.max(1, Math.round(source.settings.steps / 3))
    const classifier = trainClassifier(
      train.images,
      train.labels,
      train.count,
      source.settings,
      (step, loss) => {
        if ((step + 1) % every === 0 && step + 1 < source.settings.steps)
          log(`  step ${step + 1}/${source.settings.steps}: loss ${loss.toFixed(3)}`)
      },
    )
    const trainSeconds = (performance.now() - started) / 1000
    const testAccuracy = accuracyOf(classify(classifier, test.images, test.count).probabilities, test.labels)
    const trainAccuracy = accuracyOf(
      classify(classifier, train.images, train.count).probabilities,
      train.labels,
    )
    const weights = snapshot(classifierWeights(classifier))
    const manifest: ClassifierManifest = {
      format: CLASSIFIER_FORMAT,
      architecture: classifierSpec,
      settings: source.settings,
      testAccuracy,
      trainAccuracy,
      trainDigits: train.count,
      testDigits: test.count,
      trainSeconds: Math.round(trainSeconds * 10) / 10,
      backend: tf.getBackend(),
      weightsManifest: [{ paths: [WEIGHTS], weights: weights.specs }],
    }
    yield* directoryJob(source.dir, [
      [WEIGHTS, weights.data],
      [MANIFEST, new TextEncoder().encode(`${JSON.stringify(manifest, null, 2)}\n`)],
    ]).write.pipe(
      Effect.mapError(
        (e) =>
          new OutputError({
            message: `Cannot cache the MNIST classifier in ${source.dir}: ${e.message.replace(/^Cannot write [^:]*: /, "")} Set COOPNETS_CLASSIFIER_DIR to a writable directory.`,
          }),
      ),
      Effect.onError(() => Effect.sync(() => disposeClassifier(classifier))),
    )
    log(
      `MNIST classifier: ${(testAccuracy * 100).toFixed(1)}% on the ${test.count} held-out digits, trained in ${trainSeconds.toFixed(1)} s.`,
    )
    const loaded: LoadedClassifier = { classifier, manifest, dir: source.dir, trained: true }
    return loaded
  })

/**
 * The classifier of `source`: read from its cache directory, else trained and
 * cached. The caller disposes `classifier` (or uses `acquireClassifier`).
 */
export const openClassifier = (
  source: ClassifierSource = defaultClassifierSource(),
  log: (line: string) => void = (line) => process.stderr.write(`${line}\n`),
): Effect.Effect<LoadedClassifier, DataError | OutputError, FileSystem.FileSystem | Path.Path> =>
  Effect.gen(function* () {
    const cached = yield* readCache(source)
    if ("loaded" in cached) {
      const loaded: LoadedClassifier = { ...cached.loaded, dir: source.dir, trained: false }
      return loaded
    }
    if ("problem" in cached) log(`warning: ${cached.problem}; retraining the MNIST classifier.`)
    return yield* trainAndCache(source, log)
  })

/** `openClassifier` as a scoped resource: disposed when the scope closes. */
export const acquireClassifier = (source?: ClassifierSource, log?: (line: string) => void) =>
  Effect.acquireRelease(openClassifier(source, log), (c) =>
    Effect.sync(() => disposeClassifier(c.classifier)),
  )
