/**
 * Exact resume through the real command line: a run SIGKILLed at seeded points
 * and resumed each time ends byte-identical to the same run never interrupted;
 * SIGINT finishes the iteration, writes a checkpoint and exits 130.
 */
import { type ChildProcess, execFileSync, spawn, spawnSync } from "node:child_process"
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { cli, testBackend } from "../support.js"

const scratch = () => mkdtempSync(join(tmpdir(), "coopnets-resume-"))

const hasTensorBoard = (() => {
  try {
    execFileSync("python3", ["-c", "import tensorboard.backend.event_processing.event_accumulator"], {
      stdio: "ignore",
    })
    return true
  } catch {
    console.warn(
      "resume.test.ts: no python3 tensorboard package: the TensorBoard check of resumed runs is SKIPPED",
    )
    return false
  }
})()

const pipeline = (iterations: number) => {
  const file = join(scratch(), "tiny.json")
  writeFileSync(
    file,
    JSON.stringify({
      name: "tiny",
      seed: 3,
      backend: testBackend,
      data: { source: "mnist", split: "train", limit: 64 },
      model: { descriptorChannels: [4, 4, 4], descriptorUnits: 3, zDim: 5, generatorChannels: [6, 4, 4] },
      training: { iterations, batchSize: 8, chains: 6 },
      langevin: { steps: 2 },
      // checkpoints carry the generator's moving average, which must resume exactly too
      generatorAverage: { decay: 0.9 },
      output: { sampleEvery: 4, checkpointEvery: 2, logEvery: 1, keepCheckpoints: 2 },
    }),
  )
  return file
}

const metricsLines = (dir: string): number => {
  try {
    return readFileSync(join(dir, "metrics.jsonl"), "utf8")
      .split("\n")
      .filter((l) => l.endsWith("}")).length
  } catch {
    return 0
  }
}

const exited = (child: ChildProcess) =>
  new Promise<{ code: number | null; signal: string | null }>((resolve) =>
    child.on("exit", (code, signal) => resolve({ code, signal })),
  )

/** Starts `node dist/run.js args`, waits until metrics.jsonl has `lines` lines (plus `delayMs`), then sends `signal`. */
const runUntil = async (
  args: Array<string>,
  dir: string,
  lines: number,
  delayMs: number,
  signal: NodeJS.Signals,
) => {
  const child = spawn(process.execPath, ["dist/run.js", ...args], { stdio: ["ignore", "ignore", "pipe"] })
  let stderr = ""
  child.stderr?.on("data", (d) => {
    stderr += String(d)
  })
  const done = exited(child)
  let finished = false
  void done.then(() => {
    finished = true
  })
  while (!finished && metricsLines(dir) < lines) await new Promise((r) => setTimeout(r, 5))
  if (!finished) {
    await new Promise((r) => setTimeout(r, delayMs))
    child.kill(signal)
  }
  return { ...(await done), stderr: () => stderr }
}

/** mulberry32: the kill schedule is seeded, so a failure can be replayed. */
const seeded = (seed: number) => () => {
  seed = (seed + 0x6d2b79f5) | 0
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
  return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32
}

/** Every file that must match: checkpoints and sample grids, byte for byte; metrics without timings. */
const fingerprint = (dir: string) => {
  const files: Record<string, string> = {}
  for (const sub of ["checkpoints", "samples"]) {
    for (const entry of readdirSync(join(dir, sub), { recursive: true, withFileTypes: true }))
      if (entry.isFile()) {
        const file = join(entry.parentPath, entry.name)
        files[file.slice(dir.length + 1)] = readFileSync(file).toString("base64")
      }
  }
  const metrics = readFileSync(join(dir, "metrics.jsonl"), "utf8")
    .trim()
    .split("\n")
    .map((l) => {
      const { iteration, epoch, energy, descriptorLoss, generatorLoss } = JSON.parse(l)
      return { iteration, epoch, energy, descriptorLoss, generatorLoss }
    })
  return { files, metrics }
}

describe("--resume", () => {
  it("a run SIGKILLed at seeded points and resumed each time is byte-identical to one never interrupted", async () => {
    const file = pipeline(12)
    const reference = join(scratch(), "reference")
    expect(cli(file, "--out", reference).code).toBe(0)
    const expected = fingerprint(reference)
    expect(Object.keys(expected.files).sort()).toEqual([
      "checkpoints/final/checkpoint.json",
      "checkpoints/final/weights.bin",
      "checkpoints/iter-000008/checkpoint.json",
      "checkpoints/iter-000008/weights.bin",
      "checkpoints/iter-000010/checkpoint.json",
      "checkpoints/iter-000010/weights.bin",
      "samples/drafts-000004.png",
      "samples/drafts-000008.png",
      "samples/drafts-000012.png",
      "samples/revised-000004.png",
      "samples/revised-000008.png",
      "samples/revised-000012.png",
    ])

    const random = seeded(7)
    for (let trial = 0; trial < 2; trial++) {
      const dir = join(scratch(), "killed")
      // first a fresh run, then resumes, each killed after a seeded number of iterations and a seeded delay
      let args = [file, "--out", dir]
      let kills = 0
      let seen = 0
      for (let round = 0; round < 3; round++) {
        const lines = Math.min(11, seen + 1 + Math.floor(random() * 4))
        const r = await runUntil(args, dir, lines, Math.floor(random() * 60), "SIGKILL")
        if (r.signal === "SIGKILL") kills++
        else expect(r.code).toBe(0)
        seen = metricsLines(dir)
        args = ["--resume", dir]
        if (existsSync(join(dir, "checkpoints", "final"))) break
      }
      expect(kills).toBeGreaterThan(0)
      if (!existsSync(join(dir, "checkpoints", "final"))) {
        const r = cli("--resume", dir)
        expect(r.stderr).toContain("[tiny] done: 12 iterations")
        expect(r.code).toBe(0)
      }
      const got = fingerprint(dir)
      expect(got.metrics).toEqual(expected.metrics)
      expect(Object.keys(got.files).sort()).toEqual(Object.keys(expected.files).sort())
      for (const [name, bytes] of Object.entries(expected.files))
        expect([name, got.files[name]]).toEqual([name, bytes])
      // the event files of the killed processes and of the resumes: TensorBoard's reader sees each
      // iteration once, with the values of metrics.jsonl (a resumed file's session start drops the rest)
      if (hasTensorBoard) {
        const check = spawnSync("python3", ["scripts/check-tensorboard.py", dir], { encoding: "utf8" })
        expect(check.stdout).toContain("14 scalar tags (168 points), 2 image tags (6 images)")
        expect(check.status).toBe(0)
      }
    }
  }, 300_000) // up to seven processes, each with its report worker, on a shared 2-core machine

  it("SIGINT finishes the iteration, writes a checkpoint and exits 130; --resume then completes the run", async () => {
    const file = pipeline(30)
    const dir = join(scratch(), "interrupted")
    const r = await runUntil([file, "--out", dir], dir, 3, 0, "SIGINT")
    expect(r.code).toBe(130)
    const stopped =
      /stopped by SIGINT after iteration (\d+); checkpoint written\. Continue with: node dist\/run\.js --resume (.*)\n/.exec(
        r.stderr(),
      )
    expect(stopped?.[2]).toBe(dir)
    const at = Number(stopped?.[1])
    expect(metricsLines(dir)).toBe(at)
    const manifest = JSON.parse(
      readFileSync(
        join(dir, "checkpoints", `iter-${String(at).padStart(6, "0")}`, "checkpoint.json"),
        "utf8",
      ),
    )
    expect(manifest.iteration).toBe(at)
    const resumed = cli("--resume", dir)
    expect(resumed.code).toBe(0)
    expect(metricsLines(dir)).toBe(30)
    const iterations = readFileSync(join(dir, "metrics.jsonl"), "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l).iteration)
    expect(iterations).toEqual(Array.from({ length: 30 }, (_, i) => i + 1))
    expect(
      JSON.parse(readFileSync(join(dir, "checkpoints", "final", "checkpoint.json"), "utf8")).iteration,
    ).toBe(30)
    expect(cli("--resume", dir).stderr).toBe(
      `error: Cannot resume ${dir}: the run is complete (30 of 30 iterations, checkpoints/final). To train longer, extend it: node dist/run.js --resume ${dir} --iterations N (N > 30).\n`,
    )
  }, 120_000)
})
