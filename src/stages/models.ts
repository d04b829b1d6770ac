/**
 * The trained state the compute stages share: both nets and their optimisers.
 * The pipeline provides it as a scoped layer that disposes every variable.
 */
import type * as tf from "@tensorflow/tfjs-core"
import { Context } from "effect"
import type { Net } from "../models/coopnets.js"

export interface ModelsShape {
  readonly descriptor: Net
  readonly generator: Net
  readonly descriptorOptimizer: tf.Optimizer
  readonly generatorOptimizer: tf.Optimizer
  /**
   * Further trained or sampled state that checkpoints must carry (e.g. persistent
   * chains), by name. Stages that need such state add it when the models are built.
   */
  readonly state: Map<string, tf.Variable>
}

export class Models extends Context.Service<Models, ModelsShape>()("coopnets/Models") {}
