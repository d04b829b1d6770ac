/** What a stage variant is built with, read off a spec: the core options and the sections it declares. */
import type { AnyVariant, CoreOptions } from "../../stages/stage.js"
import { latentSizeOf } from "./shapes.js"
import type { PipelineSpec } from "./spec.js"

export const coreOptionsOf = (spec: PipelineSpec): CoreOptions => ({
  seed: spec.seed,
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
