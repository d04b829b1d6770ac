#!/usr/bin/env node
/**
 * What report.html and the TensorBoard event files cost a training run: the
 * benchmark's official MNIST iteration (batch 100, 144 chains, 15 Langevin
 * steps) with grids written every iteration (the benchmark's I/O case), with
 * the report and event files on and off, alternating run by run so that the
 * machine's load drifts over both alike. For each run: the median wall time
 * per iteration (the first left out), and the CPU time of the whole process
 * (main thread, report worker, libuv pool) per iteration, which depends much
 * less on what else the machine runs. Needs `npm run build`.
 *
 *   node scripts/report-overhead.mjs [iterations=6] [pairs=3] [backend=tensorflow]
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { NodeServices } from "@effect/platform-node"
import { Effect } from "effect"
import { specDefaults } from "../dist/pipeline/config/spec.js"
import { train } from "../dist/pipeline/training/train.js"

const [iterations = 6, pairs = 3] = process.argv.slice(2, 4).map(Number)
const backend = process.argv[4] ?? "tensorflow"

const once = async (report) => {
  const outDir = mkdtempSync(join(tmpdir(), "coopnets-overhead-"))
  const spec = {
    ...specDefaults,
    name: "overhead",
    backend,
    training: { ...specDefaults.training, iterations },
    output: {
      ...specDefaults.output,
      sampleEvery: 1,
      checkpointEvery: 0,
      logEvery: iterations + 1,
      report,
      tensorboard: report,
    },
  }
  const cpu = process.cpuUsage()
  const started = performance.now()
  await Effect.runPromise(
    train(spec, { source: "overhead", outDir, force: true, quiet: true }).pipe(
      Effect.provide(NodeServices.layer),
    ),
  )
  const wall = performance.now() - started
  const used = process.cpuUsage(cpu)
  const ms = readFileSync(join(outDir, "metrics.jsonl"), "utf8")
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l).ms.iteration)
    .slice(1)
    .sort((a, b) => a - b)
  rmSync(outDir, { recursive: true, force: true })
  return {
    report,
    medianMs: ms[Math.floor(ms.length / 2)],
    cpuMsPerIteration: (used.user + used.system) / 1000 / iterations,
    wallMsPerIteration: wall / iterations,
  }
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]
const runs = []
for (let p = 0; p < pairs; p++)
  for (const report of p % 2 === 0 ? [true, false] : [false, true]) {
    const r = await once(report)
    runs.push(r)
    process.stderr.write(`${JSON.stringify(r)}\n`)
  }
const of = (report, key) => median(runs.filter((r) => r.report === report).map((r) => r[key]))
console.log(
  JSON.stringify({
    iterations,
    pairs,
    medianMsOn: of(true, "medianMs"),
    medianMsOff: of(false, "medianMs"),
    wallRatio: of(true, "medianMs") / of(false, "medianMs"),
    cpuMsPerIterationOn: of(true, "cpuMsPerIteration"),
    cpuMsPerIterationOff: of(false, "cpuMsPerIteration"),
    cpuRatio: of(true, "cpuMsPerIteration") / of(false, "cpuMsPerIteration"),
  }),
)
