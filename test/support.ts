/**
 * Shared test helpers. Tests run on the backend named by COOPNETS_TEST_BACKEND
 * (default "auto": native TensorFlow when built, else wasm/cpu); the pure-JS
 * path is exercised separately by tests that ask for "cpu" explicitly.
 */
import { spawnSync } from "node:child_process"
import * as tf from "@tensorflow/tfjs-core"
import { type BackendChoice, selectBackend } from "../src/pipeline/backend/select.js"
import { specDefaults as defaults, type PipelineSpec } from "../src/pipeline/config/spec.js"
import { batchAt, type Dataset } from "../src/stages/load.js"
import type { Observed } from "../src/stages/records.js"

export const testBackend = (process.env.COOPNETS_TEST_BACKEND ?? "auto") as BackendChoice

export const useTestBackend = async (choice: BackendChoice = testBackend): Promise<string> =>
  (await selectBackend(choice)).name

/** A tiny MNIST-topology pipeline: same layers, a few channels, few chains. */
export const tinySpec = (over: Partial<PipelineSpec> = {}): PipelineSpec => ({
  ...defaults,
  name: "tiny",
  backend: testBackend,
  data: { source: "mnist", split: "train", limit: 64 },
  model: {
    ...defaults.model,
    descriptorChannels: [4, 4, 4],
    descriptorUnits: 3,
    zDim: 5,
    generatorChannels: [6, 4, 4],
  },
  training: { iterations: 3, batchSize: 8, chains: 6 },
  langevin: { ...defaults.langevin, steps: 2 },
  output: { ...defaults.output, sampleEvery: 2, checkpointEvery: 0, logEvery: 1 },
  ...over,
})

export const bytesOf = (t: tf.Tensor): Uint8Array =>
  new Uint8Array((t.dataSync() as Float32Array).slice().buffer)

/** Twenty synthetic 28x28 "digits" in [-1, 1] with labels 0-9: data for stage contracts. */
export const syntheticDigits: Dataset = (() => {
  const count = 20
  const images = new Float32Array(count * 784)
  for (let i = 0; i < images.length; i++) images[i] = Math.sin(i) * 0.9
  return { images, labels: Int32Array.from({ length: count }, (_, i) => i % 10), count, shape: [28, 28, 1] }
})()

/** The observed record of `iteration` under `spec`, as the load stage would emit it. */
export const observedAt = (spec: PipelineSpec, iteration: number): Observed => {
  const b = batchAt(syntheticDigits, { seed: spec.seed, batchSize: spec.training.batchSize }, iteration)
  return {
    iteration,
    epoch: b.epoch,
    images: tf.tensor4d(b.images, [spec.training.batchSize, 28, 28, 1]),
    labels: b.labels,
    timings: {},
  }
}

/** The real command line, `node dist/run.js …` (built by the e2e project's global setup). */
export const cli = (...args: ReadonlyArray<string>) => {
  const r = spawnSync(process.execPath, ["dist/run.js", ...args], { encoding: "utf8" })
  return { code: r.status, stdout: r.stdout, stderr: r.stderr }
}
