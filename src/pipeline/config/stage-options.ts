/** What a stage variant is built with, read off a spec: the core options and the sections it declares. */
import type { AnyVariant, CoreOptions } from "../../stages/stage.js"
import { noiseSeed } from "./recovery-spec.js"
import { latentSizeOf } from "./shapes.js"
import type { PipelineSpec } from "./spec.js"

export const coreOptionsOf = (spec: PipelineSpec): CoreOptions => ({
  // fresh noise after each recovery from divergence (the data order and the initial weights keep spec.seed)
  seed: noiseSeed(spec.seed, spec.recovery.recovered.length),
  chains: spec.training.chains,
  batchSize: spec.training.batchSize,
  zDim: latentSizeOf(spec),
  generatorSigma: spec.generatorSigma,
})

/** The option sections `variant` declares, as the spec holds them. */
export const sectionsFor = (spec: PipelineSpec, variant: AnyVariant): Readonly<Record<string, unknown>> =>
  Object.fromEntries(
    Object.keys(variant.options).map((key) => [key, (spec as Readonly<Record<string, unknown>>)[key]]),
  )

export const optionsFor = (spec: PipelineSpec, variant: AnyVariant) => ({
  ...coreOptionsOf(spec),
  ...sectionsFor(spec, variant),
})
