/**
 * optimizer.*.weightDecay: Adam with decoupled weight decay. A step shrinks
 * every parameter the gradients name by 1 − η·λ and then takes plain Adam's
 * step from there; η is the optimiser's current rate (the schedule's).
 */
import * as tf from "@tensorflow/tfjs-core"
import { Effect } from "effect"
import { beforeAll, describe, expect, it } from "vitest"
import { setLearningRate } from "../../src/models/adam-state.js"
import { adamWithDecay, DecoupledAdam } from "../../src/models/weight-decay.js"
import { decodeSpec } from "../../src/pipeline/config/spec.js"
import { useTestBackend } from "../support.js"

beforeAll(async () => {
  await useTestBackend()
})

const settings = { learningRate: 0.01, beta1: 0.5, beta2: 0.999, epsilon: 1e-8 }
const start = [0.5, -2, 3, 0.25]
const gradient = [1, -0.5, 0, 2]

/** Two steps on a fresh variable; returns its values after each. */
const steps = (optimizer: tf.Optimizer, from: ReadonlyArray<number>, rates: ReadonlyArray<number>) => {
  const v = tf.variable(tf.tensor1d([...from]), true, `w-${Math.random()}`)
  const after: Array<Float32Array> = []
  for (const rate of rates) {
    setLearningRate(optimizer, rate)
    tf.tidy(() => optimizer.applyGradients([{ name: v.name, tensor: tf.tensor1d(gradient) }]))
    after.push(v.dataSync() as Float32Array)
  }
  v.dispose()
  optimizer.dispose()
  return after
}

describe("DecoupledAdam", () => {
  it("is plain Adam when the decay is 0", () => {
    // tfjs optimisers answer instanceof by their fields: ask for the class itself
    expect(adamWithDecay({ ...settings, weightDecay: 0 }).constructor).not.toBe(DecoupledAdam)
    expect(adamWithDecay({ ...settings, weightDecay: 3 }).constructor).toBe(DecoupledAdam)
  })

  it("shrinks by 1 − η·λ at the step's rate, then takes Adam's step", () => {
    const lambda = 5
    const rates = [0.01, 0.004]
    const [decayed1, decayed2] = steps(adamWithDecay({ ...settings, weightDecay: lambda }), start, rates)
    // plain Adam, its weights shrunk by hand before each step, reaches the same values
    const plain = tf.train.adam(settings.learningRate, settings.beta1, settings.beta2, settings.epsilon)
    const v = tf.variable(tf.tensor1d(start), true, `w-plain-${Math.random()}`)
    const expected: Array<Float32Array> = []
    for (const rate of rates) {
      setLearningRate(plain, rate)
      v.assign(tf.mul(v, 1 - rate * lambda))
      tf.tidy(() => plain.applyGradients([{ name: v.name, tensor: tf.tensor1d(gradient) }]))
      expected.push(v.dataSync() as Float32Array)
    }
    v.dispose()
    plain.dispose()
    for (const [got, want] of [
      [decayed1, expected[0]],
      [decayed2, expected[1]],
    ] as const)
      for (let i = 0; i < start.length; i++) expect(got?.[i]).toBeCloseTo(want?.[i] as number, 6)
    // the weight with a zero gradient only shrinks: 3·(1 − 0.05)·(1 − 0.02)
    expect(decayed2?.[2]).toBeCloseTo(3 * 0.95 * 0.98, 5)
    // and differs from Adam without decay
    const [, undecayed] = steps(adamWithDecay({ ...settings, weightDecay: 0 }), start, rates)
    expect(undecayed?.[2]).toBeCloseTo(3, 6)
  })

  it("refuses a negative decay, naming the field", async () => {
    const error = await Effect.runPromise(
      decodeSpec('{"optimizer": {"descriptor": {"weightDecay": -1}}}', "p.json").pipe(Effect.flip),
    )
    expect(error.message).toContain("optimizer.descriptor.weightDecay")
  })
})
