/** Builds the nets and optimisers a spec names, as a scoped service that disposes them on release. */
import * as tf from "@tensorflow/tfjs-core"
import { Effect, Layer } from "effect"
import { initParams } from "../../models/layers.js"
import { foldIn, rootKey } from "../../models/random.js"
import { adamWithDecay } from "../../models/weight-decay.js"
import { Models, type ModelsShape } from "../../stages/models.js"
import { netSpecsOf } from "../config/shapes.js"
import type { PipelineSpec } from "../config/spec.js"
import { startAverage } from "./generator-average.js"

export const buildModels = (spec: PipelineSpec): ModelsShape => {
  const key = foldIn(rootKey(spec.seed), "init")
  const { descriptor: descriptorSpec, generator: generatorSpec } = netSpecsOf(spec)
  const models: ModelsShape = {
    descriptor: {
      spec: descriptorSpec,
      params: initParams(descriptorSpec, foldIn(key, "descriptor"), "descriptor"),
    },
    generator: {
      spec: generatorSpec,
      params: initParams(generatorSpec, foldIn(key, "generator"), "generator"),
    },
    descriptorOptimizer: adamWithDecay(spec.optimizer.descriptor),
    generatorOptimizer: adamWithDecay(spec.optimizer.generator),
    state: new Map(),
  }
  startAverage(spec, models)
  return models
}

export const disposeModels = (m: ModelsShape): void => {
  tf.dispose([...m.descriptor.params.values(), ...m.generator.params.values(), ...m.state.values()])
  m.descriptorOptimizer.dispose()
  m.generatorOptimizer.dispose()
}

export const layer = (spec: PipelineSpec): Layer.Layer<Models> =>
  Layer.effect(
    Models,
    Effect.acquireRelease(
      Effect.sync(() => buildModels(spec)),
      (m) => Effect.sync(() => disposeModels(m)),
    ),
  )
