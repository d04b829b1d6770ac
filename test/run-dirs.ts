/** Helpers of the reliability tests: tiny pipeline files, run-directory fingerprints, background runs. */
import { type ChildProcess, spawn } from "node:child_process"
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { testBackend } from "./support.js"

export const scratch = (what: string) => mkdtempSync(join(tmpdir(), `coopnets-${what}-`))

/** A pipeline file of the tiny MNIST-topology nets, with `over` laid over its sections. */
export const tinyPipeline = (over: Record<string, unknown> = {}): string => {
  const file = join(scratch("pipeline"), "tiny.json")
  const base: Record<string, Record<string, unknown> | string | number> = {
    name: "tiny",
    seed: 3,
    backend: testBackend,
    data: { source: "mnist", split: "train", limit: 64 },
    model: { descriptorChannels: [4, 4, 4], descriptorUnits: 3, zDim: 5, generatorChannels: [6, 4, 4] },
    training: { iterations: 12, batchSize: 8, chains: 6 },
    langevin: { steps: 2 },
    output: { sampleEvery: 4, checkpointEvery: 2, logEvery: 1, keepCheckpoints: 2 },
  }
  for (const [key, value] of Object.entries(over)) {
    const old = base[key]
    base[key] =
      typeof old === "object" && typeof value === "object" && value !== null
        ? { ...old, ...(value as Record<string, unknown>) }
        : (value as string | number)
  }
  writeFileSync(file, JSON.stringify(base))
  return file
}

/** The lines of metrics.jsonl, without what depends on the machine (timings, memory). */
export const metricsOf = (dir: string): Array<Record<string, unknown>> =>
  readFileSync(join(dir, "metrics.jsonl"), "utf8")
    .split("\n")
    .filter((l) => l.length > 0)
    .map((l) => {
      const { ms: _ms, memory: _memory, ...rest } = JSON.parse(l) as Record<string, unknown>
      return rest
    })

/** Every file a run writes that must match between two runs: checkpoints, grids and config.json by their bytes, metrics without timings. */
export const fingerprint = (dir: string) => {
  const files: Record<string, string> = {}
  for (const sub of ["checkpoints", "samples"])
    for (const entry of readdirSync(join(dir, sub), { recursive: true, withFileTypes: true }))
      if (entry.isFile()) {
        const file = join(entry.parentPath, entry.name)
        files[file.slice(dir.length + 1)] = readFileSync(file).toString("base64")
      }
  files["config.json"] = readFileSync(join(dir, "config.json")).toString("base64")
  return { files, metrics: metricsOf(dir) }
}

/** Iteration lines in metrics.jsonl so far (0 while it does not exist). */
export const metricsLines = (dir: string): number => {
  try {
    return readFileSync(join(dir, "metrics.jsonl"), "utf8")
      .split("\n")
      .filter((l) => l.endsWith("}")).length
  } catch {
    return 0
  }
}

export interface Background {
  readonly child: ChildProcess
  readonly exited: Promise<{ code: number | null; signal: string | null }>
  readonly stderr: () => string
}

/** Starts `node dist/run.js args` in the background. */
export const start = (args: ReadonlyArray<string>): Background => {
  const child = spawn(process.execPath, ["dist/run.js", ...args], { stdio: ["ignore", "ignore", "pipe"] })
  let stderr = ""
  child.stderr?.on("data", (d) => {
    stderr += String(d)
  })
  const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) =>
    child.on("exit", (code, signal) => resolve({ code, signal })),
  )
  return { child, exited, stderr: () => stderr }
}

/** Waits until metrics.jsonl has `lines` lines or the process ends; true when it is still running. */
export const waitForLines = async (run: Background, dir: string, lines: number): Promise<boolean> => {
  let finished = false
  void run.exited.then(() => {
    finished = true
  })
  while (!finished && metricsLines(dir) < lines) await new Promise((r) => setTimeout(r, 5))
  return !finished
}

/** mulberry32: kill schedules are seeded, so a failure can be replayed. */
export const seeded = (seed: number) => () => {
  seed = (seed + 0x6d2b79f5) | 0
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
  return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32
}
