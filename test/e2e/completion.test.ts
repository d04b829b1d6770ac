/**
 * Pattern completion: masks (sizes, positions, seeds), the metrics against
 * hand-computed values, the two baselines, the model-side contract (visible
 * pixels untouched, best restart kept, no leaked tensors, determinism) and
 * the `complete` command end to end on a tiny trained run.
 */
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { NodeServices } from "@effect/platform-node"
import * as tf from "@tensorflow/tfjs-core"
import { Effect } from "effect"
import sharp from "sharp"
import { beforeAll, describe, expect, it } from "vitest"
import { defaultClassifierSettings } from "../../src/models/classifier.js"
import {
  bankStarts,
  complete,
  encodedBank,
  inferFill,
  inferLatent,
  latentBank,
  latentBankOf,
  latentRestarts,
  latentStepSize,
} from "../../src/models/completion.js"
import { meanFill, nearestNeighbourFill, nearestOnVisible } from "../../src/models/completion-baselines.js"
import { MAX_PSNR, meanScores, psnrOf, scoreImages, toUnit } from "../../src/models/completion-metrics.js"
import { generate } from "../../src/models/coopnets.js"
import { initParams } from "../../src/models/layers.js"
import { hiddenFraction, squareCorner, squareMasks } from "../../src/models/masks.js"
import { foldIn, normalTensor, rootKey } from "../../src/models/random.js"
import { completeRun } from "../../src/pipeline/commands/complete.js"
import { decodeCompletionSpec } from "../../src/pipeline/config/completion-spec.js"
import { netSpecsOf } from "../../src/pipeline/config/shapes.js"
import { decodeNpy, encodeNpy } from "../../src/pipeline/run-dir/image-files.js"
import { bytesOf, cli, syntheticDigits, testBackend, tinySpec, useTestBackend } from "../support.js"

const zerosIn = (masks: Float32Array, from: number, to: number) =>
  masks.subarray(from, to).reduce((n, m) => n + (m === 0 ? 1 : 0), 0)

describe("square masks", () => {
  it("hide exactly size² pixels per image, centred where asked", () => {
    const masks = squareMasks(3, 28, 28, 12, "center", rootKey(0))
    for (let i = 0; i < 3; i++) expect(zerosIn(masks, i * 784, (i + 1) * 784)).toBe(144)
    expect(squareCorner(28, 28, 12, "center", rootKey(0), 0)).toEqual([8, 8])
    // the corner pixel (8, 8) is hidden, (7, 8) and (8, 20) are not
    expect([masks[8 * 28 + 8], masks[7 * 28 + 8], masks[8 * 28 + 20]]).toEqual([0, 1, 1])
    expect(hiddenFraction(masks)).toBeCloseTo(144 / 784, 10)
  })

  it("random positions: inside the image, seeded, different per image and per seed", () => {
    const a = squareMasks(50, 28, 20, 16, "random", rootKey(1))
    const b = squareMasks(50, 28, 20, 16, "random", rootKey(1))
    const c = squareMasks(50, 28, 20, 16, "random", rootKey(2))
    expect(bytesOfArray(a)).toEqual(bytesOfArray(b))
    expect(bytesOfArray(a)).not.toEqual(bytesOfArray(c))
    const corners = Array.from({ length: 50 }, (_, i) => squareCorner(28, 20, 16, "random", rootKey(1), i))
    for (const [top, left] of corners) {
      expect(top).toBeGreaterThanOrEqual(0)
      expect(top).toBeLessThanOrEqual(28 - 16)
      expect(left).toBeGreaterThanOrEqual(0)
      expect(left).toBeLessThanOrEqual(20 - 16)
    }
    expect(new Set(corners.map((c) => c.join(","))).size).toBeGreaterThan(10)
    for (let i = 0; i < 50; i++) expect(zerosIn(a, i * 560, (i + 1) * 560)).toBe(256)
  })

  it("refuse a square larger than the image", () => {
    expect(() => squareMasks(1, 28, 28, 29, "center", rootKey(0))).toThrow(/from 1 to 28, got 29/)
  })
})

const bytesOfArray = (a: Float32Array) => Array.from(new Uint8Array(a.buffer))

describe("completion metrics", () => {
  // two 2x2 grey images; image 0 hides pixel 0, image 1 hides pixels 2 and 3
  const masks = Float32Array.from([0, 1, 1, 1, 1, 1, 0, 0])
  const truth = Float32Array.from([0, 0, 0, 0, 1, 1, 1, 1])
  const recovered = Float32Array.from([0.5, 0, 0, 0, 1, 1, 0.9, 0.7])

  it("MAE on the hidden pixels and the whole image, PSNR per image", () => {
    const [first, second] = scoreImages(truth, recovered, masks, 2, 1)
    expect(first?.hiddenMae).toBeCloseTo(0.5, 12)
    expect(first?.wholeMae).toBeCloseTo(0.125, 12)
    // MSE 0.25/4 = 0.0625 → 10·log10(16) = 12.0412 dB
    expect(first?.psnr).toBeCloseTo(12.0412, 4)
    expect(second?.hiddenMae).toBeCloseTo(0.2, 6)
    expect(second?.wholeMae).toBeCloseTo(0.1, 6)
    // MSE (0.01 + 0.09)/4 = 0.025 → 16.0206 dB
    expect(second?.psnr).toBeCloseTo(16.0206, 3)
    expect(meanScores(scoreImages(truth, recovered, masks, 2, 1)).hiddenMae).toBeCloseTo(0.35, 6)
  })

  it("PSNR of known images: MSE 0.01 is 20 dB, an exact image the cap", () => {
    expect(psnrOf(0.01)).toBeCloseTo(20, 10)
    expect(psnrOf(1)).toBe(0)
    const [exact] = scoreImages(truth, truth, masks, 2, 1)
    expect(exact?.psnr).toBe(MAX_PSNR)
    expect(exact?.hiddenMae).toBe(0)
  })

  it("channels share a mask pixel", () => {
    const rgbTruth = new Float32Array(12)
    const rgbRecovered = Float32Array.from([0.3, 0.3, 0.3, 0, 0, 0, 0, 0, 0, 0, 0, 0])
    const [s] = scoreImages(rgbTruth, rgbRecovered, Float32Array.from([0, 1, 1, 1]), 1, 3)
    expect(s?.hiddenMae).toBeCloseTo(0.3, 6)
    expect(s?.wholeMae).toBeCloseTo(0.075, 6)
  })

  it("toUnit maps [-1, 1] to [0, 1] and clips", () => {
    expect(Array.from(toUnit(Float32Array.from([-1, 0, 1, 3, -2])))).toEqual([0, 0.5, 1, 1, 0])
  })

  it("refuses arrays that do not match the masks", () => {
    expect(() => scoreImages(truth, recovered.subarray(1), masks, 2, 1)).toThrow(/recovered values/)
  })
})

describe("baselines", () => {
  it("mean fill: the mean of each image's visible pixels, per channel", () => {
    const images = Float32Array.from([9, 2, 4, 6, 5, 5, 5, 9])
    const masks = Float32Array.from([0, 1, 1, 1, 1, 1, 0, 0])
    expect(Array.from(meanFill(images, masks, 2, 1))).toEqual([4, 2, 4, 6, 5, 5, 5, 5])
  })

  it("nearest neighbour: closest on the visible pixels only, hidden ones copied from it", async () => {
    await useTestBackend()
    // training images of 4 pixels; the query matches #1 on pixels 0-1 and #2 on pixels 2-3
    const training = Float32Array.from([0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 1, 1])
    const query = Float32Array.from([1, 1, 1, 1])
    const hideRight = Float32Array.from([1, 1, 0, 0])
    const hideLeft = Float32Array.from([0, 0, 1, 1])
    const before = tf.memory().numTensors
    expect(Array.from(nearestOnVisible(query, hideRight, 1, training, 3, 1))).toEqual([1])
    expect(Array.from(nearestOnVisible(query, hideLeft, 1, training, 3, 1))).toEqual([2])
    expect(Array.from(nearestNeighbourFill(query, hideRight, 1, training, 3, 1))).toEqual([1, 1, 0, 0])
    expect(Array.from(nearestNeighbourFill(query, hideLeft, 1, training, 3, 1))).toEqual([0, 0, 1, 1])
    expect(tf.memory().numTensors).toBe(before)
  })
})

describe("completion with a generator", () => {
  const spec = tinySpec({ training: { iterations: 1, batchSize: 8, chains: 6 } })
  const nets = netSpecsOf(spec)
  let generator: { spec: typeof nets.generator; params: ReturnType<typeof initParams> }
  let descriptor: { spec: typeof nets.descriptor; params: ReturnType<typeof initParams> }
  let observed: tf.Tensor4D
  let mask: tf.Tensor4D
  const inference = { restarts: 3, steps: 4, stepSize: 0.3, sigma: 0.3, noise: false }
  const refine = { ...spec.langevin, steps: 3 }

  beforeAll(async () => {
    await useTestBackend()
    generator = { spec: nets.generator, params: initParams(nets.generator, rootKey(3), "g") }
    descriptor = { spec: nets.descriptor, params: initParams(nets.descriptor, rootKey(4), "d") }
    observed = tf.tidy(() => tf.tanh(normalTensor(rootKey(5), [6, 28, 28, 1])) as tf.Tensor4D)
    mask = tf.tensor4d(squareMasks(6, 28, 28, 14, "random", rootKey(6)), [6, 28, 28, 1])
  })

  const visibleValues = (x: tf.Tensor4D) => {
    const values = x.dataSync() as Float32Array
    const m = mask.dataSync() as Float32Array
    return Array.from(values.filter((_, i) => m[i] === 1))
  }

  it("leaves the visible pixels untouched (with and without descriptor refinement), fills the hidden ones", () => {
    for (const steps of [0, 3]) {
      const result = complete(
        generator,
        descriptor,
        observed,
        mask,
        5,
        inference,
        { ...refine, steps },
        rootKey(7),
      )
      expect(result.completed.shape).toEqual([6, 28, 28, 1])
      expect(visibleValues(result.completed)).toEqual(visibleValues(observed))
      const m = mask.dataSync() as Float32Array
      const done = result.completed.dataSync() as Float32Array
      const drafted = result.generated.dataSync() as Float32Array
      const hidden = Array.from(done.filter((_, i) => m[i] === 0))
      if (steps === 0) expect(hidden).toEqual(Array.from(drafted.filter((_, i) => m[i] === 0)))
      else expect(hidden).not.toEqual(Array.from(drafted.filter((_, i) => m[i] === 0)))
      tf.dispose([result.completed, result.generated])
    }
  })

  it("keeps, per image, the restart that best fits the visible pixels; fitting lowers the error", () => {
    // a target the generator can reach: g(z†) for a known z†
    const target = tf.tidy(() => generate(generator, normalTensor(rootKey(11), [6, 5])))
    const errorOf = (o: typeof inference) =>
      tf.tidy(() => {
        const z = inferLatent(generator, target, mask, 5, o, rootKey(8))
        const g = generate(generator, z)
        return Array.from(
          tf.sum(tf.mul(mask, tf.square(tf.sub(target, g))), [1, 2, 3]).dataSync() as Float32Array,
        )
      })
    const fitting = { ...inference, steps: 20, stepSize: 0.3 }
    const one = errorOf({ ...fitting, restarts: 1 })
    const three = errorOf(fitting)
    const unfitted = errorOf({ ...fitting, restarts: 1, steps: 0 })
    target.dispose()
    // restart 0 is the same chain in both; batch norm couples the batch, so allow a hair of slack
    for (let i = 0; i < 6; i++) expect(three[i]).toBeLessThanOrEqual((one[i] as number) * 1.02)
    const total = (e: ReadonlyArray<number>) => e.reduce((a, b) => a + b)
    expect(total(three)).toBeLessThan(total(one))
    expect(total(one)).toBeLessThan(0.9 * total(unfitted))
  })

  it("a bank of generator samples starts each chain from the samples closest on the visible pixels", () => {
    const before = tf.memory().numTensors
    const bank = latentBank(generator, 5, 40, 6, rootKey(13))
    expect(bank.z.shape).toEqual([40, 5])
    expect(bank.images.shape).toEqual([40, 784])
    // the bank's images are g(z) drawn in batches of 6, as sampling draws them
    const firstSix = tf.tidy(() => generate(generator, tf.slice(bank.z, [0, 0], [6, 5])))
    expect(Array.from(bank.images.dataSync().subarray(0, 6 * 784))).toEqual(Array.from(firstSix.dataSync()))
    firstSix.dispose()
    const starts = bankStarts(bank, observed, mask, 3)
    // brute force: per image, the bank entries sorted by the visible-pixel squared distance
    const x = observed.dataSync() as Float32Array
    const m = mask.dataSync() as Float32Array
    const g = bank.images.dataSync() as Float32Array
    const zs = bank.z.dataSync() as Float32Array
    for (let i = 0; i < 6; i++) {
      const distance = (j: number) => {
        let d = 0
        for (let p = 0; p < 784; p++)
          d += (m[i * 784 + p] as number) * ((x[i * 784 + p] as number) - (g[j * 784 + p] as number)) ** 2
        return d
      }
      const order = Array.from({ length: 40 }, (_, j) => j).sort((a, b) => distance(a) - distance(b))
      for (let r = 0; r < 3; r++) {
        const got = Array.from((starts[r] as tf.Tensor2D).dataSync().subarray(i * 5, i * 5 + 5))
        const want = Array.from(zs.subarray((order[r] as number) * 5, (order[r] as number) * 5 + 5))
        for (let k = 0; k < 5; k++) expect(got[k]).toBeCloseTo(want[k] as number, 6)
      }
    }
    tf.dispose(starts)
    // no steps: the chains end where the bank started them
    const restarts = latentRestarts(
      generator,
      observed,
      mask,
      5,
      { ...inference, steps: 0 },
      rootKey(14),
      bank,
    )
    const again = bankStarts(bank, observed, mask, 3)
    restarts.forEach((r, i) => {
      expect(Array.from(r.z.dataSync())).toEqual(Array.from((again[i] as tf.Tensor2D).dataSync()))
    })
    tf.dispose([...again, ...restarts.flatMap((r) => [r.z, r.error]), bank.z, bank.images, bank.squared])
    expect(tf.memory().numTensors).toBe(before)
  })

  it("starting from a bank fits reachable targets better than starting from the prior", () => {
    // targets the generator can reach: g(z†); a bank large enough to hold near neighbours of them
    const target = tf.tidy(() => generate(generator, normalTensor(rootKey(11), [6, 5])))
    const bank = latentBank(generator, 5, 600, 6, rootKey(15))
    const o = { ...inference, restarts: 2, steps: 0 }
    const errorOf = (withBank: boolean) => {
      const restarts = latentRestarts(generator, target, mask, 5, o, rootKey(16), withBank ? bank : undefined)
      const best = tf.tidy(() => tf.min(tf.stack(restarts.map((r) => r.error)), 0).dataSync() as Float32Array)
      tf.dispose(restarts.flatMap((r) => [r.z, r.error]))
      return best.reduce((a, b) => a + b)
    }
    expect(errorOf(true)).toBeLessThan(0.5 * errorOf(false))
    tf.dispose([target, bank.z, bank.images, bank.squared])
  })

  it("encodes images into a bank: the z inferred from all pixels, in the bank's batches; rebuilt the same from its z", () => {
    // images the generator can make, g(z†) drawn in the bank's batches of 6, as a training set is stored
    const made = latentBankOf(generator, normalTensor(rootKey(21), [10, 5]) as tf.Tensor2D, 6)
    const pixels = made.images.dataSync() as Float32Array
    const samples = latentBank(generator, 5, 200, 6, rootKey(22))
    const before = tf.memory().numTensors
    const o = { ...inference, restarts: 1, steps: 5 }
    const encoded = encodedBank(generator, pixels, [28, 28, 1], 10, 5, 6, o, rootKey(23), samples)
    expect(encoded.z.shape).toEqual([10, 5])
    expect(encoded.images.shape).toEqual([10, 28 * 28])
    // each batch's z is latent inference with every pixel visible, from the samples' best fits
    const firstSix = tf.tensor4d(pixels.subarray(0, 6 * 784), [6, 28, 28, 1])
    const ones = tf.ones([6, 28, 28, 1]) as tf.Tensor4D
    const z = inferLatent(generator, firstSix, ones, 5, o, foldIn(rootKey(23), "encode", 0), samples)
    const head = tf.slice(encoded.z, [0, 0], [6, 5])
    expect(Array.from(head.dataSync())).toEqual(Array.from(z.dataSync()))
    // the same latent vectors give the same bank (what the cache relies on)
    const rebuilt = latentBankOf(generator, tf.clone(encoded.z), 6)
    expect(Array.from(rebuilt.images.dataSync())).toEqual(Array.from(encoded.images.dataSync()))
    // when the starts hold the images' own z†, zero steps find them: the bank is the images
    const exact = encodedBank(generator, pixels, [28, 28, 1], 10, 5, 6, { ...o, steps: 0 }, rootKey(23), made)
    expect(Array.from(exact.z.dataSync())).toEqual(Array.from(made.z.dataSync()))
    tf.dispose([
      firstSix,
      ones,
      z,
      head,
      ...[encoded, rebuilt, exact].flatMap((b) => [b.z, b.images, b.squared]),
    ])
    expect(tf.memory().numTensors).toBe(before)
    tf.dispose([made.z, made.images, made.squared, samples.z, samples.images, samples.squared])
  })

  it("anneals the z step size from δ to δ/10 along a cosine, and keeps it constant otherwise", () => {
    const steps = 11
    const annealed = Array.from({ length: steps }, (_, t) =>
      latentStepSize({ stepSize: 0.2, anneal: true }, t, steps),
    )
    expect(annealed[0]).toBeCloseTo(0.2, 12)
    expect(annealed[steps - 1]).toBeCloseTo(0.02, 12)
    expect(annealed[5]).toBeCloseTo(0.11, 12) // halfway: (1 + 0.1) / 2 · δ
    for (let t = 1; t < steps; t++) expect(annealed[t] as number).toBeLessThan(annealed[t - 1] as number)
    for (let t = 0; t < steps; t++) expect(latentStepSize({ stepSize: 0.2 }, t, steps)).toBe(0.2)
  })

  it("fills with the pixelwise mean or median of g(z) over the A best-fitting restarts (A = 1: the best one's g(z))", () => {
    const o = { ...inference, restarts: 4, steps: 3, noise: true, anneal: true }
    const key = rootKey(12)
    const restarts = latentRestarts(generator, observed, mask, 5, o, key)
    const errors = restarts.map((r) => Array.from(r.error.dataSync() as Float32Array))
    const drafts = restarts.map((r) => tf.tidy(() => generate(generator, r.z)).dataSync() as Float32Array)
    tf.dispose(restarts.flatMap((r) => [r.z, r.error]))
    const pixels = 28 * 28
    const median = (v: Array<number>) => {
      const s = [...v].sort((a, b) => a - b)
      const m = Math.floor((s.length - 1) / 2)
      return s.length % 2 === 1 ? (s[m] as number) : ((s[m] as number) + (s[m + 1] as number)) / 2
    }
    for (const [average, combine] of [
      [1, "mean"],
      [3, "mean"],
      [1, "median"],
      [2, "median"],
      [3, "median"],
    ] as const) {
      const fill = tf.tidy(() => inferFill(generator, observed, mask, 5, { ...o, average, combine }, key))
      const got = fill.dataSync() as Float32Array
      fill.dispose()
      for (let i = 0; i < 6; i++) {
        const best = [0, 1, 2, 3]
          .sort((a, b) => (errors[a]?.[i] as number) - (errors[b]?.[i] as number))
          .slice(0, average)
        for (const p of [0, 200, 410, 783]) {
          const values = best.map((r) => drafts[r]?.[i * pixels + p] as number)
          const want = combine === "mean" ? values.reduce((sum, v) => sum + v, 0) / average : median(values)
          expect(got[i * pixels + p]).toBeCloseTo(want, 5)
        }
      }
    }
  })

  it("is deterministic for a key and leaks no tensors", () => {
    const before = tf.memory().numTensors
    const run = () => {
      const r = complete(
        generator,
        descriptor,
        observed,
        mask,
        5,
        { ...inference, noise: true },
        refine,
        rootKey(9),
      )
      const bytes = bytesOf(r.completed)
      tf.dispose([r.completed, r.generated])
      return bytes
    }
    expect(run()).toEqual(run())
    expect(tf.memory().numTensors).toBe(before)
  })
})

describe("completion.json", () => {
  it("lays the file over the defaults and names unknown fields with a suggestion", async () => {
    const spec = await Effect.runPromise(
      decodeCompletionSpec(
        '{"checkpoint": "runs/x", "images": {"source": "npy", "path": "a.npy"}}',
        "c.json",
        ["inference.steps=7"],
      ),
    )
    expect(spec.images).toEqual({ source: "npy", path: "a.npy", count: 100 })
    expect(spec.inference.steps).toBe(7)
    const error = await Effect.runPromise(
      decodeCompletionSpec('{"inference": {"restart": 3}}', "c.json", []).pipe(Effect.flip),
    )
    expect(error.message).toContain("inference.restart: unknown field; did you mean inference.restarts?")
  })

  it("the shipped file names a run that a shipped config trains", async () => {
    const source = "config/mnist-completion.json"
    const spec = await Effect.runPromise(
      decodeCompletionSpec(readFileSync(source, "utf8"), source, []).pipe(Effect.provide(NodeServices.layer)),
    )
    const run = spec.checkpoint.replace(/^runs\//, "")
    expect(JSON.parse(readFileSync(`config/${run}.json`, "utf8")).name).toBe(run)
    expect(spec.inference.bank).toBeGreaterThan(0)
    // that run is the default run trained longer: the two files differ only where the notes say
    const settings = (file: string) => {
      const { notes: _notes, name: _name, ...rest } = JSON.parse(readFileSync(file, "utf8"))
      return {
        ...rest,
        training: { ...rest.training, iterations: 0 },
        output: { ...rest.output, checkpointEvery: 0 },
      }
    }
    expect(settings(`config/${run}.json`)).toEqual(settings("config/mnist-quick.json"))
  })

  it("reads back the .npy files it writes", () => {
    const values = Float32Array.from([0, 0.25, 0.5, 1, 0.75, 0.125])
    const npy = decodeNpy(encodeNpy(values, [1, 2, 3]))
    expect(npy.shape).toEqual([1, 2, 3])
    expect(Array.from(npy.values)).toEqual(Array.from(values))
    expect(() => decodeNpy(new Uint8Array(20))).toThrow(/not a .npy file/)
  })
})

describe("complete (command line) on a tiny trained run", () => {
  const dir = mkdtempSync(join(tmpdir(), "coopnets-complete-"))
  const completion = (over: object) => {
    const file = join(dir, `completion-${Math.random().toString(36).slice(2)}.json`)
    writeFileSync(
      file,
      JSON.stringify({
        checkpoint: join(dir, "run"),
        images: { source: "held-out", count: 8 },
        masks: [
          { kind: "square", size: 10 },
          { kind: "square", size: 8, position: "random" },
        ],
        inference: { restarts: 2, steps: 3, stepSize: 0.1, noise: true },
        refine: { steps: 2, stepSize: 0.002 },
        // the class-agreement column trains the full MNIST classifier; it is tested below with a tiny one
        classAgreement: false,
        show: 4,
        ...over,
      }),
    )
    return file
  }

  beforeAll(() => {
    const pipeline = join(dir, "pipeline.json")
    const s = tinySpec()
    writeFileSync(
      pipeline,
      JSON.stringify({
        name: "tiny",
        backend: testBackend,
        data: s.data,
        model: s.model,
        training: s.training,
        langevin: { stepSize: 0.003 },
      }),
    )
    const r = cli(pipeline, "--out", join(dir, "run"))
    expect(r.code, r.stderr).toBe(0)
  })

  it("writes triplets, .npy files and a report with both baselines; visible pixels are the originals", async () => {
    const r = cli("complete", completion({}), "--out", join(dir, "out"))
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toContain("| square10-center | 12.8% | CoopNets |")
    expect(r.stdout).toContain("nearest training image")
    expect(r.stdout).toContain("mean of visible pixels")
    expect(r.stdout).toContain("generator only (before refinement)")
    const report = JSON.parse(readFileSync(join(dir, "out", "report.json"), "utf8"))
    expect(report.masks.map((m: { name: string }) => m.name)).toEqual(["square10-center", "square8-random"])
    expect(report.refine).toEqual({ steps: 2, stepSize: 0.002 })
    // "beats" is the comparison of the hidden-pixel errors in the same report
    for (const mask of report.masks)
      expect(mask.beats).toEqual({
        meanFill: mask.scores.coopnets.hiddenMae < mask.scores.meanFill.hiddenMae,
        nearestNeighbour: mask.scores.coopnets.hiddenMae < mask.scores.nearestNeighbour.hiddenMae,
      })
    const meta = await sharp(join(dir, "out", "square10-center", "triplets.png")).metadata()
    expect([meta.width, meta.height]).toEqual([4 * 29 - 1, 3 * 29 - 1])
    const read = (f: string) => decodeNpy(readFileSync(join(dir, "out", "square8-random", f)))
    const [original, recovered, masks] = [read("original.npy"), read("recovered.npy"), read("masks.npy")]
    expect(original.shape).toEqual([8, 28, 28])
    expect(masks.shape).toEqual([8, 28, 28])
    let hiddenChanged = 0
    masks.values.forEach((m, i) => {
      if (m === 1) expect(recovered.values[i]).toBe(original.values[i])
      else if (recovered.values[i] !== original.values[i]) hiddenChanged++
    })
    expect(hiddenChanged).toBeGreaterThan(0)
  })

  it("starts the chains from the encoded training images, cached beside the checkpoint and read back the same", () => {
    const file = completion({
      masks: [{ kind: "square", size: 10 }],
      inference: {
        restarts: 2,
        steps: 3,
        stepSize: 0.1,
        noise: false,
        bank: 30,
        starts: "training",
        encodeSteps: 2,
      },
      refine: { steps: 0 },
    })
    const cache = join(
      dir,
      "run",
      "checkpoints",
      "final",
      "encoded-training-s2-d0.1-sigma0.3-bank30-seed0.npy",
    )
    const first = cli("complete", file, "--out", join(dir, "enc1"))
    expect(first.code, first.stderr).toBe(0)
    expect(first.stderr).toContain(
      "[complete] encoding the 64 training images (2 gradient steps each, from the best of 30 samples) …",
    )
    expect(first.stderr).toContain(`; cached in ${cache}`)
    expect(first.stderr).toContain("3 z steps from the best of 64 encoded training images")
    expect(decodeNpy(readFileSync(cache)).shape).toEqual([64, 5])
    const second = cli("complete", file, "--out", join(dir, "enc2"))
    expect(second.code, second.stderr).toBe(0)
    expect(second.stderr).toContain(`[complete] the encoded training images read from ${cache}`)
    const recovered = (out: string) => readFileSync(join(dir, out, "square10-center", "recovered.npy"))
    expect(recovered("enc2").equals(recovered("enc1"))).toBe(true)
    // a damaged cache is encoded again and replaced, with the same result
    writeFileSync(cache, "not an npy file")
    const third = cli("complete", file, "--out", join(dir, "enc3"))
    expect(third.code, third.stderr).toBe(0)
    expect(third.stderr).toContain(`[complete] ${cache} does not hold 64x5 latent vectors; encoding again`)
    expect(decodeNpy(readFileSync(cache)).shape).toEqual([64, 5])
    expect(recovered("enc3").equals(recovered("enc1"))).toBe(true)
  })

  it("scores class agreement with the MNIST classifier: the column, and beatsOnClasses from the same numbers", async () => {
    const file = completion({
      classAgreement: true,
      masks: [{ kind: "square", size: 12 }],
      inference: { restarts: 2, steps: 3, stepSize: 0.1, noise: true, anneal: true, average: 2 },
      refine: { steps: 0 },
    })
    const spec = await Effect.runPromise(
      decodeCompletionSpec(readFileSync(file, "utf8"), file, []).pipe(Effect.provide(NodeServices.layer)),
    )
    const { report, table } = await Effect.runPromise(
      completeRun({
        spec,
        source: file,
        outDir: join(dir, "classes"),
        force: false,
        quiet: true,
        classifier: {
          dir: join(dir, "classifier"),
          settings: { ...defaultClassifierSettings, steps: 4, batchSize: 16 },
        },
      }).pipe(Effect.provide(NodeServices.layer)),
    )
    const [mask] = report.masks
    for (const method of ["coopnets", "meanFill", "nearestNeighbour"] as const) {
      const agreement = mask?.scores[method]?.classAgreement as number
      expect(agreement).toBeGreaterThanOrEqual(0)
      expect(agreement).toBeLessThanOrEqual(1)
      expect(agreement * 8).toBeCloseTo(Math.round(agreement * 8), 10) // a fraction of the 8 images
    }
    expect(mask?.beatsOnClasses).toEqual({
      meanFill:
        (mask?.scores.coopnets?.classAgreement as number) > (mask?.scores.meanFill?.classAgreement as number),
      nearestNeighbour:
        (mask?.scores.coopnets?.classAgreement as number) >
        (mask?.scores.nearestNeighbour?.classAgreement as number),
    })
    expect(table).toContain(
      "| mask | hidden | method | MAE hidden | MAE whole | PSNR (dB) | class agreement |",
    )
    expect(table).toContain("annealed Langevin steps, the fill the pixelwise mean over the 2 best restarts")
    expect(table).toMatch(/\| CoopNets \| [0-9.]+ \| [0-9.]+ \| [0-9.]+ \| [0-9.]+%/)
    // without the classifier, the column is empty
    const plain = cli(
      "complete",
      completion({ masks: [{ kind: "square", size: 12 }] }),
      "--out",
      join(dir, "plain"),
    )
    expect(plain.code, plain.stderr).toBe(0)
    expect(plain.stdout).toMatch(/\| CoopNets \| [0-9.]+ \| [0-9.]+ \| [0-9.]+ \| – \|/)
  })

  it("refines with the trained run's Langevin step size unless the completion file sets one", () => {
    const out = join(dir, "inherit")
    const r = cli(
      "complete",
      completion({ refine: { steps: 2 }, masks: [{ kind: "square", size: 8 }] }),
      "--out",
      out,
    )
    expect(r.code, r.stderr).toBe(0)
    expect(JSON.parse(readFileSync(join(out, "report.json"), "utf8")).refine).toEqual({
      steps: 2,
      stepSize: 0.003,
    })
  })

  it("is documented in --help and needs exactly one completion file", () => {
    expect(cli("--help").stdout).toContain("node dist/run.js complete [flags] <completion.json>")
    const none = cli("complete")
    expect(none.code).toBe(2)
    expect(none.stderr).toContain("complete needs exactly one completion file")
  })

  it("completes the images of an .npy file and refuses one of another image size", () => {
    const digits = join(dir, "digits.npy")
    writeFileSync(digits, encodeNpy(toUnit(syntheticDigits.images.slice(0, 3 * 784)), [3, 28, 28]))
    const ok = cli(
      "complete",
      completion({ images: { source: "npy", path: digits, count: 3 }, masks: [{ kind: "square", size: 6 }] }),
      "--out",
      join(dir, "npy"),
    )
    expect(ok.code, ok.stderr).toBe(0)
    expect(ok.stdout).toContain(`Completion of 3 images in ${digits}`)
    expect(decodeNpy(readFileSync(join(dir, "npy", "square6-center", "recovered.npy"))).shape).toEqual([
      3, 28, 28,
    ])
    const small = join(dir, "small.npy")
    writeFileSync(small, encodeNpy(new Float32Array(2 * 14 * 14), [2, 14, 14]))
    const bad = cli(
      "complete",
      completion({ images: { source: "npy", path: small, count: 2 } }),
      "--out",
      join(dir, "b3"),
    )
    expect(bad.code).toBe(1)
    expect(bad.stderr).toContain(`images.path ${small} holds 14x14x1 images, but`)
  })

  it("refuses a mask as large as the image and a folder source with too few images, naming the field", () => {
    const big = cli(
      "complete",
      completion({ masks: [{ kind: "square", size: 28 }] }),
      "--out",
      join(dir, "bad"),
    )
    expect(big.code).toBe(2)
    expect(big.stderr).toContain("masks[0].size is 28, but the images are 28x28")
    const many = cli(
      "complete",
      completion({ images: { source: "held-out", count: 5000 } }),
      "--out",
      join(dir, "b2"),
    )
    expect(many.stderr).toContain(
      "images.count is 5000 but there are 1000 held-out MNIST digits (of 1000); lower images.count.",
    )
  })
})
