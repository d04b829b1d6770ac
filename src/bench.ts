#!/usr/bin/env node
/**
 * `npm run bench`: speed of every net (src/bench-nets.ts: MNIST, texture,
 * object64) per stage and per iteration on the native backend, side by side
 * with the independent PyTorch reference on the same machine and threads where
 * it has the same nets, and against the CPU's fp32 peak; for MNIST also every
 * other backend that loads, the cost of writing sample grids, and a memory soak.
 * Each timed run is its own process (clean peak RSS); the last line printed is
 * one JSON object for scripts.
 *
 *   node dist/bench.js [--iterations N] [--rounds 3] [--nets mnist,texture,object64]
 *                      [--backends tensorflow,wasm,cpu] [--js-iterations 1] [--soak 1000]
 *                      [--no-pytorch] [--threads 2] [--no-report]
 *
 * Rounds are interleaved: in every round each net runs on the native backend
 * and then in PyTorch, so that drift in the machine's load affects both sides
 * of every ratio alike. Pure-JS backends run MNIST once, in the first round.
 */
import { execFileSync, spawnSync } from "node:child_process"
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs"
import { cpus, loadavg, tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { NodeRuntime, NodeServices } from "@effect/platform-node"
import * as tf from "@tensorflow/tfjs-core"
import { Effect, Option } from "effect"
import { Command, Flag } from "effect/cli"
import { BENCH_NETS, type BenchNet, benchMacs, benchSpec } from "./bench-nets.js"
import type { BackendName } from "./pipeline/backend/select.js"
import { applyThreadDefaults } from "./pipeline/backend/threads.js"
import { intFlag } from "./pipeline/commands/flags.js"
import { specDefaults as defaults, type PipelineSpec } from "./pipeline/config/spec.js"
import { type IterationLine, parseMetrics } from "./pipeline/run-dir/metrics.js"
import { train } from "./pipeline/training/train.js"

const STAGES = ["draft", "revise", "updateDescriptor", "teach"] as const
const ALL_BACKENDS: ReadonlyArray<BackendName> = ["tensorflow-gpu", "tensorflow", "wasm", "cpu"]
const NATIVE = new Set<BackendName>(["tensorflow-gpu", "tensorflow"])
const root = join(dirname(fileURLToPath(import.meta.url)), "..")

const median = (xs: ReadonlyArray<number>): number => {
  const s = [...xs].sort((a, b) => a - b)
  const m = Math.floor(s.length / 2)
  return s.length % 2 === 1 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2
}

type MetricsLine = IterationLine

const readMetrics = (dir: string): ReadonlyArray<MetricsLine> =>
  parseMetrics(readFileSync(join(dir, "metrics.jsonl"), "utf8")).metrics.iterations

type StageName = (typeof STAGES)[number]
/** One timed iteration: ms per stage and in all. */
type Sample = Readonly<Record<StageName | "iteration", number>>

interface WorkerResult {
  readonly backend: BackendName
  readonly compute: ReadonlyArray<Sample>
  /** iteration ms with sample grids written every iteration (MNIST only) */
  readonly withIo: ReadonlyArray<number>
  readonly peakRssMb: number
  /** GFLOP/s of a 2048³ float32 matrix product on this backend, best of three (native only) */
  readonly matmulGflops?: number
  readonly soak?: {
    readonly iterations: number
    readonly tensors: readonly [number, number]
    readonly rssMb: readonly [number, number]
  }
}

const sampleOf = (l: MetricsLine): Sample =>
  Object.fromEntries([...STAGES, "iteration"].map((s) => [s, l.ms[s] ?? 0])) as Sample

const netNamed = (name: string): BenchNet => {
  const net = BENCH_NETS.find((n) => n.name === name)
  if (net === undefined)
    throw new Error(`unknown net "${name}": --nets takes ${BENCH_NETS.map((n) => n.name).join(", ")}`)
  return net
}

const matmulGflops = (): number => {
  const n = 2048
  const [a, b] = [tf.randomNormal([n, n]), tf.randomNormal([n, n])]
  let best = Number.POSITIVE_INFINITY
  for (let i = 0; i < 4; i++) {
    const t0 = performance.now()
    const c = tf.matMul(a as tf.Tensor2D, b as tf.Tensor2D)
    c.dataSync()
    if (i > 0) best = Math.min(best, performance.now() - t0)
    c.dispose()
  }
  tf.dispose([a, b])
  return (2 * n ** 3) / (best / 1000) / 1e9
}

/** In a child process: time the net's iterations (MNIST: also with grids every iteration, and the soak). */
const worker = async (
  backend: BackendName,
  net: BenchNet,
  iterations: number,
  soak: number,
  report: boolean,
): Promise<void> => {
  const scratch = mkdtempSync(join(tmpdir(), "coopnets-bench-"))
  await net.prepare?.(scratch)
  const base = benchSpec(net, { ...defaults, backend }, root, scratch, iterations, report)
  const timed = async (spec: PipelineSpec) => {
    const outDir = join(scratch, `run-${Date.now()}`)
    await Effect.runPromise(
      train(spec, { source: "bench", outDir, force: true, quiet: true }).pipe(
        Effect.provide(NodeServices.layer),
      ),
    )
    return readMetrics(outDir).slice(1) // the first iteration pays for warm-up
  }
  const compute = (await timed(base)).map(sampleOf)
  const withIo =
    net.name === "mnist"
      ? (await timed({ ...base, output: { ...base.output, sampleEvery: 1 } })).map((l) => l.ms.iteration ?? 0)
      : []
  let soakResult: WorkerResult["soak"]
  if (soak > 0) {
    // a narrow net so that 1,000 iterations take minutes: the point is flat memory, not speed
    const lines = await timed({
      ...base,
      model: { ...base.model, descriptorChannels: [8, 16, 32], generatorChannels: [32, 16, 8] },
      training: { iterations: soak + 1, batchSize: 100, chains: 64 },
    })
    // live tensors include the batches the load buffer holds ahead, so compare window maxima
    const window = (from: number) => lines.slice(from, from + 100)
    const maxOf = (ls: ReadonlyArray<MetricsLine>, f: (l: MetricsLine) => number) => Math.max(...ls.map(f))
    const early = window(10)
    const late = window(Math.max(10, lines.length - 100))
    soakResult = {
      iterations: soak,
      tensors: [maxOf(early, (l) => l.memory.tensors), maxOf(late, (l) => l.memory.tensors)],
      rssMb: [maxOf(early, (l) => l.memory.rssMb), maxOf(late, (l) => l.memory.rssMb)],
    }
  }
  rmSync(scratch, { recursive: true, force: true })
  const result: WorkerResult = {
    backend,
    compute,
    withIo,
    peakRssMb: Math.round(process.resourceUsage().maxRSS / 1024),
    ...(NATIVE.has(backend) && net.name === "mnist" ? { matmulGflops: matmulGflops() } : {}),
    ...(soakResult ? { soak: soakResult } : {}),
  }
  process.stdout.write(`${JSON.stringify(result)}\n`)
}

const runWorker = (
  backend: BackendName,
  net: BenchNet,
  iterations: number,
  soak: number,
  report: boolean,
): WorkerResult | string => {
  const r = spawnSync(
    process.execPath,
    [
      fileURLToPath(import.meta.url),
      ...["--worker", backend, "--net", net.name, "--iterations", String(iterations), "--soak", String(soak)],
      ...(report ? [] : ["--no-report"]),
    ],
    { encoding: "utf8", maxBuffer: 1 << 26, stdio: ["ignore", "pipe", "pipe"] },
  )
  const line = r.stdout.trim().split("\n").pop() ?? ""
  if (r.status === 0 && line.startsWith("{")) return JSON.parse(line) as WorkerResult
  return (r.stderr.match(/error: (.*)/)?.[1] ?? r.stderr.trim().split("\n").pop() ?? "no output").slice(
    0,
    300,
  )
}

const referenceScript = (): string =>
  process.env.COOPNETS_REFERENCE ?? join(root, "..", "shared", "reference", "coopnets_ref.py")

/** Why the PyTorch reference cannot run here, or undefined. */
const pytorchMissing = (): string | undefined => {
  if (!existsSync(referenceScript()))
    return `reference not found at ${referenceScript()} (set COOPNETS_REFERENCE)`
  try {
    execFileSync("python3", ["-c", "import torch"], { stdio: "ignore" })
  } catch {
    return "no torch for python3: `pip install torch==2.13.0` (or Debian's python3-torch) to add this column"
  }
  return undefined
}

/** The PyTorch reference's per-iteration times for the net (its first iteration excluded as warm-up). */
const pytorch = (
  net: BenchNet,
  iterations: number,
  threads: number,
  reuseDraft: boolean,
): { samples: ReadonlyArray<Sample>; torch: string } | string => {
  const args = net.reference?.(root)
  if (args === undefined) return "the reference has no such nets"
  const out = mkdtempSync(join(tmpdir(), "coopnets-ref-"))
  const r = spawnSync(
    "python3",
    [
      referenceScript(),
      ...args,
      ...["--iters", String(iterations + 1), "--threads", String(threads), "--seed", "1"],
      ...["--num-samples", "1", "--out", out],
      ...(reuseDraft ? ["--reuse-draft-graph"] : []),
    ],
    { encoding: "utf8", maxBuffer: 1 << 26 },
  )
  rmSync(out, { recursive: true, force: true })
  const field = (line: string, name: string) => Number(new RegExp(`${name}=([\\d.]+)`).exec(line)?.[1])
  const samples = r.stdout
    .split("\n")
    .filter((l) => /^iter \d+ /.test(l) && Number(l.split(" ")[1]) > 1)
    .map((l) => ({
      draft: field(l, "draft_ms"),
      revise: field(l, "langevin_ms"),
      updateDescriptor: field(l, "des_update_ms"),
      teach: field(l, "gen_update_ms"),
      iteration: field(l, "total_ms"),
    }))
  const torch = /"torch": "([^"]+)"/.exec(r.stdout)?.[1] ?? "?"
  return samples.length > 0 ? { samples, torch } : `reference failed: ${(r.stderr || r.stdout).slice(-300)}`
}

/**
 * fp32 peak of this CPU from /proc/cpuinfo: cores × GHz × flops per cycle per core
 * (FMA units × vector lanes × 2). AMD Zen 2-4 (family 0x17, 0x19) run 512-bit
 * vectors as two 256-bit halves on two FMA pipes: 32; AVX-512 elsewhere 64;
 * AVX2+FMA 32; otherwise SSE 8.
 */
const peakGflops = (): { readonly gflops: number; readonly how: string } => {
  const info = existsSync("/proc/cpuinfo") ? readFileSync("/proc/cpuinfo", "utf8") : ""
  const cores = cpus().length
  const mhz = Number(/cpu MHz\s*:\s*([\d.]+)/.exec(info)?.[1] ?? cpus()[0]?.speed ?? 0)
  const flags = /flags\s*:(.*)/.exec(info)?.[1] ?? ""
  const amd = /vendor_id\s*:\s*AuthenticAMD/.test(info)
  const family = Number(/cpu family\s*:\s*(\d+)/.exec(info)?.[1] ?? 0)
  const halfWidth512 = amd && family <= 0x19
  const perCycle =
    flags.includes(" avx512f") && !halfWidth512
      ? 64
      : flags.includes(" fma") && flags.includes(" avx2")
        ? 32
        : 8
  const gflops = (cores * mhz * perCycle) / 1000
  const isa = flags.includes(" avx512f")
    ? halfWidth512
      ? "AVX-512 on 256-bit units"
      : "AVX-512"
    : "AVX2/FMA"
  return {
    gflops,
    how: `${cores} cores × ${(mhz / 1000).toFixed(2)} GHz × ${perCycle} flop/cycle, ${isa}`,
  }
}

interface Summary {
  readonly name: string
  readonly stageMs: Readonly<Record<StageName, number>>
  readonly msPerIteration: number
  readonly msPerIterationWithIo: number | null
  readonly peakRssMb: number | null
}

const summarise = (
  name: string,
  samples: ReadonlyArray<Sample>,
  withIo: ReadonlyArray<number>,
  rss: number | null,
): Summary => ({
  name,
  stageMs: Object.fromEntries(STAGES.map((s) => [s, median(samples.map((x) => x[s]))])) as Summary["stageMs"],
  msPerIteration: median(samples.map((x) => x.iteration)),
  msPerIterationWithIo: withIo.length > 0 ? median(withIo) : null,
  peakRssMb: rss,
})

/** What one net collected over the rounds. */
interface NetRecord {
  readonly net: BenchNet
  readonly backends: Map<
    BackendName,
    { samples: Sample[]; withIo: number[]; rss: number; rounds: Sample[][] }
  >
  readonly skipped: Map<BackendName, string>
  torch: { samples: Sample[]; rounds: Sample[][]; version: string }
  torchNote?: string
}

const cell = (v: string) => v.padStart(10)
const STAGE_LABELS = ["draft", "revise", "D-update", "teach"]

interface BenchOptions {
  readonly worker: BackendName | undefined
  readonly net: string
  /** timed iterations per round; undefined: each net's own */
  readonly iterations: number | undefined
  readonly soak: number
  readonly jsIterations: number
  readonly rounds: number
  readonly threads: number
  readonly nets: ReadonlyArray<string>
  readonly backends: ReadonlyArray<BackendName>
  readonly pytorch: boolean
  /** PyTorch keeps the draft's autograd graph for teaching, as this implementation keeps its forward pass */
  readonly pytorchReuseDraft: boolean
  readonly report: boolean
}

const main = async (o: BenchOptions): Promise<void> => {
  const { soak, jsIterations, rounds, threads } = o
  if (o.worker) {
    const net = netNamed(o.net)
    return worker(o.worker, net, o.iterations ?? net.iterations, soak, o.report)
  }
  const nets = o.nets.map(netNamed)
  const wanted = o.backends
  const nativeWanted = wanted.filter((b) => NATIVE.has(b))
  const missing = o.pytorch ? pytorchMissing() : "skipped (--no-pytorch)"
  const log = (line: string) => process.stderr.write(`bench: ${line}\n`)
  const load = [loadavg()[0] as number]
  const records: NetRecord[] = nets.map((net) => ({
    net,
    backends: new Map(),
    skipped: new Map(),
    torch: { samples: [], rounds: [], version: "" },
    ...(missing !== undefined ? { torchNote: missing } : {}),
  }))
  const soaks: Array<{ backend: string; soak: NonNullable<WorkerResult["soak"]> }> = []
  const matmul: number[] = []
  let soakLeft = soak
  for (let r = 0; r < rounds; r++) {
    for (const rec of records) {
      const { net } = rec
      const n = o.iterations ?? net.iterations
      // pure-JS backends: MNIST only, in the first round
      const here = net.name === "mnist" ? wanted.filter((b) => NATIVE.has(b) || r === 0) : nativeWanted
      for (const backend of here) {
        if (rec.skipped.has(backend)) continue
        const native = NATIVE.has(backend)
        const iterations = native ? n : jsIterations
        const soakHere = native && net.name === "mnist" && r === rounds - 1 ? soakLeft : 0
        log(
          `round ${r + 1}/${rounds} ${net.name} ${backend}: ${iterations} timed iterations${soakHere ? ` + ${soakHere}-iteration memory soak` : ""}`,
        )
        const result = runWorker(backend, net, iterations, soakHere, o.report)
        if (typeof result === "string") {
          rec.skipped.set(backend, result)
          log(`${net.name} ${backend} skipped: ${result}`)
          continue
        }
        const got = rec.backends.get(backend) ?? { samples: [], withIo: [], rss: 0, rounds: [] }
        got.samples.push(...result.compute)
        got.rounds.push([...result.compute])
        got.withIo.push(...result.withIo)
        got.rss = Math.max(got.rss, result.peakRssMb)
        rec.backends.set(backend, got)
        if (result.matmulGflops !== undefined) matmul.push(result.matmulGflops)
        if (result.soak) {
          soaks.push({ backend, soak: result.soak })
          soakLeft = 0
        }
      }
      if (rec.torchNote === undefined && net.reference !== undefined) {
        log(`round ${r + 1}/${rounds} ${net.name} pytorch: ${n} timed iterations`)
        const ref = pytorch(net, n, threads, o.pytorchReuseDraft)
        if (typeof ref === "string") rec.torchNote = ref
        else {
          rec.torch.samples.push(...ref.samples)
          rec.torch.rounds.push([...ref.samples])
          rec.torch.version = ref.torch
        }
      } else if (net.reference === undefined) rec.torchNote = "the PyTorch reference has no such nets"
      load.push(loadavg()[0] as number)
    }
  }
  const peak = peakGflops()
  // /proc/cpuinfo gives the nominal clock; the cores boost above it, so what a large matMul reaches
  // is the attainable peak when it is higher (shares above 100% of a nominal figure would say nothing)
  const attainable = Math.max(peak.gflops, ...matmul)
  const tfThreads = applyThreadDefaults({ ...process.env })
  const rows: string[] = [
    `median ms over ${rounds} interleaved rounds; TensorFlow ${tfThreads.intraOp} intra-op + ${tfThreads.interOp} inter-op threads, PyTorch ${threads} threads; load average ${Math.min(...load).toFixed(1)}–${Math.max(...load).toFixed(1)} while it ran`,
    `fp32 peak ≈ ${peak.gflops.toFixed(0)} GFLOP/s at the nominal clock (${peak.how})${matmul.length > 0 ? `; a 2048³ matMul on TensorFlow reached ${Math.max(...matmul).toFixed(0)} GFLOP/s` : ""}; shares below are of ${attainable.toFixed(0)} GFLOP/s, the larger`,
  ]
  const netSummaries: unknown[] = []
  for (const rec of records) {
    const { net } = rec
    const spec = benchSpec(net, defaults, root, tmpdir(), 1)
    const macs = benchMacs(spec)
    const gflops = (stage: StageName, ms: number) => (2 * macs[stage]) / (ms / 1000) / 1e9
    const images = spec.training.batchSize + spec.training.chains
    const summaries = [...rec.backends].map(([b, got]) =>
      summarise(b, got.samples, got.withIo, got.rss > 0 ? got.rss : null),
    )
    const torch =
      rec.torch.samples.length > 0
        ? summarise(
            `pytorch ${rec.torch.version}${o.pytorchReuseDraft ? " reuse" : ""}`,
            rec.torch.samples,
            [],
            null,
          )
        : undefined
    const n = o.iterations ?? net.iterations
    rows.push(
      "",
      `== ${net.name}: ${net.title}; ${n} iterations per round${net.name === "mnist" ? ` (pure-JS backends: ${jsIterations}, one round)` : ""}`,
      `${"".padEnd(22)}${[...STAGE_LABELS, "iter", "iter+I/O", "I/O ×", "img/s", "RSS MB"].map(cell).join("")}`,
    )
    for (const s of [...summaries, ...(torch ? [torch] : [])])
      rows.push(
        `${s.name.padEnd(22)}${[
          ...STAGES.map((st) => s.stageMs[st].toFixed(0)),
          s.msPerIteration.toFixed(0),
          s.msPerIterationWithIo?.toFixed(0) ?? "-",
          s.msPerIterationWithIo ? (s.msPerIterationWithIo / s.msPerIteration).toFixed(3) : "-",
          (images / (s.msPerIteration / 1000)).toFixed(1),
          s.peakRssMb?.toString() ?? "-",
        ]
          .map(cell)
          .join("")}`,
      )
    const ratios: Record<string, unknown> = {}
    for (const s of summaries) {
      if (torch === undefined) break
      const stageRatios = Object.fromEntries(
        STAGES.map((st) => [st, s.stageMs[st] / torch.stageMs[st]]),
      ) as Record<StageName, number>
      const iteration = s.msPerIteration / torch.msPerIteration
      // per round: this backend's median iteration over PyTorch's in the same round
      const got = rec.backends.get(s.name as BackendName)
      const perRound = (got?.rounds ?? [])
        .map((rs, i) => {
          const ts = rec.torch.rounds[i]
          return ts && ts.length > 0 && rs.length > 0
            ? median(rs.map((x) => x.iteration)) / median(ts.map((x) => x.iteration))
            : undefined
        })
        .filter((x): x is number => x !== undefined)
      ratios[s.name] = { stages: stageRatios, iteration, rounds: perRound }
      rows.push(
        `${`${s.name} / torch`.padEnd(22)}${[
          ...STAGES.map((st) => `${stageRatios[st].toFixed(2)}x`),
          `${iteration.toFixed(2)}x`,
        ]
          .map(cell)
          .join("")}   rounds ${perRound.map((x) => x.toFixed(2)).join(", ")}`,
      )
    }
    if (rec.torchNote) rows.push(`pytorch: ${rec.torchNote}`)
    for (const [b, why] of rec.skipped) rows.push(`${b}: skipped, ${why}`)
    const work = (2 * Object.values(macs).reduce((a, b) => a + b, 0)) / 1e9
    rows.push(
      `GFLOP/s per stage (2 × MACs of the official iteration / median ms; ${work.toFixed(1)} GFLOP per iteration), share of the attainable peak; teaching here reuses the draft's forward pass, so its rate is effective:`,
    )
    for (const s of [...summaries, ...(torch ? [torch] : [])])
      rows.push(
        `${s.name.padEnd(22)}${STAGES.map((st, i) => {
          const g = gflops(st, s.stageMs[st])
          return `${STAGE_LABELS[i]} ${g.toFixed(1)} (${((100 * g) / attainable).toFixed(0)}%)`
        }).join("   ")}`,
      )
    netSummaries.push({
      net: net.name,
      title: net.title,
      backends: summaries,
      pytorch: torch ?? rec.torchNote ?? null,
      ratioToPyTorch: ratios,
      stageGflops: Object.fromEntries(
        [...summaries, ...(torch ? [torch] : [])].map((s) => [
          s.name,
          Object.fromEntries(STAGES.map((st) => [st, gflops(st, s.stageMs[st])])),
        ]),
      ),
      skipped: Object.fromEntries(rec.skipped),
    })
  }
  for (const { backend, soak: m } of soaks)
    rows.push(
      "",
      `memory over ${m.iterations} iterations on ${backend} (narrow MNIST net): live tensors ${m.tensors[0]} → ${m.tensors[1]}, RSS ${m.rssMb[0]} → ${m.rssMb[1]} MB (max over iterations 10-110 → max over the last 100)`,
    )
  process.stdout.write(`${rows.join("\n")}\n`)
  // the first lines of the JSON keep the MNIST fields earlier versions printed
  const mnistRecord = records.find((r) => r.net.name === "mnist")
  const mnistBest = mnistRecord ? [...mnistRecord.backends][0] : undefined
  const best = mnistBest
    ? summarise(mnistBest[0], mnistBest[1].samples, mnistBest[1].withIo, mnistBest[1].rss)
    : undefined
  const mnistTorch =
    mnistRecord && mnistRecord.torch.samples.length > 0
      ? summarise("pytorch", mnistRecord.torch.samples, [], null)
      : undefined
  const summary = {
    backend: best?.name ?? null,
    msPerIteration: best?.msPerIteration ?? null,
    msPerIterationWithIo: best?.msPerIterationWithIo ?? null,
    ioOverheadRatio: best?.msPerIterationWithIo ? best.msPerIterationWithIo / best.msPerIteration : null,
    pytorchMsPerIteration: mnistTorch?.msPerIteration ?? null,
    ratioToPyTorch: best && mnistTorch ? best.msPerIteration / mnistTorch.msPerIteration : null,
    peakGflops: peak.gflops,
    attainableGflops: attainable,
    matmulGflops: matmul.length > 0 ? Math.max(...matmul) : null,
    loadAverage: [Math.min(...load), Math.max(...load)],
    threads,
    tensorflowThreads: tfThreads,
    rounds,
    nets: netSummaries,
    memory: soaks,
  }
  process.stdout.write(`${JSON.stringify(summary)}\n`)
}

const bench = Command.make(
  "node dist/bench.js",
  {
    iterations: intFlag("iterations", 1, "timed iterations per round (default: each net's own)").pipe(
      Flag.optional,
    ),
    rounds: intFlag("rounds", 1, "interleaved rounds (each: every net natively, then in PyTorch)").pipe(
      Flag.withDefault(3),
    ),
    nets: Flag.String("nets").pipe(
      Flag.withDescription(`comma-separated, of ${BENCH_NETS.map((n) => n.name).join(", ")}`),
      Flag.withDefault(BENCH_NETS.map((n) => n.name).join(",")),
    ),
    jsIterations: intFlag("js-iterations", 1, "timed iterations on the pure-JS backends (MNIST)").pipe(
      Flag.withDefault(1),
    ),
    soak: intFlag("soak", 0, "iterations of the memory soak on a narrow net (0: none)").pipe(
      Flag.withDefault(1000),
    ),
    threads: intFlag("threads", 1, "threads of the PyTorch reference").pipe(Flag.withDefault(cpus().length)),
    backends: Flag.String("backends").pipe(
      Flag.withDescription(`comma-separated, of ${ALL_BACKENDS.join(", ")} (pure-JS ones: MNIST only)`),
      Flag.withDefault(ALL_BACKENDS.join(",")),
    ),
    pytorchReuseDraft: Flag.Boolean("pytorch-reuse-draft").pipe(
      Flag.withDescription(
        "the PyTorch reference reuses the draft's graph for teaching (--reuse-draft-graph), as this implementation reuses the draft's forward pass",
      ),
      Flag.withDefault(false),
    ),
    pytorch: Flag.Boolean("pytorch").pipe(
      Flag.withDescription("run the PyTorch reference (--no-pytorch: skip it)"),
      Flag.withDefault(true),
    ),
    report: Flag.Boolean("report").pipe(
      Flag.withDescription(
        "write report.html and the TensorBoard event files as every run does (--no-report: neither, to measure their cost)",
      ),
      Flag.withDefault(true),
    ),
    worker: Flag.String("worker").pipe(Flag.withHidden, Flag.optional),
    net: Flag.String("net").pipe(Flag.withHidden, Flag.withDefault("mnist")),
  },
  (a) => {
    const unknown = a.nets.split(",").filter((n) => !BENCH_NETS.some((net) => net.name === n))
    if (unknown.length > 0)
      return Effect.sync(() => {
        process.stderr.write(
          `error: --nets: no net ${unknown.map((n) => `"${n}"`).join(", ")}; the nets are ${BENCH_NETS.map((n) => n.name).join(", ")}.\n`,
        )
        process.exitCode = 2
      })
    return Effect.promise(() =>
      main({
        ...a,
        iterations: Option.getOrUndefined(a.iterations),
        worker: Option.getOrUndefined(a.worker) as BackendName | undefined,
        nets: a.nets.split(","),
        backends: a.backends.split(",") as Array<BackendName>,
      }),
    )
  },
).pipe(
  Command.withDescription(
    "Speed of every net per stage on the native backend beside PyTorch and the CPU's peak; MNIST on every backend, with the I/O ratio and a memory soak.",
  ),
)

Command.run(bench, { version: "0.1.0" }).pipe(
  Effect.catch((e) =>
    Effect.sync(() => {
      process.stderr.write(`error: ${e.message}\n`)
      process.exitCode = 2
    }),
  ),
  Effect.provide(NodeServices.layer),
  NodeRuntime.runMain,
)
