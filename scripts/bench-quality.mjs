#!/usr/bin/env node
/**
 * Learning quality of the project against the independent PyTorch reference
 * (../shared/reference/coopnets_ref.py), at equal iterations and equal
 * wall-clock seconds, over several seeds.
 *
 *   npm run bench:quality -- [--seeds 1,2,3] [--iterations 100,250,500] [--out runs/bench-quality]
 *
 * For every seed it trains (niced, one run at a time, the two systems in turn):
 * - the reference with `--config mnist` (the official settings: batch 100, 144
 *   chains, 15 Langevin steps, …) on the project's 9,000 "train" digits written
 *   as `{0..9}.json` (scripts/mnist-split-json.mjs), in segments chained with
 *   `--resume` so that it writes its samples at every iteration count;
 * - the project with `config/mnist.json` (`--config`, `--set` to try a variant),
 *   checkpointing at every iteration count.
 * It then scores, with the project's own evaluator (`node dist/run.js evaluate`
 * on an .npy of pixels in [0, 1]), `--samples` images of each system at each
 * count: the generator alone (reference `samples_gen.npy`; project `sample
 * --langevin 0`) and after the descriptor's Langevin revision with the
 * training step count (reference `samples_des.npy`, the same revision the
 * training applies; project `sample --langevin <langevin.steps>`), both
 * mapped to [0, 1] and clipped (the revised samples leave [-1, 1]).
 *
 * Output (in --out): the table (printed, and `quality.md`), `quality.json`
 * (every number: per seed, per count, per sampler, timings, machine load),
 * `fd-vs-iterations.png` and `fd-vs-seconds.png` (+ .svg). Whatever is already
 * in --out is reused: a finished segment or run is not trained again, an
 * unfinished project run is resumed, a scored checkpoint is not scored again
 * (so a run can be stopped and restarted, and --budget-minutes stops starting
 * new training after that many minutes; the report covers what is done).
 *
 * Options:
 *   --seeds 1,2,3            training seeds (both systems)
 *   --iterations 100,250,500 iteration counts scored; the largest is the training length
 *   --systems project,reference
 *   --samples 1000           images scored per checkpoint and sampler
 *   --langevin K             Langevin steps of the "after Langevin" score (default: the config's langevin.steps)
 *   --config FILE            the project's pipeline (default config/mnist.json)
 *   --set path=value         project overrides (repeatable); the reference always runs its official settings
 *   --threads N              the reference's torch threads (default 2; the project uses TensorFlow's default: all cores)
 *   --out DIR                default runs/bench-quality
 *   --budget-minutes M       start no training after M minutes (0: no limit)
 *   --ms-per-iteration project=MS,reference=MS
 *                            the seconds axis as iterations × these (e.g. quiet-machine figures of `npm run bench`)
 *                            instead of the measured training time, which a loaded machine inflates
 *   --score-only             train nothing, score and report what is in --out
 *   --reference PATH         default ../shared/reference/coopnets_ref.py (beside the repository)
 *   --python CMD             default python3
 */
import { spawn } from "node:child_process"
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs"
import { loadavg } from "node:os"
import * as nodePath from "node:path"
import { fileURLToPath } from "node:url"

const ROOT = nodePath.dirname(nodePath.dirname(fileURLToPath(import.meta.url)))
const RUN = nodePath.join(ROOT, "dist", "run.js")

// ---------------------------------------------------------------------------- options
const usage = (message) => {
  console.error(
    `bench:quality: ${message}\nSee the comment at the top of scripts/bench-quality.mjs for the options.`,
  )
  process.exit(2)
}
const parseArgs = (argv) => {
  const o = {
    seeds: [1, 2, 3],
    iterations: [100, 250, 500],
    systems: ["project", "reference"],
    samples: 1000,
    langevin: undefined,
    config: "config/mnist.json",
    set: [],
    threads: 2,
    out: "runs/bench-quality",
    budgetMinutes: 0,
    scoreOnly: false,
    reference: nodePath.join(ROOT, "..", "shared", "reference", "coopnets_ref.py"),
    python: "python3",
    msPerIteration: undefined,
  }
  const ints = (v, name) => {
    const xs = v.split(",").map((s) => Number(s.trim()))
    if (xs.length === 0 || xs.some((x) => !Number.isInteger(x) || x <= 0))
      usage(`${name} takes positive integers separated by commas, got "${v}"`)
    return xs
  }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]
    const value = () => {
      const v = argv[++i]
      if (v === undefined) usage(`${a} needs a value`)
      return v
    }
    switch (a) {
      case "--seeds":
        o.seeds = ints(value(), a)
        break
      case "--iterations":
        o.iterations = [...new Set(ints(value(), a))].sort((x, y) => x - y)
        break
      case "--systems": {
        o.systems = value().split(",")
        const bad = o.systems.filter((s) => s !== "project" && s !== "reference")
        if (bad.length > 0) usage(`--systems takes project and/or reference, got ${bad.join(", ")}`)
        break
      }
      case "--samples":
        o.samples = ints(value(), a)[0]
        break
      case "--langevin":
        o.langevin = Number(value())
        if (!Number.isInteger(o.langevin) || o.langevin < 0) usage("--langevin takes an integer ≥ 0")
        break
      case "--config":
        o.config = value()
        break
      case "--set":
        o.set.push(value())
        break
      case "--threads":
        o.threads = ints(value(), a)[0]
        break
      case "--out":
        o.out = value()
        break
      case "--budget-minutes":
        o.budgetMinutes = Number(value())
        if (!(o.budgetMinutes >= 0)) usage("--budget-minutes takes a number ≥ 0")
        break
      case "--ms-per-iteration": {
        const raw = value()
        const pairs = raw.split(",").map((p) => p.split("="))
        const ms = Object.fromEntries(pairs.map(([k, v]) => [k, Number(v)]))
        if (pairs.some(([k, v]) => (k !== "project" && k !== "reference") || !(Number(v) > 0)))
          usage(`--ms-per-iteration takes project=MS,reference=MS, got "${raw}"`)
        o.msPerIteration = ms
        break
      }
      case "--score-only":
        o.scoreOnly = true
        break
      case "--reference":
        o.reference = value()
        break
      case "--python":
        o.python = value()
        break
      case "--help":
      case "-h":
        console.log(readFileSync(fileURLToPath(import.meta.url), "utf8").split("*/")[0])
        process.exit(0)
        break
      default:
        usage(`unknown option ${a}`)
    }
  }
  return o
}

// ---------------------------------------------------------------------------- helpers
const log = (line) =>
  process.stderr.write(`[bench:quality ${new Date().toISOString().slice(11, 19)}] ${line}\n`)
const load = () => loadavg().map((x) => Math.round(x * 100) / 100)
const readJson = (file) => JSON.parse(readFileSync(file, "utf8"))
const writeAtomic = (file, text) => {
  writeFileSync(`${file}.tmp`, text)
  renameSync(`${file}.tmp`, file)
}
const gcd = (a, b) => (b === 0 ? a : gcd(b, a % b))
const pad6 = (n) => String(n).padStart(6, "0")

/** Runs a command (niced), output to `logFile`; rejects with the log's tail on a non-zero exit. */
const run = (cmd, args, logFile) =>
  new Promise((resolve, reject) => {
    mkdirSync(nodePath.dirname(logFile), { recursive: true })
    const out = []
    const child = spawn("nice", ["-n", "10", cmd, ...args], {
      cwd: ROOT,
      stdio: ["ignore", "pipe", "pipe"],
      // torch ≥ 2.6 loads with weights_only=True by default, which refuses the numpy RNG state in the reference's ckpt.pt (--resume)
      env: { ...process.env, TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD: "1" },
    })
    for (const s of [child.stdout, child.stderr]) s.on("data", (d) => out.push(d))
    child.on("error", reject)
    child.on("close", (code) => {
      const text = Buffer.concat(out).toString()
      writeFileSync(logFile, text)
      if (code === 0) resolve(text)
      else
        reject(
          new Error(
            `${cmd} ${args.join(" ")} exited with ${code}; see ${logFile}:\n${text.split("\n").slice(-8).join("\n")}`,
          ),
        )
    })
  })

/** A float32 .npy (as numpy and the project write them): shape and values. */
const readNpy = (file) => {
  const bytes = readFileSync(file)
  const headerLength = bytes.readUInt16LE(8)
  const header = bytes.subarray(10, 10 + headerLength).toString("latin1")
  if (!header.includes("'<f4'")) throw new Error(`${file}: expected little-endian float32, header ${header}`)
  const shape = header
    .match(/'shape': \(([^)]*)\)/)[1]
    .split(",")
    .filter((s) => s.trim() !== "")
    .map(Number)
  const start = 10 + headerLength
  const values = new Float32Array(
    bytes.buffer.slice(bytes.byteOffset + start, bytes.byteOffset + bytes.length),
  )
  return { shape, values }
}
const writeNpy = (file, values, shape) => {
  let header = `{'descr': '<f4', 'fortran_order': False, 'shape': (${shape.join(", ")}${shape.length === 1 ? "," : ""}), }`
  header += " ".repeat((64 - ((10 + header.length + 1) % 64)) % 64)
  header += "\n"
  const pre = Buffer.alloc(10)
  pre.write("\x93NUMPY", 0, "latin1")
  pre[6] = 1
  pre.writeUInt16LE(header.length, 8)
  writeFileSync(
    `${file}.tmp`,
    Buffer.concat([
      pre,
      Buffer.from(header, "latin1"),
      Buffer.from(values.buffer, values.byteOffset, values.byteLength),
    ]),
  )
  renameSync(`${file}.tmp`, file)
}

/** The reference's samples in [-1, 1] (the revised ones reach about ±1.8) → N×28×28 in [0, 1], clipped. */
const referenceSamplesToUnit = (from, to) => {
  const { shape, values } = readNpy(from)
  const unit = values.map((x) => Math.min(1, Math.max(0, (x + 1) / 2)))
  writeNpy(to, unit, [shape[0], shape[shape.length - 2], shape[shape.length - 1]])
}

// ---------------------------------------------------------------------------- training
const referenceDir = (o, seed, it) => nodePath.join(o.out, `ref-s${seed}`, `it${it}`)
const projectDir = (o, seed) => nodePath.join(o.out, `proj-s${seed}`)
/** The project's checkpoint of iteration `it`: checkpoints/iter-NNNNNN, or checkpoints/final when that is where the run ended. */
const projectCheckpoint = (o, seed, it) => {
  const dir = nodePath.join(projectDir(o, seed), "checkpoints")
  const named = nodePath.join(dir, `iter-${pad6(it)}`)
  if (existsSync(nodePath.join(named, "checkpoint.json"))) return named
  const final = nodePath.join(dir, "final")
  const manifest = nodePath.join(final, "checkpoint.json")
  return existsSync(manifest) && readJson(manifest).iteration === it ? final : named
}

const trainReference = async (o, seed, digits) => {
  let last = 0
  for (const it of o.iterations) {
    const dir = referenceDir(o, seed, it)
    if (!existsSync(nodePath.join(dir, "summary.json"))) {
      const args = [o.reference, "--config", "mnist", "--threads", String(o.threads), "--seed", String(seed)]
      args.push(
        "--mnist-dir",
        digits,
        "--out",
        dir,
        "--iters",
        String(it - last),
        "--num-samples",
        String(o.samples),
      )
      args.push("--quiet-iters")
      if (last > 0) args.push("--resume", nodePath.join(referenceDir(o, seed, last), "ckpt.pt"))
      log(`reference seed ${seed}: iterations ${last + 1}-${it} (load ${load().join(" ")})`)
      await run(o.python, args, nodePath.join(dir, "log.txt"))
    }
    last = it
  }
}

const trainProject = async (o, seed) => {
  const dir = projectDir(o, seed)
  const last = Math.max(...o.iterations)
  if (existsSync(nodePath.join(projectCheckpoint(o, seed, last), "checkpoint.json"))) return
  const started = load()
  const every = o.iterations.reduce(gcd)
  const resuming = existsSync(nodePath.join(dir, "checkpoints"))
  const args = resuming
    ? // to this benchmark's length, whatever length the run was started with
      [RUN, "--resume", dir, "--iterations", String(last)]
    : [
        RUN,
        o.config,
        "--out",
        dir,
        "--force",
        "--set",
        `seed=${seed}`,
        "--set",
        `training.iterations=${last}`,
      ]
  if (!resuming) {
    args.push(
      "--set",
      `output.checkpointEvery=${every}`,
      "--set",
      `output.keepCheckpoints=${last / every + 1}`,
    )
    for (const s of o.set) args.push("--set", s)
  }
  log(
    `project seed ${seed}: ${resuming ? "resuming" : "training"} to ${last} iterations (load ${started.join(" ")})`,
  )
  await run("node", args, nodePath.join(o.out, `proj-s${seed}.${resuming ? "resume." : ""}log`))
  writeAtomic(
    nodePath.join(dir, "bench-load.json"),
    JSON.stringify({ loadavgStart: started, loadavgEnd: load() }),
  )
}

// ---------------------------------------------------------------------------- scoring
const COVERAGE_SHARE = 0.05

/** The numbers of one evaluation.json that the benchmark reports. */
const scoresOf = (file) => {
  const m = readJson(file).mnist.samples
  const share = m.classHistogram.map((c) => c / m.count)
  return {
    fd: m.frechetDistance,
    is: m.inceptionScore,
    coverage: share.filter((s) => s >= COVERAGE_SHARE).length,
    minClassShare: Math.min(...share),
    classHistogram: m.classHistogram,
    copyFraction: m.copyFraction,
  }
}

/** Scores one (system, seed, iteration, sampler), reusing an earlier score. */
const score = async (o, system, seed, it, sampler, langevin) => {
  const name = `${system === "project" ? "proj" : "ref"}-s${seed}-it${it}-${sampler}`
  const dir = nodePath.join(o.out, "scores", name)
  const done = nodePath.join(dir, "evaluation.json")
  const npy = nodePath.join(o.out, "scores", `${name}.npy`)
  if (!existsSync(done)) {
    if (system === "reference") {
      const from = nodePath.join(
        referenceDir(o, seed, it),
        sampler === "gen" ? "samples_gen.npy" : "samples_des.npy",
      )
      if (!existsSync(from)) return undefined
      referenceSamplesToUnit(from, npy)
    } else {
      const ckpt = projectCheckpoint(o, seed, it)
      if (!existsSync(nodePath.join(ckpt, "checkpoint.json"))) return undefined
      const sampled = nodePath.join(o.out, "scores", `${name}-sampled`)
      const k = sampler === "gen" ? 0 : langevin
      await run(
        "node",
        [
          RUN,
          "sample",
          ckpt,
          "--n",
          String(o.samples),
          "--langevin",
          String(k),
          "--seed",
          "0",
          "--out",
          sampled,
          "--force",
        ],
        `${sampled}.log`,
      )
      renameSync(nodePath.join(sampled, "samples.npy"), npy)
      rmSync(sampled, { recursive: true, force: true })
    }
    log(`scoring ${name}`)
    await run("node", [RUN, "evaluate", npy, "--out", dir, "--force"], `${dir}.log`)
  }
  return scoresOf(done)
}

// ---------------------------------------------------------------------------- timings
/** Reference: training seconds up to each count (sum of its segments' loop times), s/iteration, load. */
const referenceTimes = (o, seed) => {
  let seconds = 0
  const out = {}
  for (const it of o.iterations) {
    const f = nodePath.join(referenceDir(o, seed, it), "summary.json")
    if (!existsSync(f)) break
    const s = readJson(f)
    seconds += s.train_wall_s
    out[it] = {
      seconds,
      msPerIterationMedian: s.ms_per_iter,
      loadavgStart: s.loadavg_start,
      loadavgEnd: s.loadavg_end,
    }
  }
  return out
}

/** Project: training seconds up to each count (sum of metrics.jsonl's per-iteration ms), s/iteration, load. */
const projectTimes = (o, seed) => {
  const f = nodePath.join(projectDir(o, seed), "metrics.jsonl")
  if (!existsSync(f)) return {}
  const ms = []
  for (const line of readFileSync(f, "utf8").split("\n")) {
    if (line.trim() === "") continue
    const r = JSON.parse(line)
    ms[r.iteration] = r.ms.iteration
  }
  const loadFile = nodePath.join(projectDir(o, seed), "bench-load.json")
  const l = existsSync(loadFile) ? readJson(loadFile) : {}
  const out = {}
  for (const it of o.iterations) {
    const upTo = ms.slice(1, it + 1)
    if (upTo.length < it || upTo.some((x) => x === undefined)) break
    const segment = ms.slice(2, it + 1).sort((a, b) => a - b)
    out[it] = {
      seconds: upTo.reduce((a, b) => a + b, 0) / 1000,
      msPerIterationMedian: segment[Math.floor(segment.length / 2)],
      loadavgStart: l.loadavgStart,
      loadavgEnd: l.loadavgEnd,
    }
  }
  return out
}

// ---------------------------------------------------------------------------- report
const stats = (xs) => {
  const n = xs.length
  const mean = xs.reduce((a, b) => a + b, 0) / n
  const sd = n > 1 ? Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1)) : 0
  return { n, mean, sd, min: Math.min(...xs), max: Math.max(...xs) }
}
const fmt = (s, digits = 1) => (s === undefined ? "–" : `${s.mean.toFixed(digits)} ± ${s.sd.toFixed(digits)}`)

const summarise = (rows) => {
  const groups = new Map()
  for (const r of rows) {
    const key = `${r.system}|${r.iteration}|${r.sampler}`
    if (!groups.has(key)) groups.set(key, [])
    groups.get(key).push(r)
  }
  return [...groups.values()].map((g) => ({
    system: g[0].system,
    iteration: g[0].iteration,
    sampler: g[0].sampler,
    seeds: g.map((r) => r.seed),
    fd: stats(g.map((r) => r.fd)),
    is: stats(g.map((r) => r.is)),
    coverage: stats(g.map((r) => r.coverage)),
    seconds: g.every((r) => r.seconds !== undefined) ? stats(g.map((r) => r.seconds)) : undefined,
  }))
}

const table = (summary, o, langevin) => {
  const lines = [
    `| system | iterations | samples | FD ↓ | IS ↑ | classes ≥ ${COVERAGE_SHARE * 100}% | training s | seeds |`,
    "| --- | ---: | --- | ---: | ---: | ---: | ---: | --- |",
  ]
  const order = (s) => [s.iteration, s.system === "project" ? 0 : 1, s.sampler === "gen" ? 0 : 1]
  const sorted = [...summary].sort((a, b) => {
    const [x, y] = [order(a), order(b)]
    return x[0] - y[0] || x[1] - y[1] || x[2] - y[2]
  })
  for (const s of sorted)
    lines.push(
      `| ${s.system} | ${s.iteration} | ${s.sampler === "gen" ? "generator" : `+${langevin} Langevin`} | ${fmt(s.fd)} | ${fmt(s.is, 2)} | ${fmt(s.coverage)} | ${s.seconds === undefined ? "–" : fmt(s.seconds, 0)} | ${s.seeds.join(", ")} |`,
    )
  lines.push(
    "",
    `Mean ± standard deviation over seeds. FD: the project evaluator's Fréchet distance on its MNIST classifier's features against the 1,000 held-out digits (real digits: about 8), ${o.samples} samples each, pixels clipped to [0, 1]. IS: its Inception-score analogue (10 at best). Classes ≥ ${COVERAGE_SHARE * 100}%: digit classes holding at least ${COVERAGE_SHARE * 100}% of the samples by the classifier. Training s: ${
      o.msPerIteration === undefined
        ? "seconds of training up to that iteration (the sum of per-iteration times)"
        : `iterations × the quiet machine's ms per iteration (${Object.entries(o.msPerIteration)
            .map(([k, v]) => `${k} ${v}`)
            .join(", ")}); the measured times, inflated by the load, are in quality.json`
    }.`,
  )
  return lines.join("\n")
}

const chart = async (summary, x, title, file, langevin) => {
  const [{ default: vega }, { default: vl }, { default: sharp }] = await Promise.all([
    import("vega").then((m) => ({ default: m })),
    import("vega-lite").then((m) => ({ default: m })),
    import("sharp"),
  ])
  const values = summary
    .filter((s) => x === "iteration" || s.seconds !== undefined)
    .map((s) => ({
      x: x === "iteration" ? s.iteration : s.seconds.mean,
      fd: s.fd.mean,
      lo: s.fd.min,
      hi: s.fd.max,
      series: `${s.system} · ${s.sampler === "gen" ? "generator" : `+${langevin} Langevin`}`,
      system: s.system,
      sampler: s.sampler === "gen" ? "generator" : `+${langevin} Langevin`,
    }))
  const enc = {
    x: {
      field: "x",
      type: "quantitative",
      title: x === "iteration" ? "iterations" : "training seconds (mean over seeds)",
    },
    color: { field: "system", type: "nominal", title: "system" },
    strokeDash: {
      field: "sampler",
      type: "nominal",
      title: "samples",
      legend: { symbolStrokeColor: "#555" },
    },
  }
  const spec = {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title,
    width: 460,
    height: 280,
    data: { values },
    layer: [
      {
        mark: { type: "rule", opacity: 0.5 },
        encoding: {
          ...enc,
          y: { field: "lo", type: "quantitative" },
          y2: { field: "hi" },
          strokeDash: { value: [1, 0] },
        },
      },
      {
        mark: { type: "line", point: true },
        encoding: {
          ...enc,
          y: {
            field: "fd",
            type: "quantitative",
            title: "FD (mean over seeds; bars: min–max)",
            scale: { zero: true },
          },
        },
      },
    ],
    config: { background: "white", legend: { symbolType: "stroke", symbolStrokeWidth: 2 } },
  }
  const view = new vega.View(vega.parse(vl.compile(spec).spec), { renderer: "none" })
  const svg = await view.toSVG()
  writeAtomic(`${file}.svg`, svg)
  await sharp(Buffer.from(svg), { density: 110 }).png().toFile(`${file}.png.tmp`)
  renameSync(`${file}.png.tmp`, `${file}.png`)
}

// ---------------------------------------------------------------------------- main
const main = async () => {
  const o = parseArgs(process.argv.slice(2))
  if (!existsSync(RUN))
    usage("dist/run.js is missing: run `npm run build` (npm run bench:quality builds first)")
  if (o.systems.includes("reference") && !existsSync(o.reference))
    usage(`the reference ${o.reference} does not exist (--reference PATH)`)
  mkdirSync(o.out, { recursive: true })
  const t0 = Date.now()
  const config = readJson(nodePath.join(ROOT, o.config))
  const langevin = o.langevin ?? config.langevin?.steps ?? 15
  const digits = nodePath.join(o.out, "mnist-train-json")
  if (o.systems.includes("reference") && !existsSync(nodePath.join(digits, "9.json")))
    await run(
      "node",
      [nodePath.join(ROOT, "scripts", "mnist-split-json.mjs"), digits, "train"],
      `${digits}.log`,
    )

  if (!o.scoreOnly)
    for (const seed of o.seeds)
      for (const system of o.systems) {
        if (o.budgetMinutes > 0 && Date.now() - t0 > o.budgetMinutes * 60_000) {
          log(`budget of ${o.budgetMinutes} min reached: no more training; scoring what is done`)
          break
        }
        await (system === "reference" ? trainReference(o, seed, digits) : trainProject(o, seed))
      }

  const rows = []
  for (const system of o.systems)
    for (const seed of o.seeds) {
      const times = system === "reference" ? referenceTimes(o, seed) : projectTimes(o, seed)
      for (const it of o.iterations)
        for (const sampler of ["gen", "langevin"]) {
          const s = await score(o, system, seed, it, sampler, langevin)
          if (s === undefined) continue
          const quiet = o.msPerIteration?.[system]
          rows.push({
            system,
            seed,
            iteration: it,
            sampler,
            ...s,
            ...times[it],
            ...(quiet === undefined
              ? {}
              : { measuredSeconds: times[it]?.seconds, seconds: (it * quiet) / 1000 }),
          })
        }
    }
  const summary = summarise(rows)
  const text = table(summary, o, langevin)
  const per = (system) => rows.filter((r) => r.system === system && r.msPerIterationMedian !== undefined)
  const speed = Object.fromEntries(
    o.systems.map((s) => [s, per(s).length ? stats(per(s).map((r) => r.msPerIterationMedian)) : undefined]),
  )
  const report = {
    format: "coopnets-bench-quality/1",
    date: new Date().toISOString(),
    options: { ...o, langevin },
    machine: { loadavgAtReport: load() },
    msPerIteration: speed,
    summary,
    rows,
  }
  writeAtomic(nodePath.join(o.out, "quality.json"), `${JSON.stringify(report, null, 1)}\n`)
  const speedLine = o.systems
    .map((s) =>
      speed[s]
        ? `${s} ${(speed[s].mean / 1000).toFixed(2)} s/iteration (median per segment, mean over segments)`
        : "",
    )
    .filter((x) => x !== "")
    .join("; ")
  writeAtomic(nodePath.join(o.out, "quality.md"), `${text}\n\nSpeed: ${speedLine}.\n`)
  if (summary.length > 0) {
    await chart(
      summary,
      "iteration",
      "FD against iterations",
      nodePath.join(o.out, "fd-vs-iterations"),
      langevin,
    )
    await chart(
      summary,
      "seconds",
      "FD against training time",
      nodePath.join(o.out, "fd-vs-seconds"),
      langevin,
    )
  }
  console.log(
    `${text}\n\nSpeed: ${speedLine}.\nWrote quality.md, quality.json, fd-vs-iterations.png, fd-vs-seconds.png to ${o.out}`,
  )
}

main().catch((e) => {
  console.error(`bench:quality: ${e.message}`)
  process.exit(1)
})
