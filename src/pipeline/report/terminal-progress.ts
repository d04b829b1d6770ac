/**
 * Training progress on the terminal. On a terminal: a progress bar
 * (cli-progress) with the iteration, time per iteration, ETA and the last
 * energies and losses, redrawn in place; other lines (warnings, evaluations)
 * go above it through `log`. Not on a terminal (CI logs, `> file`): the plain
 * lines of ./progress-lines.ts every `logEvery` iterations. `summaryTable`
 * is the short table printed at the end: how long it took, the last losses,
 * the checkpoint, the report and the TensorBoard command.
 *
 * It has the `Progress` interface of ./progress-lines.ts, so the training loop can
 * use either.
 */
import { MultiBar, type SingleBar } from "cli-progress"
import type { Taught } from "../../stages/records.js"
import { duration, type Progress, progress } from "./progress-lines.js"

export const short = (v: number | null | undefined): string =>
  v === null || v === undefined
    ? "-"
    : Math.abs(v) >= 1000 || (Math.abs(v) < 0.01 && v !== 0)
      ? v.toExponential(2)
      : v.toFixed(3)

/** The last iteration's figures, for the summary. */
export interface LastFigures {
  readonly observedEnergy: number | null
  readonly revisedEnergy: number | null
  readonly descriptorLoss: number | null
  readonly reconstructionError: number | null
}

export const lastFigures = (record: Taught): LastFigures => ({
  observedEnergy: record.descriptor?.observedEnergy ?? null,
  revisedEnergy: record.descriptor?.revisedEnergy ?? null,
  descriptorLoss: record.descriptor?.loss ?? null,
  reconstructionError: record.generator?.reconstructionError ?? null,
})

/** What the summary table shows at the end of a run (after the "done" line, which says the rest). */
export interface RunSummaryFacts {
  readonly iterations: number
  readonly elapsedMs: number
  readonly last?: LastFigures | undefined
  readonly checkpoint?: string | undefined
  readonly report?: string | undefined
  readonly tensorboard?: string | undefined
}

export interface TerminalProgress extends Progress {
  /** A line for the terminal that does not break the bar. */
  readonly log: (line: string) => void
  /** Stops the bar (the lines logged last are written first); nothing more is drawn after it. */
  readonly finish: () => void
  readonly mode: "bar" | "lines"
}

interface Stream {
  readonly isTTY?: boolean
  readonly write: (chunk: string) => unknown
}

/** `key  value` rows, keys padded to one column. */
export const summaryTable = (s: RunSummaryFacts): string => {
  const rows: Array<readonly [string, string]> = [
    ["elapsed", `${duration(s.elapsedMs)} (${s.iterations} iterations)`],
  ]
  const l = s.last
  if (l && (l.observedEnergy !== null || l.reconstructionError !== null))
    rows.push([
      "last",
      [
        l.observedEnergy !== null
          ? `E obs ${short(l.observedEnergy)} revised ${short(l.revisedEnergy)} L_D ${short(l.descriptorLoss)}`
          : "",
        l.reconstructionError !== null ? `recon ${short(l.reconstructionError)}` : "",
      ]
        .filter((x) => x !== "")
        .join(" | "),
    ])
  if (s.checkpoint) rows.push(["checkpoint", s.checkpoint])
  if (s.report) rows.push(["report", s.report])
  if (s.tensorboard) rows.push(["tensorboard", `tensorboard --logdir ${s.tensorboard}`])
  const width = Math.max(...rows.map(([k]) => k.length))
  return rows.map(([k, v]) => `  ${k.padEnd(width)}  ${v}`).join("\n")
}

export const terminalProgress = (
  name: string,
  total: number,
  start: number,
  every: number,
  stream: Stream = process.stderr,
): TerminalProgress => {
  if (!stream.isTTY) {
    const write = (line: string) => {
      stream.write(`${line}\n`)
    }
    const lines = progress(name, total, start, every, write)
    return {
      mode: "lines",
      update: lines.update,
      log: write,
      finish: () => {},
    }
  }
  const bars = new MultiBar({
    stream: stream as NodeJS.WritableStream,
    format: `${name} {bar} {value}/{total} | {perIteration} s/it | ETA {etaText} | {losses}`,
    barCompleteChar: "█",
    barIncompleteChar: "░",
    barsize: 24,
    hideCursor: true,
    gracefulExit: false, // the run's own signal handling (../training/stop.ts) decides
    fps: 5,
  })
  let bar: SingleBar | null = null
  let timedMs = 0
  let timed = 0
  return {
    mode: "bar",
    update: (record, iterationMs) => {
      const done = record.iteration + 1
      // the first iteration pays for kernel compilation and optimiser slots: keep it out of the ETA
      if (record.iteration > start) {
        timedMs += iterationMs
        timed++
      }
      const perIteration = timed > 0 ? timedMs / timed : iterationMs
      const d = record.descriptor
      const g = record.generator
      const payload = {
        perIteration: (perIteration / 1000).toFixed(2),
        etaText: duration(perIteration * (total - done)),
        losses: [
          d ? `E obs ${short(d.observedEnergy)} rev ${short(d.revisedEnergy)} L_D ${short(d.loss)}` : "",
          g ? `recon ${short(g.reconstructionError)}` : "",
        ]
          .filter((x) => x !== "")
          .join(" | "),
      }
      if (bar === null) bar = bars.create(total, done, payload)
      else bar.update(done, payload)
    },
    log: (line) => {
      if (bar === null) stream.write(`${line}\n`)
      else bars.log(`${line}\n`)
    },
    finish: () => {
      if (bar === null) return
      bars.update() // writes the lines logged since the last redraw
      bars.stop()
      bar = null
    },
  }
}
