/**
 * Extending a finished run through the real command line:
 * `--resume DIR --iterations N` continues a complete run to N iterations, and
 * the directory ends byte-identical to a run given N from the start
 * (checkpoints, grids, config.json; metrics without timings) — also when the
 * extension is killed half-way and finished by a plain `--resume`.
 */
import { existsSync, readFileSync } from "node:fs"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { fingerprint, metricsLines, scratch, start, tinyPipeline, waitForLines } from "../run-dirs.js"
import { cli } from "../support.js"

describe("--resume DIR --iterations N", () => {
  // sampleEvery 4 does not divide 6 (the short run's last grid is its own), checkpoints pile up (keep 10)
  for (const output of [
    { sampleEvery: 4, checkpointEvery: 2, keepCheckpoints: 10 },
    { sampleEvery: 5, checkpointEvery: 0, keepCheckpoints: 3 },
  ])
    it(`a run extended from 6 to 12 iterations is byte-identical to one given 12 (output ${JSON.stringify(output)})`, () => {
      const dir = join(scratch("extend"), "run")
      expect(cli(tinyPipeline({ training: { iterations: 6 }, output }), "--out", dir).code).toBe(0)
      const r = cli("--resume", dir, "--iterations", "12")
      expect(r.code).toBe(0)
      expect(r.stderr).toMatch(/\[tiny\] done: 12 iterations \(extended from 6\), /)
      const reference = join(scratch("extend"), "reference")
      expect(cli(tinyPipeline({ training: { iterations: 12 }, output }), "--out", reference).code).toBe(0)
      const got = fingerprint(dir)
      const expected = fingerprint(reference)
      expect(Object.keys(got.files).sort()).toEqual(Object.keys(expected.files).sort())
      expect(got).toEqual(expected)
      const record = JSON.parse(readFileSync(join(dir, "run.json"), "utf8"))
      expect(record.extended).toEqual([{ at: expect.any(String), from: 6, to: 12 }])
      expect(JSON.parse(readFileSync(join(dir, "config.json"), "utf8")).training.iterations).toBe(12)
    }, 180_000)

  it("an extension killed half-way is finished by a plain --resume, still byte-identical", async () => {
    const output = { sampleEvery: 4, checkpointEvery: 2, keepCheckpoints: 10 }
    const dir = join(scratch("extend"), "run")
    expect(cli(tinyPipeline({ training: { iterations: 6 }, output }), "--out", dir).code).toBe(0)
    const run = start(["--resume", dir, "--iterations", "30"])
    const killed = await waitForLines(run, dir, 12)
    if (killed) run.child.kill("SIGKILL")
    await run.exited
    expect(killed).toBe(true)
    expect(metricsLines(dir)).toBeLessThan(30)
    // on its way, the run has no final checkpoint (it is not done), and says so to --resume
    expect(existsSync(join(dir, "checkpoints", "final"))).toBe(false)
    const r = cli("--resume", dir)
    expect(r.code).toBe(0)
    expect(r.stderr).toContain("[tiny] done: 30 iterations")
    const reference = join(scratch("extend"), "reference")
    expect(cli(tinyPipeline({ training: { iterations: 30 }, output }), "--out", reference).code).toBe(0)
    expect(fingerprint(dir)).toEqual(fingerprint(reference))
  }, 240_000)

  it("refuses what does not lengthen a run", () => {
    const dir = join(scratch("extend"), "run")
    const file = tinyPipeline({ training: { iterations: 4 } })
    expect(cli(file, "--out", dir).code).toBe(0)
    const before = fingerprint(dir)
    const notMore = cli("--resume", dir, "--iterations", "4")
    expect(notMore.code).toBe(2)
    expect(notMore.stderr).toBe(
      `error: Cannot resume ${dir} with --iterations 4: the run has done 4 iterations already. Give more than 4.\n`,
    )
    const withoutResume = cli(file, "--iterations", "8")
    expect(withoutResume.code).toBe(2)
    expect(withoutResume.stderr).toBe(
      "error: --iterations 8 lengthens a run given with --resume DIR. For a new run, set its length with --set training.iterations=8.\n",
    )
    const absurd = cli("--resume", dir, "--iterations", "1e300")
    expect(absurd.code).toBe(2)
    expect(absurd.stderr).toBe(
      'error: --iterations must be a whole number from 1 to 9007199254740991, got "1e300".\n',
    )
    expect(fingerprint(dir)).toEqual(before)
  }, 120_000)
})
