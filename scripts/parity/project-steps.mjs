#!/usr/bin/env node
/**
 * The project's side of the step-by-step parity check with the PyTorch
 * reference (scripts/parity/compare_steps.py drives both; run that).
 *
 *   node scripts/parity/project-steps.mjs DIR [--iterations T] [--seed S] [--noise]
 *
 * Builds the official MNIST nets with the project's initialisation (seed S),
 * writes their initial weights, and runs T cooperative iterations through the
 * project's own math (dist/models/coopnets.js, the functions the stages call:
 * generate → langevinRevise → descriptorStep → generatorStep) on fixed
 * observed batches and latent vectors. Everything the reference needs to
 * replay the same iterations, and everything to compare, goes to DIR as .npy:
 *   init.<net>.<param>.npy          initial weights (tfjs layouts)
 *   t<i>.obs.npy, t<i>.z.npy        inputs of iteration i (NHWC images in [-1, 1])
 *   t<i>.noise<s>.npy               Langevin noise of step s (δ·N(0, I)), with --noise
 *   t<i>.X.npy, t<i>.Y.npy          drafts g(z) and revised samples
 *   t<i>.gradD.<param>.npy, t<i>.gradG.<param>.npy   gradients before the update
 *   t<i>.D.<param>.npy, t<i>.G.<param>.npy           weights after the update
 *   t<i>.scalars.json               L_D, L_G, energies
 * Needs `npm run build`.
 */
import { mkdirSync, writeFileSync } from "node:fs"
import * as nodePath from "node:path"
import { NodeServices } from "@effect/platform-node"
import * as tf from "@tensorflow/tfjs-core"
import { Effect } from "effect"
import { descriptorStep, generate, generatorStep, langevinRevise, score } from "../../dist/models/coopnets.js"
import { initParams } from "../../dist/models/layers.js"
import { mnist } from "../../dist/models/nets.js"
import { foldIn, normalTensor, rootKey } from "../../dist/models/random.js"
import { selectBackend } from "../../dist/pipeline/backend/select.js"
import { loadMnistSplit } from "../../dist/pipeline/data/mnist.js"
import { encodeNpy } from "../../dist/pipeline/run-dir/image-files.js"

const args = process.argv.slice(2)
const dir = args[0]
const opt = (name, fallback) => {
  const i = args.indexOf(name)
  return i < 0 ? fallback : Number(args[i + 1])
}
if (dir === undefined) {
  console.error("usage: node scripts/parity/project-steps.mjs DIR [--iterations T] [--seed S] [--noise]")
  process.exit(2)
}
const T = opt("--iterations", 3)
const seed = opt("--seed", 1)
const noise = args.includes("--noise")
const chains = opt("--chains", 144)
const batch = opt("--batch", 100)

// the official MNIST settings (config/mnist.json)
const options = {
  descriptorChannels: [64, 128, 256],
  descriptorUnits: 100,
  zDim: 100,
  generatorChannels: [512, 256, 128],
}
const langevin = { steps: 15, stepSize: 0.002, refSigma: 0.016, noise: false }
const sigma = 0.3

await selectBackend("tensorflow")
mkdirSync(dir, { recursive: true })
const save = (name, t) =>
  writeFileSync(nodePath.join(dir, `${name}.npy`), encodeNpy(Float32Array.from(t.dataSync()), t.shape))
const safe = (name) => name.replace("/", "__")

// the same keys as src/pipeline/nets/build.ts
const key = foldIn(rootKey(seed), "init")
const descriptor = {
  spec: mnist.descriptor(options),
  params: initParams(mnist.descriptor(options), foldIn(key, "descriptor"), "descriptor"),
}
const generator = {
  spec: mnist.generator(options),
  params: initParams(mnist.generator(options), foldIn(key, "generator"), "generator"),
}
for (const [net, n] of [
  ["D", descriptor],
  ["G", generator],
])
  for (const [name, v] of n.params) save(`init.${net}.${safe(name)}`, v)
const dOpt = tf.train.adam(0.007, 0.5, 0.999, 1e-8)
const gOpt = tf.train.adam(1e-4, 0.5, 0.999, 1e-8)

const data = await Effect.runPromise(loadMnistSplit("train").pipe(Effect.provide(NodeServices.layer)))
for (let t = 0; t < T; t++) {
  const obs = tf.tensor4d(data.images.subarray(t * batch * 784, (t + 1) * batch * 784), [batch, 28, 28, 1])
  const z = normalTensor(foldIn(rootKey(seed), "draft", t), [chains, 100])
  save(`t${t}.obs`, obs)
  save(`t${t}.z`, z)
  const X = tf.tidy(() => generate(generator, z))
  save(`t${t}.X`, X)
  const reviseKey = foldIn(rootKey(seed), "revise", t)
  if (noise)
    for (let s = 0; s < langevin.steps; s++)
      tf.tidy(() => save(`t${t}.noise${s}`, normalTensor(foldIn(reviseKey, s), X.shape, langevin.stepSize)))
  const { revised: Y, startEnergy } = langevinRevise(descriptor, X, { ...langevin, noise }, reviseKey)
  save(`t${t}.Y`, Y)
  // gradients of the losses the steps minimise, for the comparison only (the steps compute their own)
  const gD = tf.variableGrads(
    () => tf.sub(tf.mean(score(descriptor, Y)), tf.mean(score(descriptor, obs))),
    [...descriptor.params.values()],
  )
  for (const [name, v] of descriptor.params) save(`t${t}.gradD.${safe(name)}`, gD.grads[v.name])
  tf.dispose([gD.value, ...Object.values(gD.grads)])
  const gG = tf.variableGrads(
    () => tf.div(tf.sum(tf.mean(tf.square(tf.sub(Y, generate(generator, z))), 0)), 2 * sigma * sigma),
    [...generator.params.values()],
  )
  for (const [name, v] of generator.params) save(`t${t}.gradG.${safe(name)}`, gG.grads[v.name])
  tf.dispose([gG.value, ...Object.values(gG.grads)])
  const d = descriptorStep(descriptor, dOpt, obs, Y, langevin.refSigma)
  const g = generatorStep(generator, gOpt, z, Y, sigma)
  for (const [name, v] of descriptor.params) save(`t${t}.D.${safe(name)}`, v)
  for (const [name, v] of generator.params) save(`t${t}.G.${safe(name)}`, v)
  writeFileSync(
    nodePath.join(dir, `t${t}.scalars.json`),
    JSON.stringify({
      lossD: d.loss,
      lossG: g.loss,
      draftEnergy: startEnergy,
      observedEnergy: d.observedEnergy,
      revisedEnergy: d.revisedEnergy,
    }),
  )
  tf.dispose([obs, z, X, Y])
}
console.log(`project: ${T} iterations (noise ${noise ? "on, exported" : "off"}) written to ${dir}`)
