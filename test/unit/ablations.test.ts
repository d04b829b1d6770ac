/**
 * The ablation stages (chains "persistent" | "noise", revise/updateDescriptor
 * "none", teach "abp", z-revision) against the contract of the stage each
 * replaces: shapes, no leaked tensor across a warm iteration, determinism
 * under a seed; plus what each variant is for (what it keeps, what it leaves).
 */
import * as tf from "@tensorflow/tfjs-core"
import { Effect } from "effect"
import { beforeAll, describe, expect, it } from "vitest"
import { unpack } from "../../src/models/checkpoint.js"
import { generate, type Net, score, withLabels } from "../../src/models/coopnets.js"
import { checkSpec } from "../../src/pipeline/config/checks.js"
import type { PipelineSpec } from "../../src/pipeline/config/spec.js"
import { sectionsFor } from "../../src/pipeline/config/stage-options.js"
import {
  type CheckpointManifest,
  captureState,
  restoreModels,
} from "../../src/pipeline/run-dir/checkpoint.js"
import { stagesOf } from "../../src/pipeline/training/stages.js"
import { PERSISTENT_CHAINS, PERSISTENT_LATENTS, restartMask } from "../../src/stages/chains-persistent.js"
import { Models } from "../../src/stages/models.js"
import { release } from "../../src/stages/records.js"
import { variants as registered, variantNamed, variantsOf } from "../../src/stages/registry.js"
import { providesCapability, SLOTS, type Slot } from "../../src/stages/stage.js"
import { pipelineOf, seededBytes, tensorsAcrossIterations, withModels } from "../stage-contracts.js"
import { bytesOf, observedAt, tinySpec, useTestBackend } from "../support.js"

const paramBytes = (net: Net): Array<Uint8Array> => [...net.params.values()].map(bytesOf)

const conditionalSpec = tinySpec({
  model: { ...tinySpec().model, arch: "mnistConditional" },
  stages: { ...tinySpec().stages, chains: "conditional" },
  training: { iterations: 3, batchSize: 8, chains: 8 },
})

/**
 * A valid spec for every registered variant, found by trying the other slots'
 * variants in registry order on a few bases until the spec's checks pass: a new
 * variant is held to the contracts below without a line here.
 */
const bases: ReadonlyArray<PipelineSpec> = [
  tinySpec(),
  tinySpec({ latentLangevin: { steps: 2, stepSize: 0.1, noise: true } }),
  tinySpec({ persistent: { reinitFraction: 0.5, reinitFrom: "generator" } }),
  conditionalSpec,
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
const everyVariant = registered.map((v) => [`${v.slot} "${v.name}"`, validSpecFor(v)] as const)

const variants: ReadonlyArray<readonly [string, PipelineSpec]> = [
  ...everyVariant.flatMap(([name, spec]) => (spec === undefined ? [] : [[name, spec] as const])),
  [
    "persistent chains (from the generator, taught)",
    tinySpec({
      stages: { ...tinySpec().stages, chains: "persistent" },
      persistent: { reinitFraction: 0.5, reinitFrom: "generator" },
    }),
  ],
]

beforeAll(async () => {
  await useTestBackend()
})

describe.each(variants)("%s", (_, spec) => {
  const iteration = pipelineOf(spec)
  const { chains, zDim } = { chains: spec.training.chains, zDim: spec.model.zDim }

  it("emits the shapes of the stages it replaces", async () => {
    const out = await withModels(
      spec,
      Effect.gen(function* () {
        release(yield* iteration(0))
        return yield* iteration(1)
      }),
    )
    expect(out.drafts.shape).toEqual([chains, 28, 28, 1])
    expect(out.revised.shape).toEqual([chains, 28, 28, 1])
    expect(out.revised.dtype).toBe("float32")
    expect(out.revised.dataSync().every(Number.isFinite)).toBe(true)
    // what the chains variant declares it provides is what it emits
    const chainsVariant = variantNamed("chains", spec.stages.chains)
    const withZ = providesCapability(chainsVariant, "z", sectionsFor(spec, chainsVariant))
    expect(out.z?.shape ?? null).toEqual(withZ ? [chains, zDim] : null)
    expect(out.descriptor === null).toBe(spec.stages.updateDescriptor === "none")
    expect(out.generator === null).toBe(spec.stages.teach === "none")
    if (out.generator) expect(out.generator.reconstructionError).toBeGreaterThan(0)
    release(out)
  })

  it("leaks no tensor across an iteration after a warm-up", async () => {
    const [before, after] = await tensorsAcrossIterations(spec)
    expect(after).toBe(before)
  })

  it("is deterministic under a seed, and another seed gives other bytes", async () => {
    const run = (seed: number) => seededBytes(spec, seed)
    const [a, b, other] = [await run(1), await run(1), await run(2)]
    expect(a).toEqual(b)
    expect(other[1]).not.toEqual(a[1])
  })
})

describe("the contracts above", () => {
  it("hold every registered stage variant, in a spec that passes the checks", () => {
    expect(everyVariant.filter(([, spec]) => spec === undefined).map(([name]) => name)).toEqual([])
    expect(everyVariant.length).toBe(registered.length)
  })
})

describe("persistent chains", () => {
  const spec = tinySpec({
    stages: { ...tinySpec().stages, chains: "persistent" },
    training: { iterations: 3, batchSize: 8, chains: 16 },
    persistent: { reinitFraction: 0.5, reinitFrom: "generator" },
  })
  const { draft: start, revise, writeBack: keep } = stagesOf(spec)
  const fromGenerator = stagesOf({ ...spec, stages: { ...spec.stages, chains: "generator" } }).draft

  it("continue from the last revision except the chains the keyed mask restarts", async () => {
    const mask = restartMask(spec.seed, 1, 16, 0.5)
    // the draw restarts some chains and keeps others (else this test could not tell them apart)
    expect(new Set(mask)).toEqual(new Set([0, 1]))
    const result = await withModels(
      spec,
      Effect.gen(function* () {
        const { state } = yield* Models
        expect(state.has(PERSISTENT_CHAINS)).toBe(false)
        const first = yield* keep(yield* revise(yield* start(observedAt(spec, 0))))
        const stored = bytesOf(state.get(PERSISTENT_CHAINS) as tf.Variable)
        const revisedBytes = bytesOf(first.revised)
        const storedZ = (state.get(PERSISTENT_LATENTS) as tf.Variable).arraySync() as Array<Array<number>>
        const fresh = yield* fromGenerator(observedAt(spec, 1))
        const second = yield* start(observedAt(spec, 1))
        const rows = (t: tf.Tensor) => t.arraySync() as Array<unknown>
        const out = {
          revisedFirst: rows(first.revised),
          freshDrafts: rows(fresh.drafts),
          freshZ: rows(fresh.z as tf.Tensor),
          drafts: rows(second.drafts),
          z: rows(second.z as tf.Tensor),
          storedIsRevised: stored.every((v, i) => v === revisedBytes[i]),
          storedZ,
          firstZ: rows(first.z as tf.Tensor),
        }
        for (const r of [first, fresh, second]) release(r)
        return out
      }),
    )
    expect(result.storedIsRevised).toBe(true)
    expect(result.storedZ).toEqual(result.firstZ)
    mask.forEach((restart, j) => {
      expect(result.drafts[j]).toEqual(restart ? result.freshDrafts[j] : result.revisedFirst[j])
      expect(result.z[j]).toEqual(restart ? result.freshZ[j] : result.firstZ[j])
    })
  })

  it("come back from a checkpoint: resuming continues the same chains", async () => {
    const iteration = pipelineOf(spec)
    const third = Effect.gen(function* () {
      const next = yield* iteration(2)
      const bytes = [
        bytesOf(next.drafts),
        bytesOf((yield* Models).state.get(PERSISTENT_CHAINS) as tf.Variable),
      ]
      release(next)
      return bytes
    })
    const twoIterations = Effect.gen(function* () {
      release(yield* iteration(0))
      release(yield* iteration(1))
    })
    const straight = await withModels(spec, Effect.andThen(twoIterations, third))
    const captured = await withModels(
      spec,
      Effect.andThen(twoIterations, Effect.flatMap(Models, captureState)),
    )
    // fresh models (no buffer yet) restored as a resumed run restores them
    const resumed = await withModels(
      spec,
      Effect.gen(function* () {
        const checkpoint = { dir: "mem", manifest: {} as CheckpointManifest, values: unpack(captured) }
        yield* restoreModels(checkpoint, yield* Models, true)
        return yield* third
      }),
    )
    expect(resumed).toEqual(straight)
  })

  it("restart a fraction of the chains that matches persistent.reinitFraction", () => {
    const mask = restartMask(7, 3, 10_000, 0.05)
    const share = mask.reduce((a, b) => a + b, 0) / mask.length
    expect(share).toBeGreaterThan(0.04)
    expect(share).toBeLessThan(0.06)
    expect(restartMask(7, 3, 100, 0).every((v) => v === 0)).toBe(true)
    expect(restartMask(7, 3, 100, 1).every((v) => v === 1)).toBe(true)
  })
})

describe("the descriptor alone", () => {
  it("starts its chains from N(0, s²I) with s = langevin.refSigma and leaves the generator untouched", async () => {
    const spec = tinySpec({
      stages: { ...tinySpec().stages, chains: "noise", teach: "none" },
      training: { iterations: 2, batchSize: 8, chains: 50 },
    })
    const iteration = pipelineOf(spec)
    const { std, same } = await withModels(
      spec,
      Effect.gen(function* () {
        const { generator } = yield* Models
        const before = paramBytes(generator)
        const out = yield* iteration(0)
        const std = tf.tidy(() => Math.sqrt(tf.moments(out.drafts).variance.dataSync()[0] as number))
        release(out)
        return { std, same: paramBytes(generator).every((b, i) => b.every((v, k) => v === before[i]?.[k])) }
      }),
    )
    expect(std).toBeGreaterThan(0.95 * spec.langevin.refSigma)
    expect(std).toBeLessThan(1.05 * spec.langevin.refSigma)
    expect(same).toBe(true)
  })
})

describe("the generator alone (ABP)", () => {
  const spec = tinySpec({
    stages: { chains: "generator", revise: "none", updateDescriptor: "none", teach: "abp" },
    latentLangevin: { steps: 5, stepSize: 0.1, noise: false },
    optimizer: {
      ...tinySpec().optimizer,
      generator: { ...tinySpec().optimizer.generator, learningRate: 0.01 },
    },
  })
  const iteration = pipelineOf(spec)

  it("learns the observed images, leaves the descriptor untouched, shows its drafts", async () => {
    const result = await withModels(
      spec,
      Effect.gen(function* () {
        const { descriptor } = yield* Models
        const before = paramBytes(descriptor)
        const errors: Array<number> = []
        let revisedIsDraft = false
        for (let i = 0; i < 8; i++) {
          const out = yield* iteration(i % 2)
          errors.push(out.generator?.reconstructionError ?? Number.NaN)
          const drafts = bytesOf(out.drafts)
          revisedIsDraft = bytesOf(out.revised).every((v, k) => v === drafts[k])
          expect([out.draftEnergy, out.descriptor]).toEqual([null, null])
          release(out)
        }
        const same = paramBytes(descriptor).every((b, i) => b.every((v, k) => v === before[i]?.[k]))
        return { errors, same, revisedIsDraft }
      }),
    )
    expect(result.same).toBe(true)
    expect(result.revisedIsDraft).toBe(true)
    // the same two batches, revisited: the regression onto X_obs must lower the error
    expect(result.errors[7]).toBeLessThan(result.errors[1] as number)
  })
})

describe("class-conditional CoopNets", () => {
  const { draft } = stagesOf(conditionalSpec)

  it("pair chain j with the one-hot label of observed image j, and condition both nets on it", async () => {
    const result = await withModels(
      conditionalSpec,
      Effect.gen(function* () {
        const { descriptor, generator } = yield* Models
        const input = observedAt(conditionalSpec, 0)
        const labels = [...input.labels]
        const out = yield* draft(input)
        const oneHot = out.oneHotLabels?.arraySync() as Array<Array<number>>
        // the same z under other labels drafts other images, and the descriptor scores them otherwise
        const shifted = tf
          .oneHot(
            tf.tensor1d(
              labels.map((l) => (l + 1) % 10),
              "int32",
            ),
            10,
          )
          .toFloat() as tf.Tensor2D
        const differs = tf.tidy(() => {
          const z = out.z as tf.Tensor2D
          const other = generate(withLabels(generator, shifted), z)
          const own = generate(withLabels(generator, out.oneHotLabels), z)
          const scoreOwn = score(withLabels(descriptor, out.oneHotLabels), own)
          const scoreOther = score(withLabels(descriptor, shifted), own)
          return {
            drafts: tf.max(tf.abs(tf.sub(own, out.drafts))).dataSync()[0] as number,
            images: tf.max(tf.abs(tf.sub(other, own))).dataSync()[0] as number,
            scores: tf.max(tf.abs(tf.sub(scoreOther, scoreOwn))).dataSync()[0] as number,
          }
        })
        shifted.dispose()
        release(out)
        return { labels, oneHot, differs }
      }),
    )
    expect(result.oneHot.map((row) => row.indexOf(1))).toEqual(result.labels)
    expect(result.oneHot.every((row) => row.reduce((a, b) => a + b, 0) === 1)).toBe(true)
    expect(result.differs.drafts).toBe(0)
    expect(result.differs.images).toBeGreaterThan(0)
    expect(result.differs.scores).toBeGreaterThan(0)
  })

  it("nets built for labels refuse to run without them", async () => {
    const message = await withModels(
      conditionalSpec,
      Effect.gen(function* () {
        const { generator } = yield* Models
        try {
          tf.tidy(() => generate(generator, tf.zeros([2, conditionalSpec.model.zDim])))
          return "ran"
        } catch (e) {
          return (e as Error).message
        }
      }),
    )
    expect(message).toBe("layer labels needs class labels: a conditional net was called without them")
  })
})

describe("z-revision", () => {
  it("teaches with z revised under q(z|X̂): a different generator than teaching with the drafted z", async () => {
    const taught = (steps: number) => {
      const spec = tinySpec({
        stages: { ...tinySpec().stages, teach: steps > 0 ? "zrevision" : "mcmc" },
        latentLangevin: { steps, stepSize: 0.1, noise: false },
      })
      return withModels(
        spec,
        Effect.gen(function* () {
          release(yield* pipelineOf(spec)(0))
          const { generator } = yield* Models
          return paramBytes(generator)
        }),
      )
    }
    expect(await taught(2)).not.toEqual(await taught(0))
  })
})
