/**
 * The moving average of the generator's weights (`generatorAverage.decay`,
 * src/models/ema.ts) as part of a run's models: kept in `Models.state` under
 * `generator-average/<parameter>` (so checkpoints carry it and `--resume`
 * restores it), updated after every teaching step, and swapped into the
 * generator when a trained run is sampled.
 */
import * as tf from "@tensorflow/tfjs-core"
import { createAverage, updateAverage } from "../../models/ema.js"
import type { Params } from "../../models/layers.js"
import type { ModelsShape } from "../../stages/models.js"
import type { PipelineSpec } from "../config/spec.js"
import type { LoadedCheckpoint } from "../run-dir/checkpoint.js"

const PREFIX = "generator-average/"

/** Which generator weights a trained run is sampled with: the moving average (when the run kept one) or the last iterate. */
export type GeneratorWeights = "average" | "last"

/** Adds the average (a copy of the initial weights) to `models.state` when the spec asks for one. */
export const startAverage = (spec: PipelineSpec, models: ModelsShape): void => {
  if (spec.generatorAverage.decay === 0) return
  for (const [name, v] of createAverage(models.generator.params, "generator-average"))
    models.state.set(`${PREFIX}${name}`, v)
}

/** The average's variables by generator parameter name, or undefined when the models keep none. */
const averageParams = (models: ModelsShape): Params | undefined => {
  const entries = [...models.generator.params.keys()].map(
    (name) => [name, models.state.get(`${PREFIX}${name}`)] as const,
  )
  return entries.every(([, v]) => v !== undefined)
    ? new Map(entries as Array<[string, tf.Variable]>)
    : undefined
}

/** θ̄ ← β_t·θ̄ + (1 − β_t)·θ after the teaching step of iteration `iteration` (0-based: β_t's t). */
export const advanceAverage = (spec: PipelineSpec, models: ModelsShape, iteration: number): void => {
  const average = averageParams(models)
  if (average !== undefined)
    updateAverage(average, models.generator.params, spec.generatorAverage.decay, iteration)
}

/**
 * With `weights` "average" and a checkpoint that holds the average, assigns it
 * to the generator's parameters (the models are a sampling copy, never trained
 * on). Returns the weights the generator now has.
 */
export const useGeneratorWeights = (
  checkpoint: LoadedCheckpoint,
  models: ModelsShape,
  weights: GeneratorWeights,
): GeneratorWeights => {
  if (weights === "last") return "last"
  const stored = [...models.generator.params].flatMap(([name, p]) => {
    const kept = checkpoint.values.get(`state/${PREFIX}${name}`)
    return kept !== undefined && kept.shape.join("x") === p.shape.join("x") ? [{ p, kept }] : []
  })
  if (stored.length !== models.generator.params.size) return "last"
  for (const { p, kept } of stored) tf.tidy(() => p.assign(tf.tensor(kept.values, [...kept.shape])))
  return "average"
}
