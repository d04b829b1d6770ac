/** chains "generator" (the default): z ~ N(0, I), X̃ = g(z), fresh every iteration. */
import * as tf from "@tensorflow/tfjs-core"
import { Effect } from "effect"
import { canKeepGeneratorPass, disposeKept, generate, generateKeeping } from "../models/coopnets.js"
import { foldIn, normalTensor, rootKey } from "../models/random.js"
import type { Drafted, Observed } from "./records.js"
import { type CoreOptions, compute, defineStage, type Stage } from "./stage.js"

/**
 * z ~ N(0, I) keyed by (seed, "draft", iteration), then g(z); `labels` condition
 * the generator. With `keepPass` the record carries the generator's forward pass
 * (`generatorPass`) so that teaching differentiates it without running it again.
 */
export const draftFromGenerator =
  (o: CoreOptions, keepPass = false): Stage<Observed, Drafted> =>
  (input) =>
    compute(
      input,
      "draft",
      ({ generator }) => {
        const z = normalTensor(foldIn(rootKey(o.seed), "draft", input.iteration), [
          o.chains,
          o.zDim,
        ]) as tf.Tensor2D
        const generatorPass =
          keepPass && canKeepGeneratorPass(generator) ? generateKeeping(generator, z) : undefined
        const drafts = generatorPass?.output ?? tf.tidy(() => generate(generator, z))
        const mean = tf.tidy(() => tf.mean(drafts).dataSync()[0] as number)
        return { z, drafts, mean, generatorPass }
      },
      (r) => ({ "mean drafted pixel": r.mean }),
      (r) => {
        if (r.generatorPass !== undefined) disposeKept(r.generatorPass)
        return [r.z, r.drafts]
      },
    ).pipe(
      Effect.map(([{ z, drafts, generatorPass }, timings]) => ({
        ...input,
        z,
        drafts,
        ...(generatorPass !== undefined ? { generatorPass } : {}),
        timings,
      })),
    )

export const generatorChains = defineStage({
  slot: "chains",
  name: "generator",
  summary: "chains start from fresh drafts g(z) (the default)",
  options: {},
  provides: ["z", "freshDrafts"],
  make: (o) => draftFromGenerator(o, true),
})
