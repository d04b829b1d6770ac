/**
 * Recovery from divergence through the real command line. A tiny pipeline
 * whose Langevin step size (0.3, far above 2s = 0.032) makes the revised
 * samples' energy grow until the guard stops it mid-run: with recovery off it
 * stops with the divergence message; with recovery on it goes back to the
 * newest snapshot, halves the step size, finishes, and records what it did in
 * metrics.jsonl, run.json and config.json. The same run recovers the same way,
 * and a run killed around its recovery and resumed ends byte-identical.
 */
import { existsSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { beforeAll, describe, expect, it } from "vitest"
import { fingerprint, metricsOf, scratch, seeded, start, tinyPipeline, waitForLines } from "../run-dirs.js"
import { cli } from "../support.js"

const diverging = (retries: number, stepSize = 0.3) =>
  tinyPipeline({
    training: { iterations: 40 },
    langevin: { stepSize },
    output: { sampleEvery: 5, checkpointEvery: 2, keepCheckpoints: 2 },
    recovery: { retries },
  })

const errorOf = (stderr: string) => stderr.slice(stderr.indexOf("error: "))

describe("recovery from divergence", () => {
  let diverged: number
  let recovered: string
  let stderr: string

  beforeAll(() => {
    const off = cli(diverging(0), "--out", join(scratch("recovery"), "off"))
    expect(off.code).toBe(1)
    diverged = Number(
      /^error: Training diverged in iteration (\d+), stage "updateDescriptor"/.exec(errorOf(off.stderr))?.[1],
    )
    recovered = join(scratch("recovery"), "on")
    const on = cli(diverging(3), "--out", recovered)
    stderr = on.stderr
    expect(on.code).toBe(0)
  }, 180_000)

  it("with recovery off the run stops with the divergence message, as before", () => {
    expect(diverged).toBeGreaterThan(5)
    expect(diverged).toBeLessThan(40)
  })

  it("with recovery on the run goes back to its newest snapshot, halves the step size and finishes", () => {
    // snapshots every 10 iterations and at every checkpoint (every 2): the newest before the divergence
    const backTo = Math.floor((diverged - 1) / 2) * 2
    const entry = {
      diverged,
      backTo,
      stage: "updateDescriptor",
      quantity: "mean energy of the revised samples",
      field: "langevin.stepSize",
      from: 0.3,
      to: 0.15,
    }
    const lines = metricsOf(recovered)
    const recoveries = lines.filter((l) => "recovery" in l)
    expect(recoveries.length).toBeGreaterThanOrEqual(1)
    expect(recoveries[0]).toMatchObject({ iteration: backTo, recovery: entry })
    const first = recoveries[0]?.recovery as { value: string } | undefined
    expect(Math.abs(Number(first?.value))).toBeGreaterThan(1e12)
    // every iteration once, in order; each recovery line right after the iteration it went back to
    const order = lines.map((l) => ("recovery" in l ? `r${l.iteration}` : l.iteration))
    expect(order.filter((o) => typeof o === "number")).toEqual(Array.from({ length: 40 }, (_, i) => i + 1))
    expect(order.indexOf(`r${backTo}`)).toBe(backTo)
    // the resolved config holds the lowered step size and the recoveries; so does the final checkpoint's spec
    const config = JSON.parse(readFileSync(join(recovered, "config.json"), "utf8"))
    const made = recoveries.map((l) => l.recovery)
    expect(config.recovery.recovered).toEqual(made)
    expect(config.langevin.stepSize).toBe((made.at(-1) as { to: number }).to)
    const manifest = JSON.parse(
      readFileSync(join(recovered, "checkpoints", "final", "checkpoint.json"), "utf8"),
    )
    expect(manifest.spec).toEqual(config)
    expect(manifest.iteration).toBe(40)
    const record = JSON.parse(readFileSync(join(recovered, "run.json"), "utf8"))
    expect(record.recoveries.map(({ at: _, ...r }: { at: string }) => r)).toEqual(made)
    expect(Number.isNaN(Date.parse(record.recoveries[0].at))).toBe(false)
    // what the user reads: each recovery as it happens, and the summary
    expect(stderr).toContain(
      `[tiny] recovered (1 of 3): iteration ${diverged} diverged in updateDescriptor (mean energy of the revised samples was ${(made[0] as { value: string }).value}), went back to iteration ${backTo} with langevin.stepSize 0.3 → 0.15; continuing with fresh noise.\n`,
    )
    expect(stderr).toMatch(
      new RegExp(
        `\\[tiny\\] done: 40 iterations, .* It recovered from divergence (once|${made.length} times): iteration ${diverged} diverged in updateDescriptor .* Its config\\.json holds the lowered settings\\.\\n`,
      ),
    )
  })

  it("recovers the same way every time: a second run is byte-identical", () => {
    const again = join(scratch("recovery"), "again")
    expect(cli(diverging(3), "--out", again).code).toBe(0)
    expect(fingerprint(again)).toEqual(fingerprint(recovered))
  }, 120_000)

  it("a run SIGKILLed around its recovery and resumed each time is byte-identical; --resume keeps the lowered settings", async () => {
    const file = diverging(3)
    const expected = fingerprint(recovered)
    const random = seeded(11)
    let kills = 0
    for (let trial = 0; trial < 3; trial++) {
      const dir = join(scratch("recovery"), "killed")
      // kill within a few iterations of the divergence: before the recovery, while it writes, just after it
      const lines = diverged - 2 + Math.floor(random() * 6)
      const run = start([file, "--out", dir])
      if (await waitForLines(run, dir, lines)) {
        await new Promise((r) => setTimeout(r, Math.floor(random() * 40)))
        run.child.kill("SIGKILL")
      }
      if ((await run.exited).signal === "SIGKILL") kills++
      if (!existsSync(join(dir, "checkpoints", "final"))) {
        const r = cli("--resume", dir)
        expect(r.stderr).toContain("[tiny] done: 40 iterations")
        expect(r.code).toBe(0)
      }
      expect(fingerprint(dir)).toEqual(expected)
    }
    expect(kills).toBeGreaterThan(0)
  }, 300_000)

  it("when the retries are used up the run stops, saying what it tried", () => {
    const r = cli(diverging(1, 0.5), "--out", join(scratch("recovery"), "exhausted"))
    expect(r.code).toBe(1)
    expect(errorOf(r.stderr)).toMatch(
      /^error: Training diverged in iteration (\d+), stage "(\w+)": .+\. Checkpoints written before this iteration are intact\. Recovery did not get past it: the run recovered 1 time \(iteration \d+ diverged in \w+ \(.+\), went back to iteration \d+ with langevin\.stepSize 0\.5 → 0\.25\), and recovery\.retries is 1\. The last good checkpoint is .*\n$/,
    )
  }, 120_000)
})
