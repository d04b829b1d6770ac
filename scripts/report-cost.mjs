#!/usr/bin/env node
/**
 * What rewriting report.html costs, on a run directory shaped like the
 * official MNIST run (3,000 iterations, grids of 144 chains every 50,
 * evaluation every 100): the time to build and write the report in this
 * thread, the first time (every image read) and again (only new lines read),
 * and its size. Needs `npm run build`.
 *
 *   node scripts/report-cost.mjs [iterations=3000] [sampleEvery=50] [rounds=5]
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import sharp from "sharp"
import { RunReporter } from "../dist/pipeline/report/report.js"

const [iterations = 3000, sampleEvery = 50, rounds = 5] = process.argv.slice(2).map(Number)
const dir = mkdtempSync(join(tmpdir(), "coopnets-report-cost-"))
mkdirSync(join(dir, "samples"))
writeFileSync(
  join(dir, "config.json"),
  JSON.stringify({ name: "cost", seed: 1, training: { iterations }, output: { sampleEvery } }),
)
writeFileSync(
  join(dir, "run.json"),
  JSON.stringify({
    source: "config/mnist.json",
    backend: { name: "tensorflow", attempts: [] },
    started: new Date().toISOString(),
  }),
)
// a 12x12 grid of 28x28 blurred strokes: compresses like a real grid of digits
const grid = async (seed) => {
  const side = 336
  const px = Buffer.alloc(side * side)
  for (let k = 0; k < px.length; k++) {
    const x = k % side,
      y = Math.floor(k / side)
    const v = Math.sin((x % 28) * 0.3 + seed) * Math.cos((y % 28) * 0.25 + seed * 0.7)
    px[k] = v > 0.3 ? Math.min(255, Math.round(v * 300)) : 0
  }
  return sharp(px, { raw: { width: side, height: side, channels: 1 } })
    .blur(0.8)
    .png()
    .toBuffer()
}
const lines = []
for (let i = 1; i <= iterations; i++) {
  lines.push(
    JSON.stringify({
      iteration: i,
      epoch: Math.floor(i / 90),
      energy: { observed: -1e6 * Math.sin(i), drafted: 1e4 * i, revised: -1e6 },
      descriptorLoss: Math.cos(i),
      generatorLoss: 1 / i,
      reconstructionError: 0.1,
      memory: { tensors: 60, rssMb: 1000 },
      ms: {
        load: 0.3,
        draft: 220,
        revise: 1700,
        updateDescriptor: 300,
        teach: 700,
        iteration: 2920 + (i % 7),
      },
    }),
  )
  if (i % 100 === 0)
    lines.push(
      JSON.stringify({
        iteration: i,
        evaluation: {
          count: 1000,
          frechetDistance: 1000 / i,
          inceptionScore: 1 + i / 1000,
          classHistogram: Array.from({ length: 10 }, () => 100),
          classEntropy: 2.3,
          copyFraction: 0,
          medianNearestTrainDistance: 8,
          ms: 3000,
        },
      }),
    )
  if (i % sampleEvery === 0)
    for (const kind of ["drafts", "revised"])
      writeFileSync(
        join(dir, "samples", `${kind}-${String(i).padStart(6, "0")}.png`),
        await grid(i + (kind === "revised" ? 0.5 : 0)),
      )
}
writeFileSync(join(dir, "metrics.jsonl"), `${lines.join("\n")}\n`)
const reporter = new RunReporter(dir)
// wall time depends on what else the machine runs; CPU time (user + system, this process) much less
const times = []
const cpu = []
let bytes = 0
for (let r = 0; r < rounds; r++) {
  const before = process.cpuUsage()
  const w = await reporter.write(true)
  const used = process.cpuUsage(before)
  cpu.push((used.user + used.system) / 1000)
  times.push(w.ms)
  bytes = w.bytes
}
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b)
  return Math.round(s[Math.floor(s.length / 2)])
}
console.log(
  JSON.stringify({
    iterations,
    sampleEvery,
    grids: (2 * iterations) / sampleEvery,
    reportBytes: bytes,
    firstWallMs: Math.round(times[0]),
    firstCpuMs: Math.round(cpu[0]),
    rewriteWallMs: median(times.slice(1)),
    rewriteCpuMs: median(cpu.slice(1)),
  }),
)
rmSync(dir, { recursive: true, force: true })
