/**
 * chains "uniform" (short-run MCMC from noise: Nijkamp, Hill, Zhu and Wu,
 * "Learning Non-Convergent Non-Persistent Short-Run MCMC Toward Energy-Based
 * Model", NeurIPS 2019): every iteration the chains start afresh from
 * U(low, high) noise — by default the whole pixel range [-1, 1] — and the
 * descriptor learns to make its few Langevin steps from there look like the
 * data. No generator, so no z: the generator is not taught.
 */
import * as tf from "@tensorflow/tfjs-core"
import { Effect, Schema } from "effect"
import { foldIn, rootKey, uniforms } from "../models/random.js"
import { field, section } from "./options.js"
import { compute, defineStage } from "./stage.js"

export const uniformChains = defineStage({
  slot: "chains",
  name: "uniform",
  summary:
    "short-run chains: each iteration from fresh U(low, high) noise (uniformChains.*); no generator, no z",
  options: {
    uniformChains: section(
      {
        low: field(Schema.Finite, -1, 'chains "uniform": the lower end of the noise the chains start from'),
        high: field(Schema.Finite, 1, 'chains "uniform": its upper end'),
      },
      'short-run chains from uniform noise (stages.chains "uniform")',
    ),
  },
  check: ({ options }) =>
    options.uniformChains.low < options.uniformChains.high
      ? []
      : [
          `stages.chains "uniform" draws from U(uniformChains.low, uniformChains.high), so low (${options.uniformChains.low}) must be below high (${options.uniformChains.high})`,
        ],
  make: (o) => (input) =>
    compute(input, "draft", () => {
      const shape = [o.chains, ...input.images.shape.slice(1)]
      const u = uniforms(
        foldIn(rootKey(o.seed), "draft", input.iteration),
        shape.reduce((a, b) => a * b, 1),
      )
      const { low, high } = o.uniformChains
      return tf.tidy(() => tf.add(tf.mul(tf.tensor(u, shape), high - low), low)) as tf.Tensor4D
    }).pipe(Effect.map(([drafts, timings]) => ({ ...input, z: null, drafts, timings }))),
})
