/**
 * The sweep's SLURM engine on a real SLURM: a single-node cluster on this machine
 * (scripts/slurm-cluster.sh: Debian's slurm-wlm and munge, as root, no systemd), a 2x2 sweep of
 * tiny pipelines submitted as one job array, one task cancelled mid-run (scancel) and requeued
 * (scontrol requeue), and every run checked to end with the same bytes as the same run made by
 * the local engine in one go.
 *
 * Not part of `npm test`: `npm run test:slurm` (`.ci/run` calls it). Skipped, with the reason,
 * where SLURM is not installed or the tests do not run as root.
 */
import { execFileSync, spawnSync } from "node:child_process"
import { createHash } from "node:crypto"
import { existsSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join, relative } from "node:path"
import { afterAll, beforeAll, describe, expect, it } from "vitest"

const root = join(import.meta.dirname, "..", "..")
const cluster = join(root, "scripts", "slurm-cluster.sh")
const runJs = join(root, "dist", "run.js")

const which = (bin: string) =>
  spawnSync("sh", ["-c", `command -v ${bin} || test -x /usr/sbin/${bin}`]).status === 0
const skipReason =
  process.getuid?.() !== 0
    ? "the single-node cluster needs root"
    : !["sbatch", "slurmctld", "slurmd", "munged"].every(which)
      ? "slurm-wlm and munge are not installed (apt-get install slurm-wlm munge)"
      : undefined
if (skipReason !== undefined) console.log(`SLURM integration test skipped: ${skipReason}.`)

const sh = (cmd: string, args: ReadonlyArray<string>, env: Record<string, string> = {}) =>
  execFileSync(cmd, args, { cwd: root, encoding: "utf8", env: { ...process.env, ...env } })

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

const waitFor = async <A>(what: string, seconds: number, probe: () => A | undefined): Promise<A> => {
  const until = Date.now() + seconds * 1000
  for (;;) {
    const value = probe()
    if (value !== undefined) return value
    if (Date.now() > until) throw new Error(`timed out after ${seconds} s waiting for ${what}`)
    await sleep(500)
  }
}

/** Every file of a finished run that must match byte for byte; metrics.jsonl without its timings. */
const fingerprint = (dir: string): Record<string, string> => {
  const out: Record<string, string> = {}
  const walk = (d: string) => {
    for (const name of readdirSync(d).sort()) {
      const file = join(d, name)
      if (statSync(file).isDirectory()) walk(file)
      else out[relative(dir, file)] = createHash("sha256").update(readFileSync(file)).digest("hex")
    }
  }
  for (const sub of ["checkpoints/final", "samples"]) walk(join(dir, sub))
  const metrics = readFileSync(join(dir, "metrics.jsonl"), "utf8")
    .trim()
    .split("\n")
    .map((l) => {
      const { ms: _ms, memory: _memory, ...rest } = JSON.parse(l)
      return rest
    })
  out["metrics.jsonl (without ms, memory)"] = createHash("sha256")
    .update(JSON.stringify(metrics))
    .digest("hex")
  out["config.json"] = createHash("sha256")
    .update(readFileSync(join(dir, "config.json")))
    .digest("hex")
  return out
}

describe.skipIf(skipReason !== undefined)("sweep --engine slurm on a single-node cluster", () => {
  let startedCluster = false

  beforeAll(() => {
    const before = spawnSync(cluster, ["status"], { encoding: "utf8" })
    startedCluster = !/slurmctld: running/.test(before.stderr)
    sh(cluster, ["start"])
  }, 120_000)

  afterAll(() => {
    if (startedCluster) sh(cluster, ["stop"])
  })

  it("runs a 2x2 sweep as a job array; a task cancelled and requeued mid-run ends byte-identical", async () => {
    const dir = mkdtempSync(join(tmpdir(), "coopnets-slurm-"))
    writeFileSync(
      join(dir, "tiny.json"),
      JSON.stringify({
        name: "tiny",
        data: { source: "mnist", split: "train", limit: 64 },
        model: { descriptorChannels: [4, 4, 4], descriptorUnits: 3, zDim: 5, generatorChannels: [6, 4, 4] },
        training: { iterations: 80, batchSize: 8, chains: 6 },
        langevin: { steps: 2 },
        output: { sampleEvery: 20, checkpointEvery: 10, logEvery: 20 },
      }),
    )
    writeFileSync(
      join(dir, "grid.json"),
      JSON.stringify({
        name: "grid",
        base: "tiny.json",
        grid: { "langevin.steps": [1, 2] },
        seeds: [1, 2],
        resources: { cpus: 1, memoryMb: 2000, time: "30:00" },
      }),
    )
    const slurmDir = join(dir, "slurm-runs")
    const submitted = sh("node", [
      runJs,
      "sweep",
      join(dir, "grid.json"),
      "--engine",
      "slurm",
      "--out",
      slurmDir,
    ])
    const job = /SLURM array job (\d+)/.exec(submitted)?.[1]
    expect(job, submitted).toMatch(/^\d+$/)
    const plan = JSON.parse(readFileSync(join(slurmDir, "sweep", "plan.json"), "utf8")) as {
      runs: Array<{ id: string }>
    }
    expect(plan.runs).toHaveLength(4)

    // cancel task 0 once its run has a checkpoint and is still training
    const victim = plan.runs[0]?.id as string
    const stateFile = join(slurmDir, "sweep", "state", `${victim}.json`)
    await waitFor("a checkpoint of the first run", 240, () =>
      existsSync(join(slurmDir, victim, "checkpoints", "iter-000010", "checkpoint.json")) ? true : undefined,
    )
    sh("scancel", [`${job}_0`])
    const stopped = await waitFor("the cancelled task to end", 120, () => {
      const state = existsSync(stateFile) ? JSON.parse(readFileSync(stateFile, "utf8")) : undefined
      return state?.exitCode !== undefined ? state : undefined
    })
    expect(stopped.exitCode).toBe(143) // the run finished its iteration, wrote a checkpoint and stopped
    const finalBeforeRequeue = existsSync(join(slurmDir, victim, "checkpoints", "final"))
    expect(finalBeforeRequeue).toBe(false)
    sh("scontrol", ["requeue", `${job}_0`])
    // a requeued task becomes eligible only 120 s later: let it start now (once SLURM shows it pending)
    await waitFor("the requeued task to be released", 60, () => {
      const state = sh("squeue", ["-h", "-j", `${job}_0`, "-o", "%T %r"]).trim()
      if (!state.startsWith("PENDING"))
        return state === "" || /RUNNING|COMPLETED/.test(state) ? true : undefined
      spawnSync("scontrol", ["update", `jobid=${job}_0`, "StartTime=now"])
      return undefined
    })

    await waitFor("every run to finish", 600, () => {
      const squeue = sh("squeue", ["-h", "-j", String(job), "-o", "%T"]).trim()
      return squeue === "" ? true : undefined
    })
    const status = sh("node", [runJs, "sweep", "status", slurmDir])
    expect(status, status).toMatch(/^4 runs: 4 done, 0 running, 0 failed, 0 pending/m)

    const log = readFileSync(join(slurmDir, "sweep", "logs", `${victim}.log`), "utf8")
    expect(log).toMatch(/attempt 1,.*\n[\s\S]*start ended with exit code 143/)
    expect(log).toMatch(/attempt 2,[\s\S]*resume ended with exit code 0/)
    // the resumed attempt started from the checkpoint the cancelled one wrote, not from scratch
    const resumedFrom = Number(/stopped by SIGTERM after iteration (\d+)/.exec(log)?.[1])
    expect(resumedFrom).toBeGreaterThanOrEqual(10)

    // the same sweep made by the local engine in one go (same thread count: resources.cpus)
    const localDir = join(dir, "local-runs")
    sh("node", [
      runJs,
      "sweep",
      join(dir, "grid.json"),
      "--engine",
      "local",
      "--parallel",
      "2",
      "--out",
      localDir,
    ])
    for (const { id } of plan.runs)
      expect(fingerprint(join(slurmDir, id)), `run ${id}`).toEqual(fingerprint(join(localDir, id)))

    const collected = sh("node", [runJs, "sweep", "collect", slurmDir])
    for (const { id } of plan.runs) expect(collected).toContain(`| ${id} |`)
  }, 1_200_000)
})
