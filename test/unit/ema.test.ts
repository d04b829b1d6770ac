/** The moving average of a net's weights: warm-up schedule, values, independence from later updates, no leaks. */
import * as tf from "@tensorflow/tfjs-core"
import { beforeAll, describe, expect, it } from "vitest"
import { averageDecay, createAverage, updateAverage } from "../../src/models/ema.js"
import { useTestBackend } from "../support.js"

describe("moving average of weights", () => {
  beforeAll(async () => {
    await useTestBackend()
  })

  it("warms up like tf.train.ExponentialMovingAverage(num_updates) and then holds the target decay", () => {
    expect(averageDecay(0.999, 0)).toBeCloseTo(0.1, 12)
    expect(averageDecay(0.999, 10)).toBeCloseTo(11 / 20, 12)
    expect(averageDecay(0.99, 10_000)).toBe(0.99)
  })

  it("starts as a copy, moves by (1 − β_t) towards the weights, and ignores later changes of them", () => {
    const w = tf.variable(tf.tensor1d([1, 2, 3]), true, "ema-test/w")
    const params = new Map([["w", w]])
    const average = createAverage(params, "ema-test-average")
    expect(average.get("w")?.trainable).toBe(false)
    expect(average.get("w")?.name).toBe("ema-test-average/w")
    expect(Array.from(average.get("w")?.dataSync() ?? [])).toEqual([1, 2, 3])

    w.assign(tf.tensor1d([11, 12, 13]))
    expect(Array.from(average.get("w")?.dataSync() ?? [])).toEqual([1, 2, 3])
    updateAverage(average, params, 0.9, 0) // β_0 = 0.1
    const once = Array.from(average.get("w")?.dataSync() ?? [])
    for (const [i, v] of [10, 11, 12].entries()) expect(once[i]).toBeCloseTo(v, 5)

    w.assign(tf.tensor1d([0, 0, 0]))
    updateAverage(average, params, 0.9, 1000) // β = 0.9
    const twice = Array.from(average.get("w")?.dataSync() ?? [])
    for (const [i, v] of [9, 9.9, 10.8].entries()) expect(twice[i]).toBeCloseTo(v, 5)
    tf.dispose([w, ...average.values()])
  })

  it("leaks no tensors and names a parameter the average lacks", () => {
    const params = new Map([["a", tf.variable(tf.ones([4, 4]), true, "ema-test/a")]])
    const average = createAverage(params, "ema-test-average2")
    const before = tf.memory().numTensors
    for (let t = 0; t < 5; t++) updateAverage(average, params, 0.99, t)
    expect(tf.memory().numTensors).toBe(before)
    const other = new Map([["b", tf.variable(tf.ones([2]), true, "ema-test/b")]])
    expect(() => updateAverage(average, other, 0.99, 0)).toThrow(/no parameter b/)
    tf.dispose([...params.values(), ...average.values(), ...other.values()])
  })
})
