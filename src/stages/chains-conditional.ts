/**
 * chains "conditional" (class-conditional CoopNets, FACTS.md §7): chain j is
 * drafted for the class of observed image j, X̃ = g(z, y) with z ~ N(0, I) and
 * y one-hot; the record carries the one-hot labels so that revision, the
 * descriptor's update and teaching condition both nets on them. Needs as many
 * chains as observed images (checked with the spec).
 */
import * as tf from "@tensorflow/tfjs-core"
import { Effect } from "effect"
import { generate, withLabels } from "../models/coopnets.js"
import { CLASSES } from "../models/nets.js"
import { foldIn, normalTensor, rootKey } from "../models/random.js"
import { guardFinite } from "./divergence.js"
import { Models } from "./models.js"
import { type Drafted, type Observed, timed } from "./records.js"
import type { Stage, StageOptions } from "./stage.js"

/** [n, CLASSES] one-hot rows of `labels`. */
export const oneHot = (labels: Int32Array): tf.Tensor2D =>
  tf.tidy(() => tf.oneHot(tf.tensor1d(labels, "int32"), CLASSES).toFloat() as tf.Tensor2D)

export const conditionalChains =
  (o: StageOptions): Stage<Observed, Drafted> =>
  (input) =>
    Effect.gen(function* () {
      const { generator } = yield* Models
      const [{ z, drafts, oneHotLabels, mean }, timings] = timed(input.timings, "draft", () => {
        const oneHotLabels = oneHot(input.labels)
        const z = normalTensor(foldIn(rootKey(o.seed), "draft", input.iteration), [
          o.chains,
          o.zDim,
        ]) as tf.Tensor2D
        const drafts = tf.tidy(() => generate(withLabels(generator, oneHotLabels), z))
        const mean = tf.tidy(() => tf.mean(drafts).dataSync()[0] as number)
        return { z, drafts, oneHotLabels, mean }
      })
      yield* guardFinite("draft", input.iteration, { "mean drafted pixel": mean }).pipe(
        Effect.tapError(() => Effect.sync(() => tf.dispose([z, drafts, oneHotLabels]))),
      )
      return { ...input, z, drafts, oneHotLabels, timings }
    })
