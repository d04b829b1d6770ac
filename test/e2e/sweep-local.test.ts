/**
 * `node dist/run.js sweep` with the local engine, end to end on tiny pipelines: the sweep is
 * stopped half-way (SIGTERM: every run writes a checkpoint), `sweep status` says so, the same
 * command resumes every run, a diverging run fails without stopping the others, and each finished
 * run has the same bytes as the same run made in one go. Then `sweep collect`, `--dry-run` of the
 * SLURM engine, and a sweep file with a bad field refused before anything starts.
 */
import { spawn, spawnSync } from "node:child_process"
import { createHash } from "node:crypto"
import { existsSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join, relative } from "node:path"
import { describe, expect, it } from "vitest"

const root = join(import.meta.dirname, "..", "..")
const runJs = join(root, "dist", "run.js")
const backend = process.env.COOPNETS_TEST_BACKEND ?? "auto"

const cli = (args: ReadonlyArray<string>, env: Record<string, string> = {}) =>
  spawnSync(process.execPath, [runJs, ...args], {
    cwd: root,
    encoding: "utf8",
    env: { ...process.env, ...env },
  })

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

const fingerprint = (dir: string): Record<string, string> => {
  const out: Record<string, string> = {}
  const walk = (d: string) => {
    for (const name of readdirSync(d).sort()) {
      const file = join(d, name)
      if (statSync(file).isDirectory()) walk(file)
      else out[relative(dir, file)] = createHash("sha256").update(readFileSync(file)).digest("hex")
    }
  }
  walk(join(dir, "checkpoints", "final"))
  walk(join(dir, "samples"))
  const lines = readFileSync(join(dir, "metrics.jsonl"), "utf8")
    .trim()
    .split("\n")
    .map((l) => {
      const { ms: _ms, memory: _memory, ...rest } = JSON.parse(l)
      return rest
    })
  out.metrics = createHash("sha256").update(JSON.stringify(lines)).digest("hex")
  return out
}

const sweepFiles = () => {
  const dir = mkdtempSync(join(tmpdir(), "coopnets-sweep-e2e-"))
  writeFileSync(
    join(dir, "tiny.json"),
    JSON.stringify({
      name: "tiny",
      backend,
      data: { source: "mnist", split: "train", limit: 64 },
      model: { descriptorChannels: [4, 4, 4], descriptorUnits: 3, zDim: 5, generatorChannels: [6, 4, 4] },
      training: { iterations: 60, batchSize: 8, chains: 6 },
      langevin: { steps: 2 },
      output: { sampleEvery: 20, checkpointEvery: 4, logEvery: 20 },
    }),
  )
  writeFileSync(
    join(dir, "grid.json"),
    JSON.stringify({
      name: "grid",
      base: "tiny.json",
      variants: { coop: {}, exploding: { "langevin.stepSize": 1e6 } },
      seeds: [1, 2],
      resources: { cpus: 1 },
    }),
  )
  return { dir, file: join(dir, "grid.json"), out: join(dir, "runs") }
}

describe("sweep, local engine", () => {
  it("stops at checkpoints, resumes, isolates a failing run, and ends byte-identical to runs made in one go", async () => {
    const { dir, file, out } = sweepFiles()
    const plan = () =>
      JSON.parse(readFileSync(join(out, "sweep", "plan.json"), "utf8")) as { runs: Array<{ id: string }> }

    // first attempt: stopped by SIGTERM once a coop run has a checkpoint
    const first = spawn(process.execPath, [runJs, "sweep", file, "--parallel", "2", "--out", out], {
      cwd: root,
      stdio: "ignore",
    })
    const exited = new Promise<number | null>((resolve) => first.on("exit", (code) => resolve(code)))
    for (let i = 0; i < 600; i++) {
      if (existsSync(join(out, "sweep", "plan.json"))) {
        const coop = plan().runs.filter((r) => r.id.startsWith("coop"))
        if (coop.some((r) => existsSync(join(out, r.id, "checkpoints", "iter-000004", "checkpoint.json"))))
          break
      }
      await sleep(200)
    }
    first.kill("SIGTERM")
    expect(await exited).not.toBe(0)
    const [c1, c2, x1, x2] = plan().runs.map((r) => r.id) as [string, string, string, string]
    expect([c1, c2, x1, x2].map((id) => id.replace(/_[0-9a-f]{8}$/, ""))).toEqual([
      "coop_s1",
      "coop_s2",
      "exploding_s1",
      "exploding_s2",
    ])
    const between = cli(["sweep", "status", out]).stdout
    // the coop runs were stopped mid-way at a checkpoint (SIGTERM from the sweep), none is left running
    expect(between).toMatch(
      /coop_s\d_[0-9a-f]{8} +pending +\d+\/60, stopped by a signal \(exit 143\); resumes from iteration \d+/,
    )
    expect(between).not.toMatch(/ {2}running {2}/)

    // second attempt: everything finishes or fails
    const second = cli(["sweep", file, "--parallel", "2", "--out", out])
    expect(second.status, second.stderr).toBe(1) // the exploding runs failed
    expect(second.stderr).toMatch(/\[coop_s\d_[0-9a-f]{8}\] resumed/)
    const status = cli(["sweep", "status", out, "--json"])
    const states = JSON.parse(status.stdout) as Array<{ id: string; status: string; detail: string }>
    expect(states.map((s) => s.status)).toEqual(["done", "done", "failed", "failed"])
    expect(states[2]?.detail).toMatch(/Training diverged in iteration 1/)

    // the same runs made in one go, with the thread count the engine gave them
    for (const id of [c1, c2]) {
      const ref = join(dir, "ref", id)
      const made = cli([join(out, "sweep", "pipelines", `${id}.json`), "--out", ref], {
        TF_NUM_INTRAOP_THREADS: "1",
        TF_NUM_INTEROP_THREADS: "1",
      })
      expect(made.status, made.stderr).toBe(0)
      expect(fingerprint(join(out, id)), id).toEqual(fingerprint(ref))
    }

    const collected = cli(["sweep", "collect", out])
    expect(collected.status, collected.stderr).toBe(0)
    expect(collected.stdout).toContain(`| ${c1} | coop | – | 1 | done | 60/60 |`)
    expect(readFileSync(join(out, "sweep", "collect.md"), "utf8")).toContain(
      `| ${x2} | exploding | – | 2 | failed |`,
    )
    expect(existsSync(join(out, "sweep", "collect.png"))).toBe(true) // the coop grid (the exploding runs have none)
    const json = JSON.parse(readFileSync(join(out, "sweep", "collect.json"), "utf8"))
    expect(json.groups.map((g: { variant: string; done: number }) => [g.variant, g.done])).toEqual([
      ["coop", 2],
      ["exploding", 0],
    ])
  }, 600_000)

  it("prints the SLURM job-array script with --dry-run and submits nothing", () => {
    const { file, out } = sweepFiles()
    const r = cli(["sweep", file, "--engine", "slurm", "--dry-run", "--out", out])
    expect(r.status, r.stderr).toBe(0)
    expect(r.stdout).toMatch(/^#!\/bin\/bash\n/)
    expect(r.stdout).toContain("#SBATCH --array=0-3\n")
    expect(r.stdout).toContain(`step resume --resume "$DIR"`)
    expect(existsSync(out)).toBe(false)
  })

  it("refuses a sweep whose runs do not decode, before anything starts", () => {
    const { dir, out } = sweepFiles()
    const bad = join(dir, "bad.json")
    writeFileSync(bad, JSON.stringify({ base: "tiny.json", grid: { "training.iteratoins": [1, 2] } }))
    const r = cli(["sweep", bad, "--out", out])
    expect(r.status).toBe(2)
    expect(r.stderr).toMatch(
      /training\.iteratoins: unknown field; did you mean training\.iterations\? \(2 runs: /,
    )
    expect(existsSync(out)).toBe(false)
  })
})
