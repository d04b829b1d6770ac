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
}

export class Models extends Context.Service<Models, ModelsShape>()("coopnets/Models") {}
