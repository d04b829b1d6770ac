/**
 * Sample quality: the metric functions against hand-computed values, the
 * cached classifier (trained here on a tiny budget), the `evaluate` command on
 * an .npy, a folder and a user feature model, its errors, and the training
 * loop's evaluation line in metrics.jsonl.
 */
import { spawnSync } from "node:child_process"
import { mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { NodeServices } from "@effect/platform-node"
import * as tfl from "@tensorflow/tfjs"
import * as tf from "@tensorflow/tfjs-core"
import { Effect } from "effect"
import sharp from "sharp"
import { beforeAll, describe, expect, it } from "vitest"
import { defaultClassifierSettings } from "../../src/models/classifier.js"
import {
  classHistogram,
  fitGaussian,
  fractionBelow,
  frechetDistance,
  type Gaussian,
  histogramEntropy,
  inceptionScore,
  matMul,
  psdSqrt,
  quantile,
  symmetricEigen,
} from "../../src/models/frechet.js"
import { nearestDistances } from "../../src/models/nearest.js"
import { parseArgs } from "../../src/pipeline/commands/cli.js"
import { type EvaluateOptions, evaluate } from "../../src/pipeline/commands/evaluate.js"
import { checkSpec } from "../../src/pipeline/config/checks.js"
import { decodeSpec } from "../../src/pipeline/config/spec.js"
import { loadMnistSplit } from "../../src/pipeline/data/mnist.js"
import { type ClassifierSource, openClassifier } from "../../src/pipeline/evaluation/mnist-classifier.js"
import { prepareMnistReference, sampleQuality } from "../../src/pipeline/evaluation/sample-quality.js"
import { encodeNpy } from "../../src/pipeline/run-dir/image-files.js"
import { train } from "../../src/pipeline/training/train.js"
import { tinySpec, useTestBackend } from "../support.js"

const run = <A, E>(effect: Effect.Effect<A, E, NodeServices.NodeServices>) =>
  Effect.runPromise(effect.pipe(Effect.provide(NodeServices.layer)))
const failure = <A, E extends { message: string }>(effect: Effect.Effect<A, E, NodeServices.NodeServices>) =>
  run(effect.pipe(Effect.flip)).then((e) => e.message)
const scratch = () => mkdtempSync(join(tmpdir(), "coopnets-quality-"))

/** A few Adam steps: enough to exercise caching and every metric, not to classify well. */
const tinySettings = { ...defaultClassifierSettings, steps: 4, batchSize: 16 }
const tinyClassifier: ClassifierSource = { dir: join(scratch(), "classifier"), settings: tinySettings }

const gaussian = (mean: ReadonlyArray<number>, covariance: ReadonlyArray<number>): Gaussian => ({
  dim: mean.length,
  mean: Float64Array.from(mean),
  covariance: Float64Array.from(covariance),
})

/** R·diag(d)·Rᵀ for the 2-D rotation by `angle`. */
const rotated = (angle: number, d: readonly [number, number]): Array<number> => {
  const [c, s] = [Math.cos(angle), Math.sin(angle)]
  return [
    c * c * d[0] + s * s * d[1],
    c * s * (d[0] - d[1]),
    c * s * (d[0] - d[1]),
    s * s * d[0] + c * c * d[1],
  ]
}

describe("Fréchet distance", () => {
  it("of diagonal Gaussians is ‖μ1 − μ2‖² + Σ(√a − √b)²", () => {
    const a = gaussian([1, 2, 3], [4, 0, 0, 0, 9, 0, 0, 0, 0.25])
    const b = gaussian([0, 2, 5], [1, 0, 0, 0, 16, 0, 0, 0, 1])
    const expected = 1 + 0 + 4 + (2 - 1) ** 2 + (3 - 4) ** 2 + (0.5 - 1) ** 2
    expect(frechetDistance(a, b)).toBeCloseTo(expected, 10)
    expect(frechetDistance(b, a)).toBeCloseTo(expected, 10)
    expect(frechetDistance(a, a)).toBeCloseTo(0, 10)
  })

  it("of Gaussians with commuting non-diagonal covariances (same eigenvectors) has the same closed form", () => {
    const a = gaussian([0, 0], rotated(0.7, [4, 1]))
    const b = gaussian([1, -1], rotated(0.7, [9, 0.25]))
    expect(frechetDistance(a, b)).toBeCloseTo(2 + (2 - 3) ** 2 + (1 - 0.5) ** 2, 10)
  })

  it("of non-commuting 2x2 covariances: tr((Σ1^½ Σ2 Σ1^½)^½) = √(tr Σ1Σ2 + 2√(det Σ1 det Σ2))", () => {
    const s1 = [2, 0.5, 0.5, 1]
    const s2 = rotated(1.1, [3, 0.2])
    const a = gaussian([0.5, 0], s1)
    const b = gaussian([0, 0], s2)
    const product = matMul(s1, s2, 2)
    const det = (m: ReadonlyArray<number>) => (m[0] as number) * (m[3] as number) - (m[1] as number) ** 2
    const cross = Math.sqrt(
      (product[0] as number) + (product[3] as number) + 2 * Math.sqrt(det(s1) * det(s2)),
    )
    expect(frechetDistance(a, b)).toBeCloseTo(0.25 + 3 + 3.2 - 2 * cross, 10)
  })

  it("fits mean and unbiased covariance to feature rows by hand", () => {
    const g = fitGaussian([1, 2, 3, 6, 5, 4], 3, 2)
    expect([...g.mean]).toEqual([3, 4])
    expect([...g.covariance]).toEqual([4, 2, 2, 4])
    expect(() => fitGaussian([1, Number.NaN, 3, 4], 2, 2)).toThrow(/non-finite/)
  })

  it("eigendecomposes symmetric matrices and takes PSD square roots whose square is the input", () => {
    let seed = 3
    const next = () => {
      seed = (seed * 16807) % 2147483647
      return seed / 2147483647 - 0.5
    }
    for (const n of [1, 2, 7, 40]) {
      const b = Array.from({ length: n * n }, next)
      const bt = b.map((_, k) => b[(k % n) * n + Math.floor(k / n)] as number)
      const a = matMul(b, bt, n) // B·Bᵀ: symmetric PSD, rank n
      const { values, vectors } = symmetricEigen(a, n)
      const av = matMul(a, vectors, n)
      for (let i = 0; i < n; i++)
        for (let j = 0; j < n; j++)
          expect(av[i * n + j]).toBeCloseTo((values[j] as number) * (vectors[i * n + j] as number), 9)
      for (let j = 1; j < n; j++) expect(values[j]).toBeGreaterThanOrEqual(values[j - 1] as number)
      const root = psdSqrt(a, n)
      const squared = matMul(root, root, n)
      for (let k = 0; k < n * n; k++) expect(squared[k]).toBeCloseTo(a[k] as number, 9)
    }
    // rank-deficient: eigenvalues 0 and 2 of [[1, 1], [1, 1]]; its root is itself / √2
    const root = psdSqrt([1, 1, 1, 1], 2)
    for (const v of root) expect(v).toBeCloseTo(1 / Math.SQRT2, 9)
  })
})

describe("Inception-score analogue, histogram, entropy, quantiles", () => {
  const oneHot = (classes: ReadonlyArray<number>, k: number) => {
    const p = new Float32Array(classes.length * k)
    classes.forEach((c, i) => {
      p[i * k + c] = 1
    })
    return p
  }

  it("is the number of classes for one-hot predictions used equally, 1 for constant predictions", () => {
    const balanced = Array.from({ length: 30 }, (_, i) => i % 10)
    expect(inceptionScore(oneHot(balanced, 10), 30, 10)).toBeCloseTo(10, 5)
    const constant = new Float32Array(30 * 10).map((_, i) => (i % 10 === 3 ? 0.7 : 0.3 / 9))
    expect(inceptionScore(constant, 30, 10)).toBeCloseTo(1, 6)
  })

  it("matches a hand-computed value: (4/3)^¾ for predictions (½, ½) and (1, 0)", () => {
    expect(inceptionScore([0.5, 0.5, 1, 0], 2, 2)).toBeCloseTo((4 / 3) ** 0.75, 6)
  })

  it("counts argmax classes and takes the histogram's entropy in nats", () => {
    const histogram = classHistogram(oneHot([2, 2, 0, 1], 3), 4, 3)
    expect([...histogram]).toEqual([1, 1, 2])
    expect(histogramEntropy(histogram)).toBeCloseTo(1.5 * Math.LN2, 10)
    expect(histogramEntropy([5, 5])).toBeCloseTo(Math.LN2, 10)
    expect(histogramEntropy([10, 0, 0])).toBe(0)
    expect(histogramEntropy(Array.from({ length: 10 }, () => 7))).toBeCloseTo(Math.log(10), 10)
  })

  it("interpolates quantiles as numpy does and counts fractions strictly below a threshold", () => {
    expect(quantile([4, 1, 3, 2], 0.5)).toBe(2.5)
    expect(quantile([4, 1, 3, 2], 0)).toBe(1)
    expect(quantile([0, 10], 0.01)).toBeCloseTo(0.1, 12)
    expect(fractionBelow([0, 1, 2, 3], 2)).toBe(0.5)
  })
})

describe("nearest-neighbour distances", () => {
  beforeAll(async () => {
    await useTestBackend()
  })

  it("are 0 for exact copies and the brute-force distance otherwise, leaking no tensors", () => {
    const dim = 5
    const references = Float32Array.from({ length: 7 * dim }, (_, i) => Math.sin(i * 1.3))
    const queries = new Float32Array(3 * dim)
    queries.set(references.subarray(2 * dim, 3 * dim), 0) // a copy of reference 2
    for (let i = dim; i < 3 * dim; i++) queries[i] = Math.cos(i * 0.7) * 2
    const before = tf.memory().numTensors
    const got = nearestDistances(queries, 3, references, 7, dim, 2)
    expect(tf.memory().numTensors).toBe(before)
    for (let q = 0; q < 3; q++) {
      let best = Number.POSITIVE_INFINITY
      for (let r = 0; r < 7; r++) {
        let d = 0
        for (let k = 0; k < dim; k++)
          d += ((queries[q * dim + k] as number) - (references[r * dim + k] as number)) ** 2
        best = Math.min(best, Math.sqrt(d))
      }
      expect(got[q]).toBeCloseTo(best, 3)
    }
    expect(got[0]).toBeLessThan(1e-3)
  })
})

/** `count` 28x28 digits of a split, pixels in [-1, 1]. */
const digits = async (split: "train" | "test", count: number) => {
  const set = await run(loadMnistSplit(split))
  return set.images.slice(0, count * 784)
}

const writeNpy = (file: string, values: Float32Array, shape: ReadonlyArray<number>) =>
  writeFileSync(file, encodeNpy(values, shape))

const unit = (images: Float32Array) => images.map((v) => (v + 1) / 2)

const options = (location: string, over: Partial<EvaluateOptions> = {}): EvaluateOptions => ({
  location,
  count: undefined,
  langevinSteps: undefined,
  seed: undefined,
  outDir: undefined,
  force: false,
  features: undefined,
  layer: undefined,
  reference: undefined,
  range: "0,1",
  quiet: true,
  classifier: tinyClassifier,
  ...over,
})

describe("the MNIST classifier cache and the metrics of real and fake digits", () => {
  beforeAll(async () => {
    await useTestBackend()
  })

  it("is trained once with a manifest, then read back (same bytes, no retraining, no leaked tensors)", async () => {
    const before = tf.memory().numTensors
    const first = await run(openClassifier(tinyClassifier, () => {}))
    expect(first.trained).toBe(true)
    expect(first.manifest.format).toBe("coopnets-mnist-classifier/1")
    expect(first.manifest.settings).toEqual(tinySettings)
    expect(first.manifest.trainDigits).toBe(9000)
    expect(first.manifest.testDigits).toBe(1000)
    // even the tiny classifier (a few dozen steps) does better than chance (10%) on the held-out digits
    expect(first.manifest.testAccuracy).toBeGreaterThan(0.15)
    expect(first.manifest.testAccuracy).toBeLessThanOrEqual(1)
    const weights = join(tinyClassifier.dir, "weights.bin")
    const bytes = readFileSync(weights)
    const written = statSync(weights).mtimeMs
    tf.dispose([...first.classifier.params.values()])
    const second = await run(openClassifier(tinyClassifier, () => {}))
    expect(second.trained).toBe(false)
    expect(second.manifest).toEqual(first.manifest)
    expect(readFileSync(weights).equals(bytes)).toBe(true)
    expect(statSync(weights).mtimeMs).toBe(written)
    tf.dispose([...second.classifier.params.values()])
    expect(tf.memory().numTensors).toBe(before)
  })

  it("retrains with a warning when the cache was trained with other settings or is truncated", async () => {
    const dir = join(scratch(), "classifier")
    await run(openClassifier({ dir, settings: tinySettings }, () => {})).then((c) =>
      tf.dispose([...c.classifier.params.values()]),
    )
    const warnings: Array<string> = []
    const other = await run(
      openClassifier({ dir, settings: { ...tinySettings, steps: 3 } }, (l) => warnings.push(l)),
    )
    tf.dispose([...other.classifier.params.values()])
    expect(other.trained).toBe(true)
    expect(warnings[0]).toMatch(/^warning: .*classifier\.json was trained with other settings .*; retraining/)
    writeFileSync(join(dir, "weights.bin"), readFileSync(join(dir, "weights.bin")).subarray(0, 100))
    warnings.length = 0
    const again = await run(
      openClassifier({ dir, settings: { ...tinySettings, steps: 3 } }, (l) => warnings.push(l)),
    )
    tf.dispose([...again.classifier.params.values()])
    expect(again.trained).toBe(true)
    expect(warnings[0]).toMatch(/weights\.bin does not fit the manifest .*; retraining/)
  })

  it("counts exact copies of training digits as copies and noise as none", async () => {
    const copies = await digits("train", 20)
    const noise = Float32Array.from({ length: 20 * 784 }, (_, i) => Math.sin(i * 12.9898) * 0.999)
    const before = tf.memory().numTensors
    const [ofCopies, ofNoise] = await run(
      Effect.scoped(
        Effect.gen(function* () {
          const classifier = yield* Effect.acquireRelease(
            openClassifier(tinyClassifier, () => {}),
            (c) => Effect.sync(() => tf.dispose([...c.classifier.params.values()])),
          )
          const ref = yield* prepareMnistReference(classifier)
          expect(ref.copyThreshold).toBeGreaterThan(0)
          return [sampleQuality(ref, copies, 20), sampleQuality(ref, noise, 20)] as const
        }),
      ),
    )
    expect(tf.memory().numTensors).toBe(before)
    expect(ofCopies.copyFraction).toBe(1)
    expect(ofCopies.medianNearestTrainDistance).toBeLessThan(0.01)
    expect(ofNoise.copyFraction).toBe(0)
    expect(ofNoise.medianNearestTrainDistance).toBeGreaterThan(5)
    for (const q of [ofCopies, ofNoise]) {
      expect(q.classHistogram.reduce((a, b) => a + b, 0)).toBe(20)
      expect(q.inceptionScore).toBeGreaterThanOrEqual(1)
      expect(q.frechetDistance).toBeGreaterThan(0)
    }
  })
})

describe("evaluate", () => {
  beforeAll(async () => {
    await useTestBackend()
  })

  it("judges an .npy of held-out digits and writes evaluation.json and evaluation.md", async () => {
    const dir = scratch()
    const file = join(dir, "digits.npy")
    writeNpy(file, unit(await digits("test", 40)), [40, 28, 28])
    const before = tf.memory().numTensors
    const result = await run(evaluate(options(file)))
    expect(tf.memory().numTensors).toBe(before)
    expect(result.outDir).toBe(join(dir, "digits-evaluation"))
    const report = JSON.parse(readFileSync(join(result.outDir, "evaluation.json"), "utf8"))
    expect(report.source).toEqual({ kind: "images", path: file, count: 40, shape: [28, 28, 1] })
    expect(report.mnist.samples.count).toBe(40)
    expect(report.mnist.samples.classHistogram.reduce((a: number, b: number) => a + b, 0)).toBe(40)
    expect(report.mnist.realDigits.count).toBe(1000)
    expect(report.mnist.realDigits.frechetCount).toBe(40)
    expect(report.mnist.realDigits.copyFraction).toBeCloseTo(0.01, 2)
    // held-out digits are real, new digits: none is a copy of a training digit
    expect(report.mnist.samples.copyFraction).toBeLessThan(0.1)
    expect(report.skipped.map((s: { metrics: string }) => s.metrics)).toEqual([
      "the Fréchet distance on a user-supplied feature model",
    ])
    const md = readFileSync(join(result.outDir, "evaluation.md"), "utf8")
    expect(md).toBe(result.table)
    expect(md).toContain("| images | n | FD ↓ | IS ↑ |")
    // an existing output directory is kept unless --force
    expect(await failure(evaluate(options(file)))).toBe(
      `${join(dir, "digits-evaluation")} already exists and is not empty. Pass --out DIR to write elsewhere, or --force to replace its files.`,
    )
    await run(evaluate(options(file, { force: true, count: 10 })))
    expect(JSON.parse(readFileSync(join(result.outDir, "evaluation.json"), "utf8")).source.count).toBe(10)
  })

  it("judges a folder of PNG digits exactly as the same digits in an .npy", async () => {
    const dir = scratch()
    const images = await digits("train", 12)
    const bytes = Uint8Array.from(images, (v) => Math.round((v + 1) * 127.5))
    mkdirSync(join(dir, "png"))
    for (let i = 0; i < 12; i++)
      await sharp(bytes.subarray(i * 784, (i + 1) * 784), { raw: { width: 28, height: 28, channels: 1 } })
        .png()
        .toFile(join(dir, "png", `${String(i).padStart(3, "0")}.png`))
    writeNpy(
      join(dir, "same.npy"),
      Float32Array.from(bytes, (b) => b / 255),
      [12, 28, 28, 1],
    )
    const fromFolder = await run(evaluate(options(join(dir, "png"))))
    const fromNpy = await run(evaluate(options(join(dir, "same.npy"))))
    expect(fromFolder.outDir).toBe(join(dir, "png-evaluation"))
    const [folder, npy] = [fromFolder.report.mnist?.samples, fromNpy.report.mnist?.samples]
    // the same pixels up to float rounding (x / 127.5 − 1 against (x / 255)·2 − 1)
    expect(folder?.classHistogram).toEqual(npy?.classHistogram)
    expect(folder?.frechetDistance).toBeCloseTo(npy?.frechetDistance ?? Number.NaN, 4)
    expect(folder?.inceptionScore).toBeCloseTo(npy?.inceptionScore ?? Number.NaN, 6)
    // training digits copied verbatim
    expect(fromFolder.report.mnist?.samples.copyFraction).toBe(1)
  })

  it("computes the Fréchet distance on a user's tfjs LayersModel for other images and says what it skipped", async () => {
    const dir = scratch()
    const model = tfl.sequential({
      layers: [
        tfl.layers.flatten({ inputShape: [8, 8, 3], name: "flat" }),
        tfl.layers.dense({ units: 6, activation: "tanh", name: "hidden" }),
        tfl.layers.dense({ units: 3, name: "out" }),
      ],
    })
    await model.save(
      tfl.io.withSaveHandler(async (artifacts) => {
        writeFileSync(
          join(dir, "model.json"),
          JSON.stringify({
            format: "layers-model",
            modelTopology: artifacts.modelTopology,
            weightsManifest: [{ paths: ["weights.bin"], weights: artifacts.weightSpecs }],
          }),
        )
        writeFileSync(join(dir, "weights.bin"), new Uint8Array(artifacts.weightData as ArrayBuffer))
        return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: "JSON" } }
      }),
    )
    model.dispose()
    const a = Float32Array.from({ length: 30 * 192 }, (_, i) => (Math.sin(i * 0.37) + 1) / 2)
    const b = Float32Array.from({ length: 25 * 192 }, (_, i) => (Math.cos(i * 0.11) + 1) / 2)
    writeNpy(join(dir, "a.npy"), a, [30, 8, 8, 3])
    writeNpy(join(dir, "b.npy"), b, [25, 8, 8, 3])
    const features = join(dir, "model.json")
    const before = tf.memory().numTensors
    const self = await run(
      evaluate(
        options(join(dir, "a.npy"), { features, reference: join(dir, "a.npy"), outDir: join(dir, "o1") }),
      ),
    )
    const other = await run(
      evaluate(
        options(join(dir, "a.npy"), {
          features,
          layer: "hidden",
          reference: join(dir, "b.npy"),
          outDir: join(dir, "o2"),
        }),
      ),
    )
    expect(tf.memory().numTensors).toBe(before)
    expect(self.report.features?.dim).toBe(3)
    expect(self.report.features?.frechetDistance).toBeLessThan(1e-6)
    expect(other.report.features?.dim).toBe(6)
    expect(other.report.features?.frechetDistance).toBeGreaterThan(1e-3)
    expect(other.report.mnist).toBeUndefined()
    expect(other.report.skipped).toEqual([
      {
        metrics: "the MNIST metrics (classifier FD, IS, class histogram and entropy, copy fraction)",
        reason: "the images are 8x8x3; the MNIST classifier and the training digits are 28x28x1.",
      },
    ])
    expect(
      await failure(
        evaluate(options(join(dir, "a.npy"), { features, layer: "nope", reference: join(dir, "b.npy") })),
      ),
    ).toBe(`--features ${features}: has no layer named "nope"; its layers are flat, hidden, out.`)
  })

  it("rejects bad inputs with one paragraph each", async () => {
    const dir = scratch()
    writeNpy(join(dir, "flat.npy"), new Float32Array(20), [4, 5])
    const ints = Buffer.from(encodeNpy(new Float32Array(784), [1, 28, 28]))
    ints.write("<i4", ints.indexOf("<f4"), "latin1")
    writeFileSync(join(dir, "ints.npy"), ints)
    writeNpy(join(dir, "signed.npy"), new Float32Array(2 * 784).fill(-1), [2, 28, 28])
    mkdirSync(join(dir, "empty"))
    mkdirSync(join(dir, "big"))
    for (const name of ["a.png", "b.png"])
      await sharp({ create: { width: 64, height: 64, channels: 3, background: "#806040" } })
        .png()
        .toFile(join(dir, "big", name))
    expect(await failure(evaluate(options(join(dir, "missing.npy"))))).toBe(
      `${join(dir, "missing.npy")} does not exist. Pass a run or checkpoint directory, a folder of PNG images, or an .npy file of images in [0, 1].`,
    )
    expect(await failure(evaluate(options(join(dir, "flat.npy"))))).toBe(
      `${join(dir, "flat.npy")} holds an array of shape (4, 5); evaluate expects images as N×H×W or N×H×W×C with C = 1 or 3 and N ≥ 1 (e.g. (1000, 28, 28) for MNIST, as \`sample\` writes).`,
    )
    expect(await failure(evaluate(options(join(dir, "ints.npy"))))).toMatch(
      /ints\.npy: .*<i4.*\. evaluate reads \.npy arrays of images as float32 or float64 values in \[0, 1\] \(as `sample` writes\)\.$/,
    )
    expect(await failure(evaluate(options(join(dir, "signed.npy"))))).toMatch(
      /signed\.npy holds values from -1 to -1; evaluate expects pixels in \[0, 1\]/,
    )
    expect(await failure(evaluate(options(join(dir, "empty"))))).toBe(
      `${join(dir, "empty")} holds no .png, .jpg, .jpeg or .webp files (searched recursively). Pass a folder of images, an .npy file, or a run or checkpoint directory.`,
    )
    expect(await failure(evaluate(options(join(dir, "big"))))).toBe(
      `${join(dir, "big")} holds 64x64x3 images; the MNIST metrics need 28x28 single-channel digits. For other images pass --features model.json (a tfjs LayersModel on disk) and --reference <folder|npy> of real images to compute the Fréchet distance on that model's features, or --exemplar IMAGE to score them as textures against that exemplar.`,
    )
    expect(await failure(evaluate(options(join(dir, "big"), { features: "m.json" })))).toBe(
      "--features m.json needs --reference <folder|npy>: the real images to compare with.",
    )
    expect(await failure(evaluate(options(join(dir, "signed.npy"), { seed: 3 })))).toBe(
      `--langevin, --seed, --size, --weights and --sampler apply to sampling from a checkpoint; ${join(dir, "signed.npy")} is a set of images.`,
    )
  })

  it("parses its command line, and the CLI prints an error as one paragraph", async () => {
    expect(
      await Effect.runPromise(
        parseArgs([
          "evaluate",
          "runs/x",
          "--n",
          "50",
          "--features",
          "m.json",
          "--reference",
          "r",
          "--range",
          "-1,1",
        ]).pipe(Effect.provide(NodeServices.layer)),
      ),
    ).toEqual({
      kind: "evaluate",
      location: "runs/x",
      count: 50,
      langevinSteps: undefined,
      seed: undefined,
      outDir: undefined,
      force: false,
      features: "m.json",
      layer: undefined,
      reference: "r",
      range: "-1,1",
    })
    expect(
      (
        await Effect.runPromise(
          parseArgs(["evaluate", "x", "--range", "2"]).pipe(Effect.flip, Effect.provide(NodeServices.layer)),
        )
      ).message,
    ).toBe('--range must be "0,1" (pixels fed to the feature model in [0, 1]) or "-1,1", got "2".')
    const r = spawnSync(process.execPath, ["dist/run.js", "evaluate", "nope/missing.npy"], {
      encoding: "utf8",
    })
    expect(r.status).toBe(1)
    expect(r.stderr).toBe(
      "error: nope/missing.npy does not exist. Pass a run or checkpoint directory, a folder of PNG images, or an .npy file of images in [0, 1].\n",
    )
  })
})

describe("evaluation in the training loop", () => {
  beforeAll(async () => {
    await useTestBackend()
  })

  it("appends an evaluation line every N iterations and trains exactly as without it", async () => {
    const dir = scratch()
    const withEval = tinySpec({ evaluation: { every: 2, samples: 8, langevin: 0 } })
    const before = tf.memory().numTensors
    await run(
      train(withEval, {
        source: "tiny.json",
        outDir: join(dir, "with"),
        force: false,
        quiet: true,
        classifier: tinyClassifier,
      }),
    )
    await run(
      train(tinySpec(), { source: "tiny.json", outDir: join(dir, "without"), force: false, quiet: true }),
    )
    expect(tf.memory().numTensors).toBe(before)
    const lines = readFileSync(join(dir, "with", "metrics.jsonl"), "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l))
    expect(lines.map((l) => [l.iteration, "evaluation" in l])).toEqual([
      [1, false],
      [2, false],
      [2, true],
      [3, false],
    ])
    const evaluation = lines[2].evaluation
    expect(evaluation.count).toBe(8)
    expect(evaluation.langevin).toBe(0)
    expect(evaluation.classHistogram.reduce((a: number, b: number) => a + b, 0)).toBe(8)
    for (const key of [
      "frechetDistance",
      "inceptionScore",
      "classEntropy",
      "copyFraction",
      "medianNearestTrainDistance",
    ])
      expect(Number.isFinite(evaluation[key])).toBe(true)
    // the same weights, bit for bit (checkpoint.json differs: it holds the spec)
    expect(
      readFileSync(join(dir, "with", "checkpoints", "final", "weights.bin")).equals(
        readFileSync(join(dir, "without", "checkpoints", "final", "weights.bin")),
      ),
    ).toBe(true)
  })

  it("is accepted in pipeline files and refused for images other than 28x28x1", async () => {
    const spec = await Effect.runPromise(decodeSpec(JSON.stringify({ evaluation: { every: 50 } }), "p.json"))
    expect(spec.evaluation).toEqual({ every: 50, samples: 1000, langevin: 0 })
    expect("evaluation" in (await Effect.runPromise(decodeSpec("{}", "p.json")))).toBe(false)
    const unknown = await Effect.runPromise(
      decodeSpec(JSON.stringify({ evaluation: { evry: 50 } }), "p.json").pipe(Effect.flip),
    )
    expect(unknown.message).toContain("evaluation.evry: unknown field")
    const folder = await Effect.runPromise(
      decodeSpec(
        JSON.stringify({
          data: { source: "folder", path: "x", size: 64, channels: 3 },
          model: { arch: "object64", generatorChannels: [512, 256, 128, 64] },
          evaluation: { every: 10 },
        }),
        "p.json",
      ).pipe(
        Effect.flatMap((s) => checkSpec(s, "p.json")),
        Effect.flip,
      ),
    )
    expect(folder.message).toBe(
      "p.json: evaluation.every is 10 but the training-loop evaluation uses the MNIST classifier, which reads 28x28 single-channel images, and this run's images are 64x64x3. Set evaluation.every to 0, and evaluate the checkpoints afterwards with `node dist/run.js evaluate <run-dir> --features model.json --reference <folder|npy>`.",
    )
  })
})
