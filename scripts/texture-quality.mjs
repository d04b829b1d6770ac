#!/usr/bin/env node
/**
 * Texture quality of image sets against an exemplar, next to the exemplar's
 * own floor (other crops of it at the same size), with src/models/texture-quality.ts
 * from dist/ (run `npm run build` first).
 *
 *   node scripts/texture-quality.mjs --exemplar data/brick.png --scale 0.5 --channels 1 \
 *     runs/texture/sampled/samples.npy [more.npy | image.png ...] [--controls 128] [--json out.json]
 *
 * The exemplar is read as the texture loader reads it (resized by --scale,
 * min-max scaled as a whole), then mapped to [0, 1]. Inputs: .npy arrays of
 * N×H×W or N×H×W×C values in [0, 1] (as `sample` writes), or PNG/JPEG files
 * (one image each, [0, 255] → [0, 1]). --controls SIZE adds rows for other
 * crops of the exemplar, uniform noise and a flat image at the exemplar's mean.
 * "x floor" is the worst pyramid level's distance over the floor's there.
 * --floors 64,128 prints, per size and pyramid level, the floor (crops of the
 * exemplar) next to the held-out floor (crops of one half against the other
 * half) and their ratio.
 */
import { readFileSync, writeFileSync } from "node:fs"
import { parseArgs } from "node:util"

const { values: args, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    exemplar: { type: "string" },
    scale: { type: "string", default: "1" },
    channels: { type: "string", default: "1" },
    "floor-crops": { type: "string", default: "16" },
    controls: { type: "string" },
    floors: { type: "string" },
    json: { type: "string" },
    seed: { type: "string", default: "0" },
    quiet: { type: "boolean", default: false },
  },
})
if (args.exemplar === undefined) {
  console.error(
    "usage: node scripts/texture-quality.mjs --exemplar FILE [--scale S] [--channels 1|3] inputs...",
  )
  process.exit(2)
}

const tf = await import("@tensorflow/tfjs-core")
// the native backend when it loads (see scripts/native-backend.mjs), else pure JS
await import("@tensorflow/tfjs-node").catch(() => import("@tensorflow/tfjs-backend-cpu"))
const q = await import("../dist/models/texture-quality.js")
const { decodeImage } = await import("../dist/pipeline/data/decode.js")
const { decodeNpy } = await import("../dist/pipeline/run-dir/image-files.js")
tf.enableProdMode()

const channels = Number(args.channels)
const raw = await decodeImage(args.exemplar, { channels, scale: Number(args.scale) })
let lo = 255
let hi = 0
for (const v of raw.pixels) {
  lo = Math.min(lo, v)
  hi = Math.max(hi, v)
}
const exemplar = Float32Array.from(raw.pixels, (v) => (hi === lo ? 0.5 : (v - lo) / (hi - lo)))
const started = performance.now()
const ref = q.textureReference(exemplar, [raw.height, raw.width, channels], { seed: Number(args.seed) })

const floors = new Map()
const floorAt = (side) => {
  if (!floors.has(side)) floors.set(side, q.textureFloor(ref, side, Number(args["floor-crops"])))
  return floors.get(side)
}

const readInput = async (file) => {
  if (file.toLowerCase().endsWith(".npy")) {
    const a = decodeNpy(readFileSync(file))
    const [n, h, w, c = 1] = a.shape
    return {
      images: Float32Array.from(a.values, (v) => Math.min(1, Math.max(0, v))),
      count: n,
      shape: [h, w, c],
    }
  }
  const img = await decodeImage(file, { channels })
  return {
    images: Float32Array.from(img.pixels, (v) => v / 255),
    count: 1,
    shape: [img.height, img.width, channels],
  }
}

const rows = []
const add = (name, set) => {
  const report = q.scoreTextures(ref, set.images, set.count, set.shape)
  const floor = floorAt(set.shape[0])
  rows.push({
    name,
    count: set.count,
    side: set.shape[0],
    report,
    over: q.overFloor(report.mean, floor.mean),
  })
}

for (const file of positionals) add(file, await readInput(file))
if (args.controls !== undefined) {
  const side = Number(args.controls)
  const size = side * side * channels
  const crops = q.exemplarCrops({ ...ref, options: { ...ref.options, seed: ref.options.seed + 1 } }, side, 8)
  add(`control: 8 other exemplar crops ${side}px`, { images: crops, count: 8, shape: [side, side, channels] })
  let s = 12345
  const noise = Float32Array.from({ length: 4 * size }, () => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0
    return s / 2 ** 32
  })
  add(`control: uniform noise ${side}px`, { images: noise, count: 4, shape: [side, side, channels] })
  add(`control: flat at the exemplar mean ${side}px`, {
    images: new Float32Array(size).fill(ref.pixelMean),
    count: 1,
    shape: [side, side, channels],
  })
}

const f = (v, d = 3) => (Number.isFinite(v) ? v.toFixed(d) : String(v))
const table = [
  "| images | n | side | style (x floor) | patch SWD (x floor) | mean ratio | contrast ratio |",
  "| --- | --- | --- | --- | --- | --- | --- |",
  ...[...floors.entries()].map(
    ([side, fl]) =>
      `| floor: exemplar crops | ${fl.perImage.length} | ${side} | ${f(fl.mean.style)} ± ${f(fl.spread.style)} | ${f(fl.mean.swd, 4)} ± ${f(fl.spread.swd, 4)} | ${f(fl.mean.meanRatio, 2)} | ${f(fl.mean.contrastRatio, 2)} |`,
  ),
  ...rows.map(
    (r) =>
      `| ${r.name} | ${r.count} | ${r.side} | ${f(r.report.mean.style)} ± ${f(r.report.spread.style)} (${f(r.over.style, 2)}x) | ${f(r.report.mean.swd, 4)} ± ${f(r.report.spread.swd, 4)} (${f(r.over.swd, 2)}x) | ${f(r.report.mean.meanRatio, 2)} | ${f(r.report.mean.contrastRatio, 2)} |`,
  ),
]
if (args.floors !== undefined) {
  const held = q.heldOutReference(ref)
  const levels = (a, b) => a.map((v, i) => `${f(v, 4)} / ${f(b[i], 4)} (${f(b[i] / v, 2)}x)`).join(", ")
  for (const side of args.floors.split(",").map(Number)) {
    const inside = floorAt(side).mean
    const out = q.heldOutFloor(held, side, Number(args["floor-crops"])).mean
    console.log(
      `${side} px, floor / held-out floor per level — style: ${levels(inside.styleByScale, out.styleByScale)}; patch SWD: ${levels(inside.swdByScale, out.swdByScale)}`,
    )
  }
}
if (!args.quiet) {
  console.log(`exemplar ${args.exemplar} at scale ${args.scale}: ${raw.width}x${raw.height}x${channels}`)
  console.log(table.join("\n"))
  console.log(`(${((performance.now() - started) / 1000).toFixed(1)} s)`)
}
if (args.json !== undefined)
  writeFileSync(
    args.json,
    `${JSON.stringify(
      {
        exemplar: args.exemplar,
        scale: Number(args.scale),
        channels,
        floors: Object.fromEntries(
          [...floors.entries()].map(([k, v]) => [k, { mean: v.mean, spread: v.spread }]),
        ),
        rows: rows.map((r) => ({
          name: r.name,
          count: r.count,
          side: r.side,
          mean: r.report.mean,
          spread: r.report.spread,
          overFloor: r.over,
        })),
      },
      null,
      2,
    )}\n`,
  )
