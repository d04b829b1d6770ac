#!/usr/bin/env node
/**
 * Tries z-inference and refinement settings for pattern completion on one
 * checkpoint, on the held-out digits in `complete`'s order, with centred square
 * masks; prints hidden-pixel MAE and class agreement (the classifier's label of
 * the completed digit equals its label of the original) for each setting and for
 * the nearest-training-image fill. A prototype for tuning (not a product command).
 *
 *   node scripts/quality/completion-probe.mjs CKPT --n 200 --masks 12,16 \
 *     --try '{"restarts":3,"steps":50,"stepSize":0.1,"noise":true}' [--try ...] [--refine 0,20]
 */
import { NodeServices } from "@effect/platform-node"
import * as tf from "@tensorflow/tfjs-core"
import { Effect } from "effect"
import { classify } from "../../dist/models/classifier.js"
import { complete } from "../../dist/models/completion.js"
import { nearestNeighbourFill } from "../../dist/models/completion-baselines.js"
import { meanScores, scoreImages, toUnit } from "../../dist/models/completion-metrics.js"
import { squareMasks } from "../../dist/models/masks.js"
import { foldIn, permutation, rootKey } from "../../dist/models/random.js"
import { selectBackend } from "../../dist/pipeline/backend/select.js"
import { latentSizeOf } from "../../dist/pipeline/config/shapes.js"
import { loadMnistSplit } from "../../dist/pipeline/data/mnist.js"
import { openClassifier } from "../../dist/pipeline/evaluation/mnist-classifier.js"
import { openTrainedRun, withTrainedModels } from "../../dist/pipeline/nets/trained.js"

const argv = process.argv.slice(2)
const ckpt = argv[0]
const opt = (name, fallback) => {
  const i = argv.indexOf(name)
  return i < 0 ? fallback : argv[i + 1]
}
const n = Number(opt("--n", 200))
const sizes = opt("--masks", "12,16").split(",").map(Number)
const tries = argv.flatMap((a, i) => (a === "--try" ? [JSON.parse(argv[i + 1])] : []))
const refineSteps = opt("--refine", "0").split(",").map(Number)
const refineStep = Number(opt("--refine-step", 0.002))
const batch = Number(opt("--batch", 0))
const PIX = 784

await selectBackend("tensorflow")
const program = Effect.gen(function* () {
  const run = yield* openTrainedRun(ckpt, "/tmp/completion-probe-unused", true, "x")
  const all = yield* loadMnistSplit("test")
  const train = yield* loadMnistSplit("train")
  const order = permutation(foldIn(rootKey(0), "held-out"), all.count)
  const images = new Float32Array(n * PIX)
  for (let i = 0; i < n; i++) images.set(all.images.subarray(order[i] * PIX, (order[i] + 1) * PIX), i * PIX)
  const classifier = yield* openClassifier(undefined, () => {})
  const label = (values) => {
    const { probabilities } = classify(classifier.classifier, values, n)
    return Array.from({ length: n }, (_, i) => {
      let best = 0
      for (let c = 1; c < 10; c++) if (probabilities[i * 10 + c] > probabilities[i * 10 + best]) best = c
      return best
    })
  }
  const truthLabels = label(images)
  const agreement = (values) => {
    const l = label(values)
    return l.filter((x, i) => x === truthLabels[i]).length / n
  }
  const truth = toUnit(images)
  const mae = (fill, masks) => meanScores(scoreImages(truth, toUnit(fill), masks, n, 1)).hiddenMae
  yield* withTrainedModels(run, "tensorflow", true, (models) => {
    for (const size of sizes) {
      const masks = squareMasks(n, 28, 28, size, "center", foldIn(rootKey(0), "masks", 0))
      const nn = nearestNeighbourFill(images, masks, n, train.images, train.count, 1)
      console.log(
        `mask ${size}: nearest training image  MAE ${mae(nn, masks).toFixed(4)}  agree ${(agreement(nn) * 100).toFixed(1)}%`,
      )
      for (const t of tries)
        for (const r of refineSteps) {
          const t0 = performance.now()
          const per = batch || run.spec.training.chains
          const batches = Math.ceil(n / per)
          const completed = new Float32Array(n * PIX)
          const generated = new Float32Array(n * PIX)
          for (let b = 0; b < batches; b++) {
            const first = Math.floor((b * n) / batches)
            const last = Math.floor(((b + 1) * n) / batches)
            const m = last - first
            const [c, g] = tf.tidy(() => {
              const observed = tf.tensor4d(images.subarray(first * PIX, last * PIX), [m, 28, 28, 1])
              const mask = tf.tensor4d(masks.subarray(first * PIX, last * PIX), [m, 28, 28, 1])
              const out = complete(
                { spec: models.generator.spec, params: models.generator.params },
                { spec: models.descriptor.spec, params: models.descriptor.params },
                observed,
                mask,
                latentSizeOf(run.spec),
                { sigma: run.spec.generatorSigma, ...t },
                { ...run.spec.langevin, steps: r, stepSize: refineStep },
                foldIn(rootKey(0), "complete", b),
              )
              return [out.completed, out.generated]
            })
            completed.set(c.dataSync(), first * PIX)
            generated.set(g.dataSync(), first * PIX)
            tf.dispose([c, g])
          }
          const s = ((performance.now() - t0) / 1000).toFixed(0)
          // how well g(z*) fits the visible pixels it was inferred from ([0, 1] pixels)
          let fit = 0
          let visible = 0
          for (let i = 0; i < n * PIX; i++)
            if (masks[i] === 1) {
              fit += Math.abs(generated[i] - images[i]) / 2
              visible++
            }
          console.log(
            `mask ${size}: ${JSON.stringify(t)} refine ${r}  MAE ${mae(completed, masks).toFixed(4)}  agree ${(agreement(completed) * 100).toFixed(1)}%  visible fit ${(fit / visible).toFixed(4)}  (${s} s)`,
          )
        }
    }
  })
})
await Effect.runPromise(program.pipe(Effect.provide(NodeServices.layer)))
