/**
 * The records that flow through one cooperative iteration:
 *   Observed → Drafted → Revised → Updated → Taught
 * Each record carries the tensors of the ones before it; a stage passes on
 * what it does not drop and the end of the pipeline releases the record.
 */
import type * as tf from "@tensorflow/tfjs-core"
import { type DescriptorStep, disposeKept, type GeneratorStep, type KeptForward } from "../models/coopnets.js"

/** Milliseconds spent in each stage of this iteration. */
export type Timings = Readonly<Record<string, number>>

export interface Observed {
  readonly iteration: number
  readonly epoch: number
  /** [batch, h, w, c] in [-1, 1] */
  readonly images: tf.Tensor4D
  readonly labels: Int32Array
  readonly timings: Timings
}

export interface Drafted extends Observed {
  /** [chains, zDim]; null when the chains do not start from generator drafts (e.g. chains "noise") */
  readonly z: tf.Tensor2D | null
  /** [chains, h, w, c]: the starting points of the descriptor's chains */
  readonly drafts: tf.Tensor4D
  /**
   * [chains, classes] one-hot labels that condition both nets (chains "conditional",
   * where chain j carries the label of observed image j); absent otherwise
   */
  readonly oneHotLabels?: tf.Tensor2D
  /**
   * The generator's forward pass that drafted every chain from `z` in this
   * iteration (its `output` is `drafts`), kept so that teaching needs no second
   * one; absent when the chains were not all drafted afresh
   */
  readonly generatorPass?: KeptForward
}

export interface Revised extends Drafted {
  /** [chains, h, w, c]: the drafts after descriptor Langevin */
  readonly revised: tf.Tensor4D
  /** mean energy of the chains' starting points; null when there is no descriptor (revise "none") */
  readonly draftEnergy: number | null
}

export interface Updated extends Revised {
  /** null when the descriptor is not trained (updateDescriptor "none") */
  readonly descriptor: DescriptorStep | null
}

export interface Taught extends Updated {
  /** null when the generator is not taught */
  readonly generator: GeneratorStep | null
}

/** Disposes every tensor a record holds (the end of an iteration). */
export const release = (record: Partial<Taught>): void => {
  for (const t of [record.images, record.z, record.drafts, record.revised, record.oneHotLabels]) t?.dispose()
  if (record.generatorPass !== undefined) disposeKept(record.generatorPass)
}
