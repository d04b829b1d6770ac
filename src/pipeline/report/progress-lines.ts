/** One progress line per `logEvery` iterations on stderr: where the run is, how fast, the last losses. */
import type { Taught } from "../../stages/records.js"

/** A span of time as people read it: 42s, 3m07s, 5h02m, 12d04h; beyond a year, in years. */
export const duration = (ms: number): string => {
  if (!Number.isFinite(ms)) return "unknown"
  const s = Math.round(Math.max(0, ms) / 1000)
  const pad = (n: number) => String(n).padStart(2, "0")
  if (s < 60) return `${s}s`
  if (s < 3600) return `${Math.floor(s / 60)}m${pad(s % 60)}s`
  if (s < 86400) return `${Math.floor(s / 3600)}h${pad(Math.floor((s % 3600) / 60))}m`
  const days = Math.floor(s / 86400)
  if (days < 365) return `${days}d${pad(Math.floor((s % 86400) / 3600))}h`
  const years = s / (365.25 * 86400)
  return years < 1000 ? `${years.toFixed(1)} years` : `${years.toExponential(1)} years`
}

const num = (v: number): string =>
  Math.abs(v) >= 1000 || (Math.abs(v) < 0.01 && v !== 0) ? v.toExponential(2) : v.toFixed(3)

export interface Progress {
  readonly update: (record: Taught, iterationMs: number) => void
}

export const progress = (
  name: string,
  total: number,
  start: number,
  every: number,
  write: (line: string) => void = (line) => process.stderr.write(`${line}\n`),
): Progress => {
  let timedMs = 0
  let timed = 0
  return {
    update: (record, iterationMs) => {
      const done = record.iteration + 1
      // the first iteration pays for kernel compilation and optimiser slots: keep it out of the ETA
      if (record.iteration > start) {
        timedMs += iterationMs
        timed++
      }
      if (done % every !== 0 && done !== total && record.iteration !== start) return
      const perIteration = timed > 0 ? timedMs / timed : iterationMs
      const g = record.generator
      const d = record.descriptor
      write(
        `[${name}] iter ${done}/${total} epoch ${record.epoch} | ${(perIteration / 1000).toFixed(2)} s/it, ETA ${duration(perIteration * (total - done))}` +
          (d
            ? ` | E obs ${num(d.observedEnergy)} draft ${record.draftEnergy === null ? "-" : num(record.draftEnergy)} revised ${num(d.revisedEnergy)} | L_D ${num(d.loss)}`
            : "") +
          (g ? `${d ? "" : " |"} recon ${num(g.reconstructionError)}` : ""),
      )
    },
  }
}
