/**
 * The comparison report of several runs: their curves overlaid (one colour
 * per run), their final sample grids side by side, a table of the last
 * iterations and the config fields in which they differ. Built from the run
 * directories' files alone, like report.html.
 */

import type { IterationLine } from "../run-dir/metrics.js"
import { type Chart, lineChart, type Series } from "./charts.js"
import { chartGrid, escapeHtml, figure, page } from "./html.js"
import { ImageCache } from "./inline-images.js"
import { evaluationFigures, medianIterationMs } from "./metrics.js"
import { RunReader, type RunSnapshot } from "./run-dir.js"
import { labelsOf } from "./run-labels.js"
import { figureTitle, framesOf, num, seconds } from "./run-report.js"

/** The table averages the last this many iterations (one iteration's metrics are noisy), as `compare` does. */
export const TAIL = 10

const PALETTE = [
  "#4c78a8",
  "#f58518",
  "#54a24b",
  "#e45756",
  "#72b7b2",
  "#b279a2",
  "#eeca3b",
  "#9d755d",
  "#ff9da6",
  "#bab0ac",
]

/** `{a: {b: 1}}` → `{"a.b": 1}` (arrays kept whole). */
export const flatten = (value: unknown, prefix = ""): Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value)
    ? Object.fromEntries(
        Object.entries(value).flatMap(([k, v]) => Object.entries(flatten(v, prefix ? `${prefix}.${k}` : k))),
      )
    : { [prefix]: value }

/** The config fields (dotted paths) whose values are not the same in every run; the run name is left out. */
export const differingFields = (configs: ReadonlyArray<Record<string, unknown> | null>): Array<string> => {
  const flat = configs.map((c) => flatten(c ?? {}))
  const keys = [...new Set(flat.flatMap((f) => Object.keys(f)))].filter((k) => k !== "name").sort()
  return keys.filter((k) => new Set(flat.map((f) => JSON.stringify(f[k]))).size > 1)
}

const mean = (values: ReadonlyArray<number | null | undefined>): number | null => {
  const present = values.filter((v): v is number => typeof v === "number" && Number.isFinite(v))
  return present.length === 0 ? null : present.reduce((a, b) => a + b, 0) / present.length
}

interface Run {
  readonly label: string
  readonly color: string
  readonly snapshot: RunSnapshot
}

const perRun = (
  runs: ReadonlyArray<Run>,
  pick: (l: IterationLine) => number | null | undefined,
): Array<Series> =>
  runs.map((r) => ({
    name: r.label,
    points: r.snapshot.metrics.iterations.map((l) => [l.iteration, pick(l) ?? null] as const),
  }))

const present = (all: ReadonlyArray<Series>): Array<Series> =>
  all.filter((s) => s.points.some((p) => p[1] !== null && Number.isFinite(p[1])))

export const comparisonCharts = async (runs: ReadonlyArray<Run>): Promise<Array<Chart>> => {
  const colors: Record<string, string> = {}
  for (const r of runs) colors[r.label] = r.color
  const charts: Array<Promise<Chart>> = []
  const line = (id: string, title: string, y: string, all: ReadonlyArray<Series>) => {
    const drawn = present(all)
    if (drawn.length > 0) charts.push(lineChart({ id, title, x: "iteration", y, series: drawn, colors }))
  }
  line(
    "revised",
    "Mean energy of the revised samples",
    "energy",
    perRun(runs, (l) => l.energy.revised),
  )
  line(
    "observed",
    "Mean energy of the observed batches",
    "energy",
    perRun(runs, (l) => l.energy.observed),
  )
  line(
    "drafted",
    "Mean energy of the drafts",
    "energy",
    perRun(runs, (l) => l.energy.drafted),
  )
  line(
    "descriptorLoss",
    "Descriptor loss L_D",
    "loss",
    perRun(runs, (l) => l.descriptorLoss),
  )
  line(
    "generatorLoss",
    "Generator loss",
    "loss",
    perRun(runs, (l) => l.generatorLoss),
  )
  line(
    "reconstructionError",
    "Reconstruction error",
    "error",
    perRun(runs, (l) => l.reconstructionError),
  )
  line(
    "ms",
    "Milliseconds per iteration",
    "ms",
    perRun(runs, (l) => l.ms.iteration),
  )
  line(
    "rss",
    "Resident memory",
    "MB",
    perRun(runs, (l) => l.memory?.rssMb),
  )
  const figures = [
    ...new Set(
      runs.flatMap((r) =>
        r.snapshot.metrics.evaluations.flatMap((e) => Object.keys(evaluationFigures(e.evaluation))),
      ),
    ),
  ]
  for (const f of figures)
    line(
      `evaluation-${f}`,
      figureTitle(f),
      f,
      runs.map((r) => ({
        name: r.label,
        points: r.snapshot.metrics.evaluations.map(
          (e) => [e.iteration, evaluationFigures(e.evaluation)[f] ?? null] as const,
        ),
      })),
    )
  return Promise.all(charts)
}

const summaryTable = (runs: ReadonlyArray<Run>): string => {
  const rows = runs.map((r) => {
    const lines = r.snapshot.metrics.iterations
    const tail = lines.slice(-TAIL)
    const lastEval = r.snapshot.metrics.evaluations.at(-1)
    const fd = lastEval ? evaluationFigures(lastEval.evaluation).frechetDistance : undefined
    const cells = [
      mean(tail.map((l) => l.energy.observed)),
      mean(tail.map((l) => l.energy.drafted)),
      mean(tail.map((l) => l.energy.revised)),
      mean(tail.map((l) => l.descriptorLoss)),
      mean(tail.map((l) => l.reconstructionError)),
    ]
    return `<tr><td><span style="color:${r.color}">■</span> ${escapeHtml(r.label)}</td><td>${lines.at(-1)?.iteration ?? 0}</td>${cells
      .map((c) => `<td>${num(c)}</td>`)
      .join("")}<td>${num(fd ?? null)}</td><td>${seconds(medianIterationMs(lines))}</td></tr>`
  })
  return `<table class="wide"><tr><th>run</th><th>iterations</th><th>E(X_obs)</th><th>E(X̃) drafted</th><th>E(X̂) revised</th><th>L_D</th><th>recon. error</th><th>FD (last)</th><th>time / iteration</th></tr>${rows.join("")}</table>
<p class="sub">Energies, L_D and reconstruction error: means over the last ${TAIL} iterations of each run; time: median, the first iteration left out.</p>`
}

const differencesTable = (runs: ReadonlyArray<Run>): string => {
  const keys = differingFields(runs.map((r) => r.snapshot.config))
  if (keys.length === 0)
    return `<p class="sub">The runs' resolved configs are the same (apart from their names).</p>`
  const flat = runs.map((r) => flatten(r.snapshot.config ?? {}))
  return `<table class="wide"><tr><th>config field</th>${runs.map((r) => `<th>${escapeHtml(r.label)}</th>`).join("")}</tr>${keys
    .map(
      (k) =>
        `<tr><td><code>${escapeHtml(k)}</code></td>${flat.map((f) => `<td>${escapeHtml(f[k] === undefined ? "–" : JSON.stringify(f[k]))}</td>`).join("")}</tr>`,
    )
    .join("")}</table>`
}

export const buildComparisonReport = async (
  dirs: ReadonlyArray<string>,
  o: { readonly now?: Date } = {},
): Promise<string> => {
  const labels = labelsOf(dirs)
  const snapshots = await Promise.all(dirs.map((d) => new RunReader(d).read()))
  const runs: Array<Run> = snapshots.map((snapshot, i) => ({
    label: labels[i] as string,
    color: PALETTE[i % PALETTE.length] as string,
    snapshot,
  }))
  const images = new ImageCache()
  const [charts, finals] = await Promise.all([
    comparisonCharts(runs),
    Promise.all(
      runs.map(async (r) =>
        (
          await framesOf(
            r.snapshot.grids.filter((g) => g.iteration === r.snapshot.grids.at(-1)?.iteration),
            images,
          )
        ).at(-1),
      ),
    ),
  ])
  const problems = runs.flatMap((r) => r.snapshot.problems.map((p) => `${r.label}: ${p}`))
  const body = `
<h1>Comparison of ${runs.length} runs</h1>
<div class="sub">${runs.map((r) => `<span style="color:${r.color}">■</span> ${escapeHtml(r.label)} <code>${escapeHtml(r.snapshot.dir)}</code>`).join(" &nbsp; ")}</div>
<div id="status" class="banner done">Built from the runs' files as they were at ${escapeHtml((o.now ?? new Date()).toISOString())}.</div>
${problems.length > 0 ? `<div class="banner problem">${problems.map(escapeHtml).join("; ")}</div>` : ""}
<h2>Summary</h2>
<div class="card">${summaryTable(runs)}</div>
<h2>Config differences</h2>
<div class="card">${differencesTable(runs)}</div>
<h2>Curves</h2>
${chartGrid(charts)}
<h2>Final samples</h2>
<div class="card grids">${runs
    .map((r, i) => {
      const frame = finals[i]
      if (!frame) return `<figure><figcaption>${escapeHtml(r.label)}: no sample grids</figcaption></figure>`
      return `<div><div><span style="color:${r.color}">■</span> <b>${escapeHtml(r.label)}</b>, iteration ${frame.iteration}</div><div class="grids">${frame.images
        .map(([caption, image]) => figure(image, caption, 220))
        .join("")}</div></div>`
    })
    .join("")}</div>
`
  return page({
    title: `coopnets comparison · ${labels.join(", ")}`,
    live: false,
    reloadMs: 0,
    updated: o.now ?? new Date(),
    body,
  })
}
