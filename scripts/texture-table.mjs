#!/usr/bin/env node
/**
 * Texture runs against their exemplars: for each trained texture run, draws
 * samples at the training size (1x) and at twice it (2x) the way the run's
 * chains start, scores them with the texture quality measure
 * (src/models/texture-quality.ts, from dist/: run `npm run build` first)
 * against the run's own exemplar (data.path at data.scale, as the loader reads
 * it) next to the floor (other crops of the exemplar at the same size) and the
 * held-out floor (crops of one half of the exemplar against the other half;
 * the samples then against either half, averaged), and
 * writes a Markdown table, a JSON file and a picture per run:
 * exemplar | synthesis at 1x | synthesis at 2x.
 *
 *   node scripts/texture-table.mjs runs/texture runs/texture-descriptor-alone ... \
 *     [--n 8] [--seed 0] [--persistent-steps 100] [--pictures docs] [--json out.json] [--md out.md]
 *     [--weights average|last] [--langevin K] [--stack docs/textures-all.png]
 *
 * --weights: the generator's moving average (the default, when the run kept one) or its last
 * weights; --langevin K: K descriptor Langevin steps after the generator's drafts instead of the
 * run's langevin.steps (0: the drafts as they are); --stack FILE: every run's picture in one
 * PNG, a row each, in the order given. The JSON has the ratio to the floor at every level.
 *
 * How a run's samples start (its stages.chains):
 * - "generator" (CoopNets): drafts g(z) revised by langevin.steps descriptor steps, as `sample` does;
 * - "noise" (the descriptor alone): N(0, s²) noise revised by langevin.steps steps, as in training;
 * - "persistent": N(0, s²) noise revised by --persistent-steps steps (the training chains
 *   are 1x-sized and persist across iterations; longer chains stand in for them at 2x).
 */
import { mkdirSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { parseArgs } from "node:util"
import { NodeServices } from "@effect/platform-node"
import { Effect } from "effect"
import sharp from "sharp"

const { values: args, positionals: runs } = parseArgs({
  allowPositionals: true,
  options: {
    n: { type: "string", default: "8" },
    seed: { type: "string", default: "0" },
    "persistent-steps": { type: "string", default: "100" },
    "floor-crops": { type: "string", default: "16" },
    pictures: { type: "string" },
    json: { type: "string" },
    md: { type: "string" },
    backend: { type: "string", default: "auto" },
    weights: { type: "string", default: "average" },
    langevin: { type: "string" },
    stack: { type: "string" },
  },
})
if (runs.length === 0) {
  console.error(
    "usage: node scripts/texture-table.mjs RUN_DIR... [--n 8] [--pictures docs] [--json f] [--md f]",
  )
  process.exit(2)
}

// a run that cannot be scored (not a texture run, an exemplar too small for the held-out floor): its message, no stack
let scoring = ""
process.setUncaughtExceptionCaptureCallback((e) => {
  console.error(`texture-table: ${scoring}: ${e instanceof Error ? e.message : String(e)}`)
  process.exit(1)
})

const q = await import("../dist/models/texture-quality.js")
const { decodeImage } = await import("../dist/pipeline/data/decode.js")
const { drawFromNoise, drawSamples } = await import("../dist/pipeline/nets/draw.js")
const { openTrainedRun, withTrainedModels } = await import("../dist/pipeline/nets/trained.js")

const count = Number(args.n)
const seed = Number(args.seed)

/** count samples of side x side, pixels in [-1, 1], started as the run's chains start. */
const synthesise = (models, spec, side, how) => {
  const image = [side, side, spec.data.channels]
  if (how === "generator") {
    const steps = args.langevin === undefined ? spec.langevin.steps : Number(args.langevin)
    return drawSamples(models, spec, count, steps, seed, image)
  }
  const steps = how === "persistent" ? Number(args["persistent-steps"]) : spec.langevin.steps
  return drawFromNoise(models, spec, count, steps, seed, image)
}

const exemplars = new Map()
const exemplarOf = async (data) => {
  const id = `${data.path}@${data.scale}x${data.channels}`
  if (!exemplars.has(id)) {
    const raw = await decodeImage(data.path, { channels: data.channels, scale: data.scale })
    let lo = 255
    let hi = 0
    for (const v of raw.pixels) {
      lo = Math.min(lo, v)
      hi = Math.max(hi, v)
    }
    const pixels = Float32Array.from(raw.pixels, (v) => (hi === lo ? 0.5 : (v - lo) / (hi - lo)))
    const ref = q.textureReference(pixels, [raw.height, raw.width, data.channels])
    exemplars.set(id, { raw, ref, held: q.heldOutReference(ref), floors: {}, heldFloors: {} })
  }
  return exemplars.get(id)
}

const toUnit = (values) => values.map((v) => Math.min(1, Math.max(0, (v + 1) / 2)))

const pngOf = (unit, side, c) =>
  sharp(Buffer.from(Uint8Array.from(unit, (v) => Math.round(v * 255))), {
    raw: { width: side, height: side, channels: c },
  })
    .png()
    .toBuffer()

const results = []
for (const location of runs) {
  scoring = location
  const program = Effect.gen(function* () {
    const run = yield* openTrainedRun(location, join(location, "texture-table"), true, "texture-table")
    const spec = run.spec
    if (spec.data.source !== "texture")
      throw new Error(`${location} is not a texture run (data.source ${spec.data.source})`)
    const side = spec.data.size
    const how = spec.stages.chains
    const started = performance.now()
    const { samples, weights } = yield* withTrainedModels(
      run,
      args.backend,
      true,
      (models, weights) => ({
        samples: { one: synthesise(models, spec, side, how), two: synthesise(models, spec, 2 * side, how) },
        weights,
      }),
      args.weights,
    )
    return { run, spec, side, how, samples, weights, seconds: (performance.now() - started) / 1000 }
  })
  const { run, spec, side, how, samples, weights, seconds } = await Effect.runPromise(
    program.pipe(Effect.provide(NodeServices.layer)),
  )
  const c = spec.data.channels
  const ex = await exemplarOf(spec.data)
  const scored = {}
  for (const [label, s, values] of [
    ["1x", side, samples.one],
    ["2x", 2 * side, samples.two],
  ]) {
    ex.floors[s] ??= q.textureFloor(ex.ref, s, Number(args["floor-crops"]))
    ex.heldFloors[s] ??= q.heldOutFloor(ex.held, s, Number(args["floor-crops"]))
    const unit = toUnit(values)
    const report = q.scoreTextures(ex.ref, unit, count, [s, s, c])
    const held = q.scoreHeldOut(ex.held, unit, count, [s, s, c])
    scored[label] = {
      side: s,
      mean: report.mean,
      spread: report.spread,
      overFloor: q.overFloor(report.mean, ex.floors[s].mean),
      heldOut: {
        floor: ex.heldFloors[s].mean,
        mean: held.mean,
        spread: held.spread,
        overFloor: q.overFloor(held.mean, ex.heldFloors[s].mean),
      },
    }
  }
  const row = {
    run: location,
    exemplar: spec.data.path,
    scale: spec.data.scale,
    channels: c,
    chains: how,
    arch: spec.model.arch,
    weights: how === "generator" ? weights : "-",
    langevinSteps:
      how === "generator"
        ? args.langevin === undefined
          ? spec.langevin.steps
          : Number(args.langevin)
        : how === "persistent"
          ? Number(args["persistent-steps"])
          : spec.langevin.steps,
    iteration: run.checkpoint.manifest.iteration,
    samplingSeconds: seconds,
    floors: { [side]: ex.floors[side].mean, [2 * side]: ex.floors[2 * side].mean },
    floorSpread: { [side]: ex.floors[side].spread, [2 * side]: ex.floors[2 * side].spread },
    ...scored,
  }
  results.push(row)
  if (args.pictures !== undefined) {
    // exemplar | synthesis at 1x | synthesis at 2x, one sample each, 8 px apart
    const big = 2 * side
    const crop = q.exemplarCrops(ex.ref, big, 1)
    const tiles = [
      { input: await pngOf(crop, big, c), left: 0, top: 0 },
      {
        input: await pngOf(toUnit(samples.one.subarray(0, side * side * c)), side, c),
        left: big + 8,
        top: 0,
      },
      {
        input: await pngOf(toUnit(samples.two.subarray(0, big * big * c)), big, c),
        left: big + side + 16,
        top: 0,
      },
    ]
    const name = `${location
      .replace(/[/\\]+$/, "")
      .split(/[/\\]/)
      .pop()}.png`
    const picture = await sharp({
      create: { width: 2 * big + side + 16, height: big, channels: 3, background: "#ffffff" },
    })
      .composite(tiles)
      .png()
      .toBuffer()
    mkdirSync(args.pictures, { recursive: true })
    writeFileSync(join(args.pictures, name), picture)
    row.picture = { width: 2 * big + side + 16, height: big, png: picture }
  }
}

if (args.stack !== undefined) {
  // every run's picture, a row each, 8 px apart
  const shown = results.filter((r) => r.picture !== undefined)
  if (shown.length === 0) throw new Error("--stack needs --pictures")
  const width = Math.max(...shown.map((r) => r.picture.width))
  const tops = shown.map((_, i) => shown.slice(0, i).reduce((a, r) => a + r.picture.height + 8, 0))
  const height = (tops.at(-1) ?? 0) + (shown.at(-1)?.picture.height ?? 0)
  await sharp({ create: { width, height, channels: 3, background: "#ffffff" } })
    .composite(shown.map((r, i) => ({ input: r.picture.png, left: 0, top: tops[i] })))
    .png({ compressionLevel: 9 })
    .toFile(args.stack)
}
for (const r of results) delete r.picture

const f = (v, d = 2) => (Number.isFinite(v) ? v.toFixed(d) : String(v))
/** the pooling factor of the worst level, e.g. "/4" */
const worst = (ratios, scales) => `/${scales[ratios.indexOf(Math.max(...ratios))]}`
const lines = [
  "| run | exemplar | chains | side | style: floor / run (x floor) | patch SWD: floor / run (x floor) | worst levels: style, SWD | held-out floor: x style, x SWD | mean, contrast ratio |",
  "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
]
for (const r of results)
  for (const label of ["1x", "2x"]) {
    const s = r[label]
    const fl = r.floors[s.side]
    lines.push(
      `| ${r.run} | ${r.exemplar} | ${r.chains} | ${s.side} | ${f(fl.style, 3)} / ${f(s.mean.style, 3)} (${f(s.overFloor.style)}x) | ${f(fl.swd, 4)} / ${f(s.mean.swd, 4)} (${f(s.overFloor.swd)}x) | ${worst(s.overFloor.styleByScale, q.textureQualityDefaults.styleScales)}, ${worst(s.overFloor.swdByScale, q.textureQualityDefaults.patchScales)} | ${f(s.heldOut.overFloor.style)}x, ${f(s.heldOut.overFloor.swd)}x | ${f(s.mean.meanRatio)}, ${f(s.mean.contrastRatio)} |`,
    )
  }
console.log(lines.join("\n"))
if (args.md !== undefined) writeFileSync(args.md, `${lines.join("\n")}\n`)
if (args.json !== undefined) writeFileSync(args.json, `${JSON.stringify(results, null, 2)}\n`)
