/**
 * The two samplers of nets/draw.ts: "generator" (g(z), then K Langevin steps) and "chains" (as the
 * run's own chains and revise stages made its samples in training). Tiny nets.
 */
import * as tf from "@tensorflow/tfjs-core"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { foldIn, normals, rootKey } from "../../src/models/random.js"
import type { PipelineSpec } from "../../src/pipeline/config/spec.js"
import { buildModels, disposeModels } from "../../src/pipeline/nets/build.js"
import { defaultSampler, drawSamples } from "../../src/pipeline/nets/draw.js"
import { PERSISTENT_CHAINS } from "../../src/stages/chains-persistent.js"
import { tinySpec, useTestBackend } from "../support.js"

const base = tinySpec({ training: { iterations: 3, batchSize: 8, chains: 6 } })
const withStages = (stages: Partial<PipelineSpec["stages"]>): PipelineSpec => ({
  ...base,
  stages: { ...base.stages, ...stages },
})

beforeAll(async () => {
  await useTestBackend()
})

describe("samplers", () => {
  let models: ReturnType<typeof buildModels>
  beforeAll(() => {
    models = buildModels(base)
  })
  afterAll(() => disposeModels(models))

  it("defaults to the generator when it is taught, else to the run's chains", () => {
    expect(defaultSampler(withStages({ teach: "mcmc" }))).toBe("generator")
    expect(
      defaultSampler(
        withStages({ chains: "generator", revise: "none", updateDescriptor: "none", teach: "abp" }),
      ),
    ).toBe("generator")
    expect(defaultSampler(withStages({ chains: "noise", teach: "none" }))).toBe("chains")
    expect(defaultSampler(withStages({ chains: "persistent", teach: "none" }))).toBe("chains")
    expect(defaultSampler(withStages({ teach: "none" }))).toBe("chains")
  })

  it('"chains" draws what the chains stage starts from, keyed after the last training iteration', () => {
    // chains "noise" without revision: the samples are the N(0, s²I) drafts themselves
    const spec = withStages({ chains: "noise", revise: "none", teach: "none" })
    const seed = 7
    const values = drawSamples(models, spec, 8, 0, seed, undefined, undefined, "chains")
    const perBatch = spec.training.chains * 28 * 28
    const expected = (batch: number) =>
      normals(foldIn(rootKey(seed), "draft", spec.training.iterations + batch), perBatch).map(
        (v) => v * spec.langevin.refSigma,
      )
    expect(Array.from(values.subarray(0, perBatch))).toEqual(Array.from(expected(0)))
    expect(Array.from(values.subarray(perBatch, 8 * 28 * 28))).toEqual(
      Array.from(expected(1).subarray(0, 2 * 28 * 28)),
    )
  })

  it('"chains" revises as training did: the same seed gives the same bytes, another seed others', () => {
    const spec = withStages({ chains: "noise", teach: "none" })
    const a = drawSamples(models, spec, 6, 0, 1, undefined, undefined, "chains")
    const b = drawSamples(models, spec, 6, 0, 1, undefined, undefined, "chains")
    const c = drawSamples(models, spec, 6, 0, 2, undefined, undefined, "chains")
    const unrevised = drawSamples(
      models,
      { ...spec, stages: { ...spec.stages, revise: "none" } },
      6,
      0,
      1,
      undefined,
      undefined,
      "chains",
    )
    expect(Buffer.from(a.buffer).equals(Buffer.from(b.buffer))).toBe(true)
    expect(Buffer.from(a.buffer).equals(Buffer.from(c.buffer))).toBe(false)
    // langevin.steps (2) descriptor steps moved the noise
    expect(Buffer.from(a.buffer).equals(Buffer.from(unrevised.buffer))).toBe(false)
    // K further steps change them again
    const more = drawSamples(models, spec, 6, 3, 1, undefined, undefined, "chains")
    expect(Buffer.from(a.buffer).equals(Buffer.from(more.buffer))).toBe(false)
  })

  it("persistent chains continue batch after batch from a copy of the buffer; the run's state is untouched", () => {
    const spec = withStages({ chains: "persistent", teach: "none" })
    const persistent = models
    const buffer = tf.variable(
      tf.randomNormal([spec.training.chains, 28, 28, 1], 0, 0.5, "float32", 3),
      false,
    )
    persistent.state.set(PERSISTENT_CHAINS, buffer)
    const before = Array.from(buffer.dataSync())
    drawSamples(persistent, spec, 6, 0, 5, undefined, undefined, "chains") // kernels warm, nothing cached after
    const tensors = tf.memory().numTensors
    const values = drawSamples(persistent, spec, 12, 0, 5, undefined, undefined, "chains")
    expect(Array.from(buffer.dataSync())).toEqual(before)
    expect(persistent.state.size).toBe(1)
    expect(tf.memory().numTensors).toBe(tensors)
    const size = spec.training.chains * 28 * 28
    // the second batch continued the first (not the original buffer again)
    const again = drawSamples(persistent, spec, 6, 0, 5, undefined, undefined, "chains")
    expect(Array.from(values.subarray(0, size))).toEqual(Array.from(again))
    expect(Array.from(values.subarray(size, 2 * size))).not.toEqual(Array.from(values.subarray(0, size)))
    persistent.state.delete(PERSISTENT_CHAINS)
    buffer.dispose()
  })

  it('"generator" stays the default: g(z) as before', () => {
    const a = drawSamples(models, base, 6, 0, 4)
    const b = drawSamples(models, base, 6, 0, 4, undefined, undefined, "generator")
    expect(Buffer.from(a.buffer).equals(Buffer.from(b.buffer))).toBe(true)
  })
})
