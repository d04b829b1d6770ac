/**
 * Terminal progress: a bar with ETA and the last losses on a terminal, the
 * plain lines of src/pipeline/report/progress-lines.ts elsewhere, and the summary table.
 */
import { describe, expect, it } from "vitest"
import { lastFigures, summaryTable, terminalProgress } from "../../src/pipeline/report/terminal-progress.js"
import type { Taught } from "../../src/stages/records.js"

const record = (iteration: number): Taught =>
  ({
    iteration,
    epoch: 0,
    draftEnergy: 12.5,
    descriptor: { loss: -0.25, observedEnergy: -1234567, revisedEnergy: -7654.5 },
    generator: { loss: 0.5, reconstructionError: 0.125 },
  }) as unknown as Taught

const stream = (isTTY: boolean) => {
  const chunks: Array<string> = []
  return {
    isTTY,
    chunks,
    write: (c: string) => chunks.push(c),
    columns: 160,
    cursorTo: () => true,
    clearLine: () => true,
    moveCursor: () => true,
  }
}

const summary = {
  iterations: 4,
  elapsedMs: 125_000,
  last: lastFigures(record(3)),
  checkpoint: "runs/tiny/checkpoints/final",
  report: "runs/tiny/report.html",
  tensorboard: "runs/tiny/tensorboard",
}

describe("terminal progress", () => {
  it("on a terminal: draws a bar with the iteration, s/it, ETA and the last losses, and logs above it", () => {
    const out = stream(true)
    const p = terminalProgress("tiny", 4, 0, 2, out)
    expect(p.mode).toBe("bar")
    p.update(record(0), 5000) // warm-up: left out of the ETA
    p.update(record(1), 1000)
    p.log("warning: something to say")
    p.update(record(2), 3000)
    p.finish()
    const text = out.chunks.join("")
    expect(text).toContain("█")
    expect(text).toMatch(
      /tiny [█░]+ 3\/4 \| 2\.00 s\/it \| ETA 2s \| E obs -1\.23e\+6 rev -7\.65e\+3 L_D -0\.250 \| recon 0\.125/,
    )
    expect(text).toContain("warning: something to say\n")
    // the bar ends on its own line, the cursor shown again
    expect(text.endsWith("\n") || text.endsWith("\u001b[?25h")).toBe(true)
  })

  it("elsewhere (CI logs): the plain progress lines every logEvery iterations", () => {
    const out = stream(false)
    const p = terminalProgress("tiny", 4, 0, 2, out)
    expect(p.mode).toBe("lines")
    for (let i = 0; i < 4; i++) p.update(record(i), 1000)
    p.log("a line")
    p.finish()
    const lines = out.chunks.join("").trimEnd().split("\n")
    expect(lines.slice(0, 3).map((l) => l.slice(0, 22))).toEqual([
      "[tiny] iter 1/4 epoch ",
      "[tiny] iter 2/4 epoch ",
      "[tiny] iter 4/4 epoch ",
    ])
    expect(out.chunks.join("")).not.toContain("█")
    expect(lines.slice(3)).toEqual(["a line"])
  })

  it("sums up where things are at the end; gives long ETAs in days", () => {
    expect(summaryTable(summary).split("\n")).toEqual([
      "  elapsed      2m05s (4 iterations)",
      "  last         E obs -1.23e+6 revised -7.65e+3 L_D -0.250 | recon 0.125",
      "  checkpoint   runs/tiny/checkpoints/final",
      "  report       runs/tiny/report.html",
      "  tensorboard  tensorboard --logdir runs/tiny/tensorboard",
    ])
    // the generator alone has no energies; nothing written: no such rows
    expect(
      summaryTable({
        iterations: 2,
        elapsedMs: 5000,
        last: { observedEnergy: null, revisedEnergy: null, descriptorLoss: null, reconstructionError: 0.5 },
      }).split("\n"),
    ).toEqual(["  elapsed  5s (2 iterations)", "  last     recon 0.500"])
  })
})
