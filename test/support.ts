/**
 * Shared test helpers. Tests run on the backend named by COOPNETS_TEST_BACKEND
 * (default "auto": native TensorFlow when built, else wasm/cpu); the pure-JS
 * path is exercised separately by tests that ask for "cpu" explicitly.
 */
import type * as tf from "@tensorflow/tfjs-core"
import { type BackendChoice, selectBackend } from "../src/pipeline/backend.js"
import { defaults, type PipelineSpec } from "../src/pipeline/spec.js"

export const testBackend = (process.env.COOPNETS_TEST_BACKEND ?? "auto") as BackendChoice

export const useTestBackend = async (choice: BackendChoice = testBackend): Promise<string> =>
  (await selectBackend(choice)).name

/** A tiny MNIST-topology pipeline: same layers, a few channels, few chains. */
export const tinySpec = (over: Partial<PipelineSpec> = {}): PipelineSpec => ({
  ...defaults,
  name: "tiny",
  backend: testBackend,
  data: { source: "mnist", limit: 64 },
  model: {
    ...defaults.model,
    descriptorChannels: [4, 4, 4],
    descriptorUnits: 3,
    zDim: 5,
    generatorChannels: [6, 4, 4],
  },
  training: { iterations: 3, batchSize: 8, chains: 6 },
  langevin: { ...defaults.langevin, steps: 2 },
  output: { sampleEvery: 2, checkpointEvery: 0, logEvery: 1 },
  ...over,
})

export const bytesOf = (t: tf.Tensor): Uint8Array =>
  new Uint8Array((t.dataSync() as Float32Array).slice().buffer)
