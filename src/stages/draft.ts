/** draft (chains: "generator"): z ~ N(0, I), X̃ = g(z). */
import * as tf from "@tensorflow/tfjs-core"
import { Effect } from "effect"
import { generate } from "../models/coopnets.js"
import { foldIn, normalTensor, rootKey } from "../models/random.js"
import { guardFinite } from "./divergence.js"
import { Models } from "./models.js"
import { type Drafted, type Observed, timed } from "./records.js"
import type { Stage, StageOptions } from "./stage.js"

export const draftFromGenerator =
  (o: StageOptions): Stage<Observed, Drafted> =>
  (input) =>
    Effect.gen(function* () {
      const { generator } = yield* Models
      const [{ z, drafts, mean }, timings] = timed(input.timings, "draft", () => {
        const z = normalTensor(foldIn(rootKey(o.seed), "draft", input.iteration), [
          o.chains,
          o.zDim,
        ]) as tf.Tensor2D
        const drafts = tf.tidy(() => generate(generator, z))
        const mean = tf.tidy(() => tf.mean(drafts).dataSync()[0] as number)
        return { z, drafts, mean }
      })
      yield* guardFinite("draft", input.iteration, { "mean drafted pixel": mean }).pipe(
        Effect.tapError(() => Effect.sync(() => tf.dispose([z, drafts]))),
      )
      return { ...input, z, drafts, timings }
    })
