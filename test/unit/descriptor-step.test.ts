/**
 * The descriptor step scores the observed and revised batches in one pass:
 * the same loss, energies and update as two separate passes (up to float
 * rounding: sums in another order), for plain and conditional descriptors.
 * Plain gradient descent here: Adam turns the rounding noise of a gradient
 * that is zero in exact arithmetic (the last layer's biases: they add the same
 * to both means) into steps of the full learning rate, in either form.
 */
import * as tf from "@tensorflow/tfjs-core"
import { beforeAll, describe, expect, it } from "vitest"
import { descriptorStep, type Net, score, withLabels } from "../../src/models/coopnets.js"
import { initParams } from "../../src/models/layers.js"
import { mnist, mnistConditional } from "../../src/models/nets.js"
import { normalTensor, rootKey } from "../../src/models/random.js"
import { useTestBackend } from "../support.js"

beforeAll(async () => {
  await useTestBackend()
})

const small = { descriptorChannels: [4, 5, 6], descriptorUnits: 3, zDim: 3, generatorChannels: [4, 4, 4] }

/** The step as two passes: the form before the batches were joined. Returns mean f(X_obs), mean f(X̂). */
const separateStep = (
  descriptor: Net,
  optimizer: tf.Optimizer,
  observed: tf.Tensor4D,
  revised: tf.Tensor4D,
): [number, number] => {
  const fs: number[] = []
  const { value, grads } = tf.variableGrads(() => {
    const [fObs, fRev] = [tf.mean(score(descriptor, observed)), tf.mean(score(descriptor, revised))]
    fs.push(fObs.dataSync()[0] as number, fRev.dataSync()[0] as number)
    return tf.sub(fRev, fObs)
  }, [...descriptor.params.values()])
  optimizer.applyGradients(grads)
  tf.dispose([value, ...Object.values(grads)])
  return [fs[0] as number, fs[1] as number]
}

describe("descriptorStep over both batches at once", () => {
  for (const [label, arch] of [
    ["MNIST descriptor", mnist],
    ["conditional descriptor (labels for both halves)", mnistConditional],
  ] as const)
    it(label, () => {
      const spec = arch.descriptor(small)
      const make = (scope: string): Net => ({ spec, params: initParams(spec, rootKey(80), scope) })
      const labels = tf.oneHot(tf.tensor1d([0, 1, 2, 3, 4, 5], "int32"), 10).toFloat() as tf.Tensor2D
      const [a, b] = [withLabels(make(`${label}a`), labels), withLabels(make(`${label}b`), labels)]
      const [oa, ob] = [tf.train.sgd(0.05), tf.train.sgd(0.05)]
      const observed = tf.tanh(normalTensor(rootKey(81), [6, 28, 28, 1])) as tf.Tensor4D
      const revised = tf.tanh(normalTensor(rootKey(82), [6, 28, 28, 1])) as tf.Tensor4D
      for (let step = 0; step < 3; step++) {
        const squaredNorm = (x: tf.Tensor) =>
          tf.tidy(() => tf.mean(tf.sum(tf.square(x), [1, 2, 3])).dataSync()[0] as number)
        const twoS2 = 2 * 0.016 * 0.016
        const joined = descriptorStep(a, oa, observed, revised, 0.016)
        const [fObs, fRev] = separateStep(b, ob, observed, revised)
        const scale = Math.abs(fObs) + Math.abs(fRev)
        expect(Math.abs(joined.loss - (fRev - fObs))).toBeLessThan(1e-5 * scale)
        expect(Math.abs(joined.observedEnergy - (squaredNorm(observed) / twoS2 - fObs))).toBeLessThan(
          1e-5 * scale + 1e-3,
        )
        expect(Math.abs(joined.revisedEnergy - (squaredNorm(revised) / twoS2 - fRev))).toBeLessThan(
          1e-5 * scale + 1e-3,
        )
      }
      for (const [name, v] of a.params) {
        const w = b.params.get(name) as tf.Variable
        const err = tf.tidy(() => tf.max(tf.abs(tf.sub(v, w))).dataSync()[0] as number)
        const scale = tf.tidy(() => tf.max(tf.abs(w)).dataSync()[0] as number)
        expect(err, name).toBeLessThan(1e-4 * scale + 1e-7)
      }
      tf.dispose([labels, observed, revised, ...a.params.values(), ...b.params.values()])
      oa.dispose()
      ob.dispose()
    })
})
