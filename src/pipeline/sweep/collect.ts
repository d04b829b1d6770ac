/**
 * `sweep collect`: one table of a sweep's runs, read from their directories.
 *
 * Per run: status, iterations, the energies and losses averaged over the last TAIL iterations of
 * metrics.jsonl (one iteration's values are noisy), the median wall time of an iteration (the
 * first of each attempt, kernel warm-up, excluded by the median), and sample quality — from
 * `<run>/evaluation/evaluation.json` when `node dist/run.js evaluate <run>` wrote one, else from
 * the newest evaluation line the training loop logged (`evaluation.every`).
 *
 * Per variant and grid point, over its seeds: the mean and sample standard deviation of the
 * sample-quality figures, the final losses and the time per iteration.
 */

import type { Schema } from "effect"
import { Effect, FileSystem, Path } from "effect"
import { type EvaluationLine, parseMetrics } from "../run-dir/metrics.js"
import type { SweepLayout } from "./layout.js"
import type { Plan } from "./plan.js"
import { readRunState, type Status } from "./run-state.js"

type Json = typeof Schema.Json.Type

/** Iterations the energies and losses are averaged over. */
export const TAIL = 10

/** The fields of an evaluation line / evaluation.json that the table reads. */
export interface Quality {
  /** where the figures come from */
  readonly source: "evaluate" | "training"
  readonly iteration: number | null
  readonly count: number
  readonly langevin: number | null
  readonly frechetDistance: number
  readonly inceptionScore: number
  readonly classEntropy: number
  readonly copyFraction: number
  /** median pixel L2 distance (pixels in [0, 1]) to the nearest training digit; real digits ≈ 4.7 */
  readonly nearestTrainDistance: number
}

export interface CollectedRun {
  readonly id: string
  readonly variant: string | null
  readonly point: Readonly<Record<string, Json>>
  readonly seed: number | null
  readonly status: Status
  readonly iterations: number
  readonly planned: number
  readonly energyObserved: number | null
  readonly energyDrafted: number | null
  readonly energyRevised: number | null
  readonly descriptorLoss: number | null
  readonly generatorLoss: number | null
  readonly reconstructionError: number | null
  readonly msPerIteration: number | null
  readonly quality: Quality | null
}

export interface Spread {
  readonly mean: number
  /** sample standard deviation; null for one value */
  readonly sd: number | null
  readonly n: number
}

export interface CollectedGroup {
  readonly variant: string | null
  readonly point: Readonly<Record<string, Json>>
  readonly seeds: ReadonlyArray<number | null>
  readonly done: number
  readonly frechetDistance: Spread | null
  readonly inceptionScore: Spread | null
  readonly classEntropy: Spread | null
  readonly nearestTrainDistance: Spread | null
  readonly descriptorLoss: Spread | null
  readonly reconstructionError: Spread | null
  readonly msPerIteration: Spread | null
}

const finite = (values: ReadonlyArray<number | null | undefined>): Array<number> =>
  values.filter((v): v is number => typeof v === "number" && Number.isFinite(v))

const mean = (values: ReadonlyArray<number | null | undefined>): number | null => {
  const v = finite(values)
  return v.length === 0 ? null : v.reduce((a, b) => a + b, 0) / v.length
}

export const median = (values: ReadonlyArray<number | null | undefined>): number | null => {
  const v = finite(values).sort((a, b) => a - b)
  if (v.length === 0) return null
  const mid = Math.floor(v.length / 2)
  return v.length % 2 === 1 ? (v[mid] as number) : ((v[mid - 1] as number) + (v[mid] as number)) / 2
}

export const spread = (values: ReadonlyArray<number | null | undefined>): Spread | null => {
  const v = finite(values)
  if (v.length === 0) return null
  const m = v.reduce((a, b) => a + b, 0) / v.length
  const sd = v.length < 2 ? null : Math.sqrt(v.reduce((a, b) => a + (b - m) ** 2, 0) / (v.length - 1))
  return { mean: m, sd, n: v.length }
}

/** Splits metrics.jsonl into its iteration lines and its evaluation lines (a torn line is skipped). */
export const splitMetrics = (text: string) => {
  const { metrics } = parseMetrics(text)
  return { training: metrics.iterations, evaluations: metrics.evaluations }
}

const num = (v: unknown): number => (typeof v === "number" ? v : Number.NaN)

/** The figures of `node dist/run.js evaluate` (evaluation.json, its `mnist.samples`), if present. */
const fromEvaluateReport = (report: unknown): Quality | null => {
  const r = report as {
    source?: { iteration?: number; count?: number; langevinSteps?: number }
    mnist?: { samples?: Record<string, unknown> }
  }
  const s = r?.mnist?.samples
  if (s === undefined) return null
  return {
    source: "evaluate",
    iteration: r.source?.iteration ?? null,
    count: num(s.count),
    langevin: r.source?.langevinSteps ?? null,
    frechetDistance: num(s.frechetDistance),
    inceptionScore: num(s.inceptionScore),
    classEntropy: num(s.classEntropy),
    copyFraction: num(s.copyFraction),
    nearestTrainDistance: num(s.medianNearestTrainDistance),
  }
}

const fromTrainingLine = (line: EvaluationLine): Quality => ({
  source: "training",
  iteration: line.iteration,
  count: num(line.evaluation.count),
  langevin: typeof line.evaluation.langevin === "number" ? line.evaluation.langevin : null,
  frechetDistance: num(line.evaluation.frechetDistance),
  inceptionScore: num(line.evaluation.inceptionScore),
  classEntropy: num(line.evaluation.classEntropy),
  copyFraction: num(line.evaluation.copyFraction),
  nearestTrainDistance: num(line.evaluation.medianNearestTrainDistance),
})

/** The row of one run from the text of its metrics.jsonl and, if any, its evaluation.json. */
export const summarizeRun = (
  run: Plan["runs"][number],
  status: Status,
  metricsText: string,
  evaluationJson: unknown,
): CollectedRun => {
  const { training, evaluations } = splitMetrics(metricsText)
  const tail = training.slice(-TAIL)
  const last = evaluations.at(-1)
  return {
    id: run.id,
    variant: run.variant ?? null,
    point: run.point,
    seed: run.seed ?? null,
    status,
    iterations: training.reduce((m, l) => Math.max(m, l.iteration), 0),
    planned: run.iterations,
    energyObserved: mean(tail.map((l) => l.energy.observed)),
    energyDrafted: mean(tail.map((l) => l.energy.drafted)),
    energyRevised: mean(tail.map((l) => l.energy.revised)),
    descriptorLoss: mean(tail.map((l) => l.descriptorLoss)),
    generatorLoss: mean(tail.map((l) => l.generatorLoss)),
    reconstructionError: mean(tail.map((l) => l.reconstructionError)),
    msPerIteration: median(training.map((l) => l.ms.iteration)),
    quality: fromEvaluateReport(evaluationJson) ?? (last === undefined ? null : fromTrainingLine(last)),
  }
}

/** Rows grouped by variant and grid point (the seeds of one configuration), in plan order. */
export const groupRuns = (rows: ReadonlyArray<CollectedRun>): Array<CollectedGroup> => {
  const groups = new Map<string, Array<CollectedRun>>()
  for (const row of rows) {
    const key = JSON.stringify([row.variant, row.point])
    groups.set(key, [...(groups.get(key) ?? []), row])
  }
  return [...groups.values()].map((members) => {
    const first = members[0] as CollectedRun
    const done = members.filter((m) => m.status === "done")
    return {
      variant: first.variant,
      point: first.point,
      seeds: members.map((m) => m.seed),
      done: done.length,
      frechetDistance: spread(done.map((m) => m.quality?.frechetDistance)),
      inceptionScore: spread(done.map((m) => m.quality?.inceptionScore)),
      classEntropy: spread(done.map((m) => m.quality?.classEntropy)),
      nearestTrainDistance: spread(done.map((m) => m.quality?.nearestTrainDistance)),
      descriptorLoss: spread(done.map((m) => m.descriptorLoss)),
      reconstructionError: spread(done.map((m) => m.reconstructionError)),
      msPerIteration: spread(done.map((m) => m.msPerIteration)),
    }
  })
}

/** Four significant digits: 84.1862 → "84.19", 304 → "304", 0.0589 → "0.0589"; large and tiny ones in exponent form. */
export const cell = (v: number | null | undefined): string =>
  v === null || v === undefined || !Number.isFinite(v)
    ? "–"
    : Math.abs(v) >= 1000 || (Math.abs(v) < 0.01 && v !== 0)
      ? v.toExponential(3)
      : String(Number(v.toPrecision(4)))

const spreadCell = (s: Spread | null): string =>
  s === null ? "–" : s.sd === null ? cell(s.mean) : `${cell(s.mean)} ± ${cell(s.sd)}`

const pointText = (point: Readonly<Record<string, Json>>): string =>
  Object.keys(point).length === 0
    ? "–"
    : Object.entries(point)
        .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
        .join(", ")

/** The per-run table and the per-configuration table, as Markdown. */
export const markdownTables = (
  rows: ReadonlyArray<CollectedRun>,
  groups: ReadonlyArray<CollectedGroup>,
): string => {
  const runHeader =
    "| run | variant | grid | seed | status | iterations | E(X_obs) | E(X̃) | E(X̂) | L_D | L_G | recon. error | ms/it | FD | IS | class entropy | nearest train | quality from |"
  const runRule =
    "| --- | --- | --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |"
  const runLines = rows.map((r) =>
    [
      r.id,
      r.variant ?? "–",
      pointText(r.point),
      r.seed ?? "–",
      r.status,
      `${r.iterations}/${r.planned}`,
      cell(r.energyObserved),
      cell(r.energyDrafted),
      cell(r.energyRevised),
      cell(r.descriptorLoss),
      cell(r.generatorLoss),
      cell(r.reconstructionError),
      r.msPerIteration === null ? "–" : Math.round(r.msPerIteration),
      cell(r.quality?.frechetDistance),
      cell(r.quality?.inceptionScore),
      cell(r.quality?.classEntropy),
      cell(r.quality?.nearestTrainDistance),
      r.quality === null
        ? "–"
        : `${r.quality.source} (${r.quality.count} samples${r.quality.langevin ? `, ${r.quality.langevin} Langevin` : ""}${r.quality.iteration === null ? "" : `, it. ${r.quality.iteration}`})`,
    ].join(" | "),
  )
  const groupHeader =
    "| variant | grid | seeds | done | FD | IS | class entropy | nearest train | L_D | recon. error | ms/it |"
  const groupRule = "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
  const groupLines = groups.map((g) =>
    [
      g.variant ?? "–",
      pointText(g.point),
      g.seeds.map((s) => s ?? "base").join(", "),
      `${g.done}/${g.seeds.length}`,
      spreadCell(g.frechetDistance),
      spreadCell(g.inceptionScore),
      spreadCell(g.classEntropy),
      spreadCell(g.nearestTrainDistance),
      spreadCell(g.descriptorLoss),
      spreadCell(g.reconstructionError),
      g.msPerIteration === null ? "–" : `${Math.round(g.msPerIteration.mean)}`,
    ].join(" | "),
  )
  const table = (lines: ReadonlyArray<string>) =>
    lines.map((l) => (l.startsWith("|") ? l : `| ${l} |`)).join("\n")
  return `${table([groupHeader, groupRule, ...groupLines])}\n\n${table([runHeader, runRule, ...runLines])}\n`
}

/** Reads every run of the plan. */
export const collectRuns = (plan: Plan, layout: SweepLayout) =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const rows: Array<CollectedRun> = []
    for (const run of plan.runs) {
      const dir = layout.runDir(run.id)
      const state = yield* readRunState(layout, run.id, run.iterations, plan.spec.evaluate !== undefined)
      const metrics = yield* fs
        .readFileString(path.join(dir, "metrics.jsonl"))
        .pipe(Effect.orElseSucceed(() => ""))
      const evaluationText = yield* fs
        .readFileString(path.join(dir, "evaluation", "evaluation.json"))
        .pipe(Effect.orElseSucceed(() => undefined))
      let evaluation: unknown
      try {
        evaluation = evaluationText === undefined ? undefined : JSON.parse(evaluationText)
      } catch {
        evaluation = undefined
      }
      rows.push(summarizeRun(run, state.status, metrics, evaluation))
    }
    return { rows, groups: groupRuns(rows) }
  })
