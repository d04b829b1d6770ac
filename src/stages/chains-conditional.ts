/**
 * chains "conditional" (class-conditional CoopNets; jianwen-xie/Conditional-CoopNets,
 * model_mnist.py): chain j is drafted for the class of observed image j,
 * X̃ = g(z, y) with z ~ N(0, I) and y one-hot; the record carries the one-hot
 * labels so that revision, the descriptor's update and teaching condition both
 * nets on them.
 */
import type * as tf from "@tensorflow/tfjs-core"
import { Effect } from "effect"
import { oneHot } from "../models/labels.js"
import { draftFromGenerator } from "./draft.js"
import type { Drafted, Observed } from "./records.js"
import { type CoreOptions, defineStage, type Stage } from "./stage.js"

const draftForLabels = (o: CoreOptions): Stage<Observed, Drafted> => {
  const draft = draftFromGenerator(o, true)
  return (input) => {
    const oneHotLabels: tf.Tensor2D = oneHot(input.labels)
    // the generator reads the labels the record carries
    const labelled = { ...input, oneHotLabels }
    return draft(labelled).pipe(
      Effect.map((drafted) => ({ ...drafted, oneHotLabels })),
      Effect.tapError(() => Effect.sync(() => oneHotLabels.dispose())),
    )
  }
}

export const conditionalChains = defineStage({
  slot: "chains",
  name: "conditional",
  summary:
    'chain j is drafted as g(z, y_j) for the label y_j of observed image j (one-hot); both nets read the labels (model.arch "mnistConditional")',
  options: {},
  provides: ["z", "labels"],
  check: ({ options, dataSource }) => [
    ...(options.chains !== options.batchSize
      ? [
          `stages.chains "conditional" pairs chain j with the label of observed image j, so training.chains (${options.chains}) must equal training.batchSize (${options.batchSize})`,
        ]
      : []),
    ...(dataSource !== "mnist"
      ? [
          `stages.chains "conditional" needs class labels, which data.source "mnist" provides and data.source "${dataSource}" does not`,
        ]
      : []),
  ],
  make: draftForLabels,
})
