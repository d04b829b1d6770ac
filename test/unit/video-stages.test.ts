/**
 * The stage contracts on videos: every registered stage variant that a video spec can name,
 * run on N×T×H×W×C records of tiny dynamic-texture nets — the shapes it emits, no tensor
 * leaked across an iteration after a warm-up, the same bytes under the same seed (and other
 * bytes under another) — and checkpoints that restore the video nets exactly.
 */
import * as tf from "@tensorflow/tfjs-core"
import { Effect } from "effect"
import { beforeAll, describe, expect, it } from "vitest"
import { checkSpec } from "../../src/pipeline/config/checks.js"
import { latentSizeOf } from "../../src/pipeline/config/shapes.js"
import type { PipelineSpec } from "../../src/pipeline/config/spec.js"
import { captureState } from "../../src/pipeline/run-dir/checkpoint.js"
import { batchAt, type Dataset } from "../../src/stages/load.js"
import { Models } from "../../src/stages/models.js"
import { type Observed, release } from "../../src/stages/records.js"
import { variants as registered, variantsOf } from "../../src/stages/registry.js"
import { SLOTS, type Slot } from "../../src/stages/stage.js"
import { pipelineOf, seededBytes, tensorsAcrossIterations, withModels } from "../stage-contracts.js"
import { tinySpec, useTestBackend } from "../support.js"

const T = 26
const SIDE = 8
const VIDEO = [T, SIDE, SIDE, 3] as const

/** One synthetic clip in [-1, 1]. */
const clip: Dataset = {
  images: Float32Array.from({ length: T * SIDE * SIDE * 3 }, (_, i) => Math.sin(i * 0.37) * 0.9),
  labels: new Int32Array(1),
  count: 1,
  shape: VIDEO,
}

const videoSpec = (over: Partial<PipelineSpec> = {}): PipelineSpec => {
  const base = tinySpec()
  return {
    ...base,
    name: "tiny-video",
    data: {
      source: "video",
      path: "unused.gif",
      frames: T,
      every: 1,
      start: 0,
      size: SIDE,
      channels: 3,
      fit: "cover",
    },
    model: {
      ...base.model,
      arch: "dynamicTexture",
      descriptorChannels: [3, 2],
      descriptorUnits: 2,
      zDim: 2,
      generatorChannels: [4, 3, 2],
    },
    training: { ...base.training, iterations: 3, batchSize: 1, chains: 2 },
    langevin: { ...base.langevin, steps: 2 },
    ...over,
  }
}

const observedAt = (spec: PipelineSpec, iteration: number): Observed => {
  const b = batchAt(clip, { seed: spec.seed, batchSize: spec.training.batchSize }, iteration)
  const tensor: tf.Tensor = tf.tensor(b.images, [spec.training.batchSize, ...VIDEO])
  return { iteration, epoch: b.epoch, images: tensor as tf.Tensor4D, labels: b.labels, timings: {} }
}

/** A video spec naming `variant` that passes the checks (other slots tried in registry order), if any. */
const bases = [
  videoSpec(),
  videoSpec({ latentLangevin: { steps: 2, stepSize: 0.1, noise: true } }),
  videoSpec({ persistent: { reinitFraction: 0.5, reinitFrom: "generator" } }),
]
const validSpecFor = (variant: (typeof registered)[number]): PipelineSpec | undefined => {
  const others = SLOTS.filter((slot) => slot !== variant.slot)
  for (const base of bases)
    for (const a of variantsOf(others[0] as Slot))
      for (const b of variantsOf(others[1] as Slot))
        for (const c of variantsOf(others[2] as Slot)) {
          const stages = { ...base.stages, [variant.slot]: variant.name }
          for (const v of [a, b, c]) Object.assign(stages, { [v.slot]: v.name })
          const spec = { ...base, stages } as PipelineSpec
          if (Effect.runSync(Effect.result(checkSpec(spec, "contract")))._tag === "Success") return spec
        }
  return undefined
}
const named = registered.map((v) => [`${v.slot} "${v.name}"`, validSpecFor(v)] as const)
const cases = named.flatMap(([name, spec]) => (spec === undefined ? [] : [[name, spec] as const]))

beforeAll(async () => {
  await useTestBackend()
})

describe("video specs", () => {
  it("exist for every variant but the class-conditional ones (which need labelled digits)", () => {
    expect(named.filter(([, spec]) => spec === undefined).map(([name]) => name)).toEqual([
      'chains "conditional"',
    ])
    expect(latentSizeOf(videoSpec())).toBe(1 * 1 * 1 * 2) // z: [1 frame, 1, 1, zDim 2] for 26 frames
  })
})

describe.each(cases)("%s on videos", (_, spec) => {
  const iteration = pipelineOf(spec, observedAt)

  it("emits N×T×H×W×C drafts and revisions, finite", async () => {
    const out = await withModels(
      spec,
      Effect.gen(function* () {
        release(yield* iteration(0))
        return yield* iteration(1)
      }),
    )
    expect(out.images.shape).toEqual([1, ...VIDEO])
    expect(out.drafts.shape).toEqual([2, ...VIDEO])
    expect(out.revised.shape).toEqual([2, ...VIDEO])
    expect(out.revised.dataSync().every(Number.isFinite)).toBe(true)
    if (out.z !== null) expect(out.z.shape).toEqual([2, latentSizeOf(spec)])
    release(out)
  })

  it("leaks no tensor across an iteration after a warm-up", async () => {
    const [before, after] = await tensorsAcrossIterations(spec, observedAt)
    expect(after).toBe(before)
  })

  it("gives the same bytes under the same seed and others under another", async () => {
    const run = (seed: number) => seededBytes(spec, seed, observedAt)
    const [a, b, other] = [await run(1), await run(1), await run(2)]
    expect(a).toEqual(b)
    expect(other[1]).not.toEqual(a[1])
  })
})

describe("checkpoints of video nets", () => {
  it("capture every parameter of the 3-D layers with its 5-D shape", async () => {
    const spec = videoSpec()
    const shapes = await withModels(
      spec,
      Effect.gen(function* () {
        const state = yield* captureState(yield* Models)
        return Object.fromEntries(state.specs.map((v) => [v.name, v.shape]))
      }),
    )
    expect(shapes["descriptor/conv2/w"]).toEqual([5, SIDE / 2, SIDE / 2, 3, 2])
    expect(shapes["generator/deconv4/w"]).toEqual([2, 5, 5, 3, 2])
  })
})
