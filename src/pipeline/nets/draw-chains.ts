/**
 * Drawing samples the way a run's own chains made them during training: its chains stage starts
 * them (generator drafts g(z), the reference noise N(0, s²I), the persistent buffer, …) and its
 * revise stage revises them (the training number of descriptor Langevin steps, or none). This is
 * the sampler an ablation must be judged by: "the descriptor alone" draws from noise plus Langevin,
 * not from its (untrained) generator; "the generator alone" draws g(z).
 *
 * Batches of `training.chains`, keyed by the sampling seed and iterations after the last training
 * iteration, so no draw repeats one of training. Persistent chains continue from the buffer the
 * checkpoint holds, batch after batch (the write-back runs as in training; nothing is learned).
 */
import * as tf from "@tensorflow/tfjs-core"
import { Effect } from "effect"
import { CLASSES } from "../../models/nets.js"
import { release } from "../../stages/records.js"
import { imageShapeOf } from "../config/shapes.js"
import type { PipelineSpec } from "../config/spec.js"
import { stagesOf } from "../training/stages.js"

/** `count` samples in [-1, 1], N×H×W×C values, as the run's chains and revise stages make them. */
export const drawAsTrained = (spec: PipelineSpec, count: number, seed: number) =>
  Effect.gen(function* () {
    const sampling: PipelineSpec = { ...spec, seed }
    const { draft, revise, writeBack } = stagesOf(sampling)
    const [h, w, c] = imageShapeOf(spec)
    const size = h * w * c
    const chains = spec.training.chains
    const out = new Float32Array(count * size)
    for (let first = 0, b = 0; first < count; first += chains, b++) {
      const m = Math.min(chains, count - first)
      const labels = Int32Array.from(
        { length: Math.max(chains, spec.training.batchSize) },
        (_, j) => (first + j) % CLASSES,
      )
      const observed = {
        // after training's last iteration: fresh keys, and persistent chains continue (iteration 0 restarts them all)
        iteration: spec.training.iterations + b,
        epoch: 0,
        images: tf.zeros([labels.length, h, w, c]) as tf.Tensor4D,
        labels,
        timings: {},
      }
      const revised = yield* draft(observed).pipe(Effect.flatMap(revise), Effect.flatMap(writeBack))
      const values = revised.revised.dataSync() as Float32Array
      out.set(values.subarray(0, m * size), first * size)
      release(revised)
    }
    return out
  })
