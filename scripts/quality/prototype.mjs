#!/usr/bin/env node
/**
 * A plain training loop for trying settings quickly: the same nets, keys, data
 * order and math as `node dist/run.js <config>` (dist/pipeline/nets/build.js,
 * dist/stages/load.js's batchAt, dist/models/coopnets.js in the stages' order),
 * plus exponential moving averages of the generator's weights, and at chosen
 * iterations it writes N samples as .npy in [0, 1] (clipped) for `evaluate`:
 * the generator, each EMA generator, each without and with K Langevin steps.
 *
 *   node scripts/quality/prototype.mjs CONFIG OUT --at 500,1000 [--ema 0.99,0.999] [--langevin 0,10]
 *        [--n 1000] [--set path=value ...]
 *
 * OUT/timing.json: ms per iteration (training only). Not a product command: a
 * prototype for tuning config/mnist-quick.json.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs"
import * as nodePath from "node:path"
import { NodeServices } from "@effect/platform-node"
import * as tf from "@tensorflow/tfjs-core"
import { Effect } from "effect"
import {
  descriptorStep,
  generate,
  generatorStep,
  langevinRevise,
  latentRevise,
} from "../../dist/models/coopnets.js"
import { createAverage, updateAverage } from "../../dist/models/ema.js"
import { foldIn, normalTensor, rootKey } from "../../dist/models/random.js"
import { selectBackend } from "../../dist/pipeline/backend/select.js"
import { decodeSpec } from "../../dist/pipeline/config/spec.js"
import { loadMnist } from "../../dist/pipeline/data/mnist.js"
import { buildModels } from "../../dist/pipeline/nets/build.js"
import { encodeNpy } from "../../dist/pipeline/run-dir/image-files.js"
import { batchAt } from "../../dist/stages/load.js"

const argv = process.argv.slice(2)
const [configFile, out] = argv
const list = (name, fallback) => {
  const i = argv.indexOf(name)
  return i < 0 ? fallback : argv[i + 1].split(",").map(Number)
}
const sets = argv.flatMap((a, i) => (a === "--set" ? [argv[i + 1]] : []))
const at = list("--at", [])
const emas = list("--ema", [])
const langevins = list("--langevin", [0])
const n = list("--n", [1000])[0]

const spec = await Effect.runPromise(decodeSpec(readFileSync(configFile, "utf8"), configFile, sets))
await selectBackend("tensorflow")
mkdirSync(out, { recursive: true })
const dataset = await Effect.runPromise(
  loadMnist(spec.data.limit, spec.seed, spec.data.split).pipe(Effect.provide(NodeServices.layer)),
)
const models = buildModels(spec)
const { descriptor, generator, descriptorOptimizer, generatorOptimizer } = models
// the moving averages of src/models/ema.ts (with its warm-up)
const ema = emas.map((decay) => ({ decay, params: createAverage(generator.params, `ema${decay}`) }))

const seed = spec.seed
const o = { langevin: spec.langevin, chains: spec.training.chains, zDim: spec.model.zDim }
const samplesOf = (params, langevinSteps) => {
  const g = { spec: generator.spec, params }
  const values = new Float32Array(n * 784)
  const key = foldIn(rootKey(0), "sample")
  for (let first = 0, b = 0; first < n; first += o.chains, b++) {
    const m = Math.min(o.chains, n - first)
    const v = tf.tidy(() => {
      const z = normalTensor(foldIn(key, "z", b), [m, o.zDim])
      const x = generate(g, z)
      if (langevinSteps === 0) return x.dataSync()
      const { revised } = langevinRevise(
        descriptor,
        x,
        { ...o.langevin, steps: langevinSteps },
        foldIn(key, "revise", b),
      )
      return revised.dataSync()
    })
    values.set(v, first * 784)
  }
  return values.map((x) => Math.min(1, Math.max(0, (x + 1) / 2)))
}
const dump = (iteration) => {
  for (const k of langevins) {
    const variants = [["gen", generator.params], ...ema.map((e) => [`ema${e.decay}`, e.params])]
    for (const [name, params] of variants) {
      const file = nodePath.join(out, `it${iteration}-${name}-l${k}.npy`)
      writeFileSync(`${file}.tmp`, encodeNpy(samplesOf(params, k), [n, 28, 28]))
      renameSync(`${file}.tmp`, file)
    }
  }
}

const ms = []
const total = Math.max(...at)
for (let i = 0; i < total; i++) {
  const t0 = performance.now()
  const batch = batchAt(dataset, { seed, batchSize: spec.training.batchSize }, i)
  const images = tf.tensor4d(batch.images, [spec.training.batchSize, ...dataset.shape])
  const z = normalTensor(foldIn(rootKey(seed), "draft", i), [o.chains, o.zDim])
  const drafts = tf.tidy(() => generate(generator, z))
  const { revised } = langevinRevise(descriptor, drafts, o.langevin, foldIn(rootKey(seed), "revise", i))
  const d = descriptorStep(descriptor, descriptorOptimizer, images, revised, o.langevin.refSigma)
  let g
  if (spec.latentLangevin.steps === 0)
    g = generatorStep(generator, generatorOptimizer, z, revised, spec.generatorSigma)
  else {
    const zr = latentRevise(
      generator,
      z,
      revised,
      { ...spec.latentLangevin, sigma: spec.generatorSigma },
      foldIn(rootKey(seed), "teach", i),
    )
    g = generatorStep(generator, generatorOptimizer, zr, revised, spec.generatorSigma)
    zr.dispose()
  }
  for (const e of ema) updateAverage(e.params, generator.params, e.decay, i)
  tf.dispose([images, z, drafts, revised])
  ms.push(performance.now() - t0)
  if (!Number.isFinite(d.loss) || !Number.isFinite(g.loss)) {
    console.log(`diverged at ${i + 1}`)
    break
  }
  if ((i + 1) % 50 === 0)
    console.log(
      `it ${i + 1} ${(ms.slice(-50).reduce((a, b) => a + b) / 50).toFixed(0)} ms/it L_D ${d.loss.toExponential(2)} recon ${g.reconstructionError.toFixed(4)} E obs ${d.observedEnergy.toExponential(2)} rev ${d.revisedEnergy.toExponential(2)}`,
    )
  if (at.includes(i + 1)) {
    dump(i + 1)
    const sorted = [...ms].slice(1).sort((a, b) => a - b)
    writeFileSync(
      nodePath.join(out, "timing.json"),
      JSON.stringify({
        iterations: i + 1,
        msMedian: sorted[Math.floor(sorted.length / 2)],
        msTotal: ms.reduce((a, b) => a + b, 0),
        sets,
      }),
    )
  }
}
