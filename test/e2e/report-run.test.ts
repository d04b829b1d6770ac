/**
 * What a real training run shows, through `node dist/run.js`: report.html
 * (rewritten live, final at the end, never torn by a kill), the TensorBoard
 * log read back by TensorBoard's own reader, run.json's end record, the
 * progress lines and the summary on stderr, and the `report` command.
 */
import { execFileSync, spawn, spawnSync } from "node:child_process"
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join, resolve } from "node:path"
import { describe, expect, it } from "vitest"
import { cli, testBackend } from "../support.js"

const scratch = () => mkdtempSync(join(tmpdir(), "coopnets-report-run-"))

const pipeline = (iterations: number, output: object = {}) => {
  const file = join(scratch(), "tiny.json")
  writeFileSync(
    file,
    JSON.stringify({
      name: "tiny",
      seed: 5,
      backend: testBackend,
      data: { source: "mnist", split: "train", limit: 64 },
      model: { descriptorChannels: [4, 4, 4], descriptorUnits: 3, zDim: 5, generatorChannels: [6, 4, 4] },
      training: { iterations, batchSize: 8, chains: 6 },
      langevin: { steps: 2 },
      output: { sampleEvery: 3, checkpointEvery: 0, logEvery: 2, ...output },
    }),
  )
  return file
}

const hasTensorBoard = (() => {
  try {
    execFileSync("python3", ["-c", "import tensorboard.backend.event_processing.event_accumulator"], {
      stdio: "ignore",
    })
    return true
  } catch {
    return false
  }
})()
if (!hasTensorBoard)
  console.warn(
    "report-run.test.ts: python3 with the tensorboard package is not installed (pip install tensorboard): the checks with TensorBoard's reader are SKIPPED",
  )

const complete = (html: string) => html.startsWith("<!doctype html>") && html.trimEnd().endsWith("</html>")

/** The point counts of a report's chart `id`. */
const pointsOf = (html: string, id: string) => {
  const m = new RegExp(`id="chart-${id}" data-kind="[a-z]+" data-points="([^"]+)"`).exec(html)
  return m ? JSON.parse((m[1] as string).replace(/&quot;/g, '"')) : undefined
}

describe("a training run's report and TensorBoard log", () => {
  const file = pipeline(7)
  const dir = join(scratch(), "run")
  const run = cli(file, "--out", dir)

  it("writes the final report.html with every iteration and grid, run.json's end, and says where it is", () => {
    expect(run.code).toBe(0)
    const html = readFileSync(join(dir, "report.html"), "utf8")
    expect(complete(html)).toBe(true)
    expect(html).toContain('data-live="false"')
    expect(pointsOf(html, "energy")).toEqual({ observed: 7, drafted: 7, revised: 7 })
    // grids at 3, 6 and the last, 7: drafts and revised each
    expect(html.match(/class="frame frames" data-iteration="\d+"/g)?.length).toBe(3)
    expect(html.match(/<img src="data:image\/png/g)?.length).toBe(6)
    const record = JSON.parse(readFileSync(join(dir, "run.json"), "utf8"))
    expect(record.ended).toMatchObject({ status: "finished", iterations: 7 })
    expect(html).toContain(`<th>status</th><td>finished at ${record.ended.at}</td>`)
    // not a terminal: the plain lines, then the summary table
    expect(run.stderr).toContain("[tiny] iter 2/7 epoch")
    expect(run.stderr).toContain(`  report       ${join(dir, "report.html")}`)
    expect(run.stderr).toContain(`  tensorboard  tensorboard --logdir ${join(dir, "tensorboard")}`)
    expect(run.stderr).toContain(`  checkpoint   ${join(dir, "checkpoints", "final")}`)
    expect(run.stderr).not.toContain("█")
  })

  it.skipIf(!hasTensorBoard)("TensorBoard's reader sees every scalar and image tag of the run", () => {
    expect(readdirSync(join(dir, "tensorboard")).length).toBe(1)
    const check = spawnSync("python3", ["scripts/check-tensorboard.py", dir], { encoding: "utf8" })
    expect(check.stdout).toContain(
      "14 scalar tags (98 points), 2 image tags (6 images) and text tags ['config', 'run']",
    )
    expect(check.status).toBe(0)
  })

  it("`report` rebuilds one run's report, and writes several runs' comparison", () => {
    const before = readFileSync(join(dir, "report.html"), "utf8")
    const again = cli("report", dir)
    expect(again.code).toBe(0)
    expect(again.stderr).toBe(`Wrote ${join(dir, "report.html")}.\n`)
    const after = readFileSync(join(dir, "report.html"), "utf8")
    // the same report but for the time it was written (and Vega's clip-path numbering, per process)
    const timeless = (h: string) =>
      h.replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z/g, "T").replace(/clip\d+/g, "clip")
    expect(timeless(after) === timeless(before)).toBe(true)
    const other = join(scratch(), "other")
    expect(cli(pipeline(4, { tensorboard: false, report: false }), "--out", other).code).toBe(0)
    expect(existsSync(join(other, "report.html"))).toBe(false)
    expect(existsSync(join(other, "tensorboard"))).toBe(false)
    // an older run without the files: report writes both
    expect(cli("report", other).stderr).toMatch(
      /^Wrote .*other\/report.html and its TensorBoard log .*other\/tensorboard\/events\.out\.tfevents\./,
    )
    const out = join(scratch(), "both.html")
    const both = cli("report", dir, other, "--out", out)
    expect(both.stderr).toBe(`Wrote the comparison of 2 runs to ${out}.\n`)
    expect(pointsOf(readFileSync(out, "utf8"), "revised")).toEqual({ run: 7, other: 4 })
    const bad = cli("report", dir, join(dir, "samples"))
    expect(bad.code).toBe(1)
    expect(bad.stderr).toBe(
      `error: ${join(dir, "samples")} is not a run directory (it has no config.json). Pass directories that training wrote, e.g. runs/mnist-quick.\n`,
    )
  })
})

describe("a run killed while its report is being rewritten", () => {
  it("leaves the previous complete report (the half-written one is only a temporary)", async () => {
    const dir = join(scratch(), "run")
    // test/fixtures/tear-report-write.mjs: the second write of report.html (in the report worker) stops halfway
    const child = spawn(
      process.execPath,
      ["--import", resolve("test/fixtures/tear-report-write.mjs"), "dist/run.js", pipeline(9), "--out", dir],
      { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, TEAR_AFTER: "1" } },
    )
    const torn = await new Promise<string>((done) => {
      let out = ""
      child.stdout.on("data", (d: Buffer) => {
        out += d.toString()
        if (out.includes("\n")) done(out)
      })
    })
    child.kill("SIGKILL")
    await new Promise((r) => child.on("exit", r))
    expect(torn).toMatch(/^torn .*report\.html\.tmp-\d+\n$/)
    const html = readFileSync(join(dir, "report.html"), "utf8")
    expect(complete(html)).toBe(true)
    expect(html).toContain('data-live="true"')
    expect(readFileSync(torn.slice(5).trim()).length).toBeLessThan(Buffer.byteLength(html) * 2)
    expect(complete(readFileSync(torn.slice(5).trim(), "utf8"))).toBe(false)
  })
})
