/**
 * Teaching from the draft's kept forward pass (src/models/backprop.ts) against
 * tfjs's own differentiation of the generator: the same drafts bit for bit, the
 * same gradients and the same optimiser step (up to float rounding: 1e-4 of the
 * largest value, see test/conv.test.ts for why), for every generator topology.
 */
import * as tf from "@tensorflow/tfjs-core"
import { beforeAll, describe, expect, it } from "vitest"
import { backward, canKeepForward, disposeKept, forwardKeeping } from "../../src/models/backprop.js"
import { generate, generatorStep, generatorStepFromDraft, type Net } from "../../src/models/coopnets.js"
import { forward, initParams, type NetSpec } from "../../src/models/layers.js"
import {
  cifar32,
  dynamicTexture,
  mnist,
  mnistConditional,
  object64,
  texture,
  textureOfficial,
} from "../../src/models/nets.js"
import { normalTensor, rootKey } from "../../src/models/random.js"
import { bytesOf, useTestBackend } from "../support.js"

beforeAll(async () => {
  await useTestBackend()
})

const relativeError = (a: tf.Tensor, b: tf.Tensor): number =>
  tf.tidy(() => {
    expect(a.shape).toEqual(b.shape)
    const scale = tf.max(tf.abs(b)).dataSync()[0] as number
    return (tf.max(tf.abs(tf.sub(a, b))).dataSync()[0] as number) / Math.max(scale, 1e-30)
  })

const small = { descriptorChannels: [4, 4, 4], descriptorUnits: 3, zDim: 5, generatorChannels: [6, 4, 3] }
const generators: ReadonlyArray<readonly [string, NetSpec]> = [
  ["MNIST (1→4 dense, 4→7 odd SAME, →14, →28 thin, tanh)", mnist.generator(small)],
  ["conditional MNIST (labels concatenated to z, ReLU)", mnistConditional.generator(small)],
  ["texture (spatial z, 5x5 stride 2)", textureOfficial.generator(small, [32, 32, 1])],
  ["object64 (RGB output, thin)", object64.generator({ ...small, generatorChannels: [6, 4, 3, 3] })],
  ["cifar32", cifar32.generator(small)],
]

describe("the kept forward pass and its backward pass equal tfjs's", () => {
  for (const [index, [label, spec]] of generators.entries())
    it(label, () => {
      const params = initParams(spec, rootKey(100 + index), `bp${index}`)
      // larger weights than the official init, so that every layer's gradient is well above rounding
      tf.tidy(() => {
        for (const v of params.values())
          v.assign(tf.add(v, tf.mul(normalTensor(rootKey(7 + v.size), v.shape), 0.2)))
      })
      const n = 4
      const z = normalTensor(rootKey(200 + index), [n, ...spec.inputShape])
      const labels = tf.oneHot(tf.tensor1d([1, 3, 5, 7], "int32"), 10).toFloat() as tf.Tensor2D
      const kept = forwardKeeping(spec, params, z, labels)
      const reference = forward(spec, params, z, labels)
      expect(bytesOf(kept.output)).toEqual(bytesOf(reference))
      const dy = normalTensor(rootKey(300 + index), reference.shape)
      const ours = backward(spec, params, kept, dy)
      const theirs = tf.variableGrads(
        () => tf.sum(tf.mul(forward(spec, params, z, labels), dy)),
        [...params.values()],
      )
      // in the same order: tfjs's optimisers pair gradients with their slots by position
      expect(Object.keys(ours)).toEqual(Object.keys(theirs.grads))
      for (const name of Object.keys(ours))
        expect(relativeError(ours[name] as tf.Tensor, theirs.grads[name] as tf.Tensor), name).toBeLessThan(
          1e-4,
        )
      disposeKept(kept)
      tf.dispose([
        z,
        labels,
        reference,
        dy,
        theirs.value,
        ...Object.values(ours),
        ...Object.values(theirs.grads),
      ])
      tf.dispose([...params.values()])
    })

  it("teaching from the draft takes the same optimiser step as teaching with a second forward pass", () => {
    const spec = mnist.generator(small)
    const make = (scope: string): Net => ({ spec, params: initParams(spec, rootKey(400), scope) })
    const [a, b] = [make("teach-a"), make("teach-b")]
    const [oa, ob] = [tf.train.adam(0.01, 0.5), tf.train.adam(0.01, 0.5)]
    const z = normalTensor(rootKey(401), [6, 5]) as tf.Tensor2D
    const target = tf.tanh(normalTensor(rootKey(402), [6, 28, 28, 1])) as tf.Tensor4D
    const tensorsBefore = tf.memory().numTensors
    for (let step = 0; step < 3; step++) {
      const kept = forwardKeeping(a.spec, a.params, z)
      const drafts = tf.tidy(() => generate(a, z))
      expect(bytesOf(kept.output)).toEqual(bytesOf(drafts))
      // the first step through tf.variableGrads makes Adam's slots; later ones must line up with them
      const fromDraft =
        step === 0 ? generatorStep(a, oa, z, target, 0.3) : generatorStepFromDraft(a, oa, kept, target, 0.3)
      const recomputed = generatorStep(b, ob, z, target, 0.3)
      expect(Math.abs(fromDraft.loss - recomputed.loss)).toBeLessThan(1e-5 * Math.abs(recomputed.loss))
      disposeKept(kept)
      drafts.dispose()
    }
    for (const [name, v] of a.params)
      expect(relativeError(v, b.params.get(name) as tf.Variable), name).toBeLessThan(1e-4)
    // each Adam's two moments per variable appear in the first step; nothing else is left behind
    expect(tf.memory().numTensors - tensorsBefore).toBe(2 * 2 * a.params.size)
    tf.dispose([z, target, ...a.params.values(), ...b.params.values()])
    oa.dispose()
    ob.dispose()
  })
})

describe("which generators the kept pass covers", () => {
  it("the image generators of transposed convolutions, not the resize-convolution texture or the video generators", () => {
    expect(canKeepForward(mnist.generator(small))).toBe(true)
    expect(canKeepForward(mnistConditional.generator(small))).toBe(true)
    expect(canKeepForward(textureOfficial.generator(small, [32, 32, 1]))).toBe(true)
    // forwardKeeping throws on these: the draft stage draws them without keeping the pass
    expect(canKeepForward(texture.generator(small, [32, 32, 1]))).toBe(false)
    expect(canKeepForward(dynamicTexture.generator(small, [32, 16, 16, 3]))).toBe(false)
  })
})
