/**
 * The divergence guard through the real command line: an absurd Langevin step
 * size stops the run in the iteration it blows up, with a message naming the
 * stage, iteration, quantity and what to change; the last good checkpoint
 * stays loadable.
 */
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { cli, testBackend } from "../support.js"

const scratch = () => mkdtempSync(join(tmpdir(), "coopnets-diverge-"))

const pipeline = (stepSize: number, iterations: number) => {
  const file = join(scratch(), "diverge.json")
  writeFileSync(
    file,
    JSON.stringify({
      name: "diverge",
      seed: 3,
      backend: testBackend,
      data: { source: "mnist", split: "train", limit: 64 },
      model: { descriptorChannels: [4, 4, 4], descriptorUnits: 3, zDim: 5, generatorChannels: [6, 4, 4] },
      training: { iterations, batchSize: 8, chains: 6 },
      langevin: { steps: 2, stepSize },
      output: { sampleEvery: 100, checkpointEvery: 2, logEvery: 1 },
    }),
  )
  return file
}

const errorOf = (stderr: string) => stderr.slice(stderr.indexOf("error: "))

describe("divergence", () => {
  it("a Langevin step size of 1e6 stops the run in iteration 1, in revise, naming the quantity and the fix", () => {
    const out = join(scratch(), "run")
    const r = cli(pipeline(1e6, 10), "--out", out)
    expect(r.code).toBe(1)
    const value = /is (\S+)\. To fix/.exec(r.stderr)?.[1] as string
    expect(
      Number.isFinite(Number(value)) ? Math.abs(Number(value)) : Number.POSITIVE_INFINITY,
    ).toBeGreaterThan(1e12)
    expect(errorOf(r.stderr)).toBe(
      `error: Training diverged in iteration 1, stage "revise": mean |pixel| of the revised samples is ${value}. To fix it, lower langevin.stepSize (δ) or raise langevin.refSigma, or lower optimizer.descriptor.learningRate. Checkpoints written before this iteration are intact. No checkpoint was written before it (set output.checkpointEvery to keep some).\n`,
    )
    expect(r.stderr).not.toMatch(/\n\s+at /)
    // nothing of the diverged iteration was recorded; run.json and the report say how the run ended
    expect(readdirSync(out).sort()).toEqual(["config.json", "report.html", "run.json", "tensorboard"])
    const ended = JSON.parse(readFileSync(join(out, "run.json"), "utf8")).ended
    expect(ended).toMatchObject({ status: "diverged", iterations: 0 })
    expect(ended.message).toBe(errorOf(r.stderr).slice("error: ".length).trimEnd())
    expect(readFileSync(join(out, "report.html"), "utf8")).toContain(
      '<div id="status" class="banner problem">Diverged after iteration 0: Training diverged in iteration 1, stage &quot;revise&quot;',
    )
  }, 120_000)

  it("a step size that explodes later names the last good checkpoint, which still loads", () => {
    const out = join(scratch(), "run")
    const r = cli(pipeline(0.5, 40), "--out", out)
    expect(r.code).toBe(1)
    const m =
      /^error: Training diverged in iteration (\d+), stage "(\w+)": (.+?) is (\S+)\. To fix it, (.+?)\. Checkpoints written before this iteration are intact\. The last good checkpoint is (\S+) \(iteration (\d+)\); `node dist\/run\.js sample (\S+)` draws from it\.\n$/.exec(
        errorOf(r.stderr),
      )
    expect(m).not.toBeNull()
    const [, iteration, , , , hint, dir, at] = m as RegExpExecArray
    expect(hint).toContain("langevin.stepSize")
    expect(Number(iteration)).toBeGreaterThan(2)
    expect(Number(at)).toBe(Math.floor((Number(iteration) - 1) / 2) * 2)
    expect(dir).toBe(join(out, "checkpoints", `iter-${String(at).padStart(6, "0")}`))
    const lines = readFileSync(join(out, "metrics.jsonl"), "utf8").trim().split("\n")
    expect(lines.length).toBe(Number(iteration) - 1)
    const manifest = JSON.parse(readFileSync(join(dir as string, "checkpoint.json"), "utf8"))
    expect(manifest.iteration).toBe(Number(at))
    const sampled = join(scratch(), "sampled")
    const s = cli("sample", dir as string, "--n", "4", "--out", sampled)
    expect(s.code).toBe(0)
    expect(readdirSync(join(sampled, "png")).length).toBe(4)
  }, 180_000)
})
