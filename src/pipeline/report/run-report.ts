/**
 * report.html of one run: the facts, the curves of metrics.jsonl, the sample
 * grids over time, the resolved config. Built from the files of the run
 * directory only, so it can be rebuilt at any time (`report <run-dir>`) and
 * rewritten while the run goes on.
 */
import { stat } from "node:fs/promises"
import { isAbsolute, resolve } from "node:path"
import type { EvaluationLine, IterationLine } from "../run-dir/metrics.js"
import { type Chart, heatmap, lineChart, type Series } from "./charts.js"
import { chartGrid, escapeHtml, type Frame, factsTable, page, scrubber } from "./html.js"
import { dataUri, type ImageCache, type InlineImage, imageSize } from "./inline-images.js"
import { evaluationFigures, evaluationHistograms, medianIterationMs } from "./metrics.js"
import type { Grid, RunReader, RunSnapshot } from "./run-dir.js"

export const ENERGY_COLORS = { observed: "#1f77b4", drafted: "#ff7f0e", revised: "#2ca02c" }

/** More sample frames than this are thinned evenly (the newest always kept) to bound the page's size. */
export const MAX_FRAMES = 60

/** What the grid files of each kind show, in display order. */
const KIND_CAPTIONS: ReadonlyArray<readonly [string, string]> = [
  ["observed", "observed"],
  ["drafts", "drafts X̃ = g(z)"],
  ["revised", "revised X̂ (after Langevin)"],
]

export const captionOf = (kind: string): string => KIND_CAPTIONS.find(([k]) => k === kind)?.[1] ?? kind

const kindOrder = (kind: string): number => {
  const i = KIND_CAPTIONS.findIndex(([k]) => k === kind)
  return i < 0 ? KIND_CAPTIONS.length : i
}

/** Names of the sample-quality figures of src/pipeline/sample-quality.ts; others are shown by their key. */
const FIGURE_TITLES: Readonly<Record<string, string>> = {
  frechetDistance: "Fréchet distance to held-out digits (lower is better)",
  inceptionScore: "Inception score analogue (higher is better)",
  classEntropy: "Entropy of the class histogram, nats (ln 10 = 2.30 when balanced)",
  copyFraction: "Fraction of samples that copy a training digit",
  medianNearestTrainDistance: "Median distance to the nearest training digit",
  classHistogram: "Samples per class (the classifier's most probable class)",
}

export const figureTitle = (key: string): string => FIGURE_TITLES[key] ?? `Sample quality: ${key}`

export const num = (v: number | null | undefined, digits = 4): string =>
  v === null || v === undefined || !Number.isFinite(v)
    ? "–"
    : Math.abs(v) >= 1e5 || (Math.abs(v) < 1e-3 && v !== 0)
      ? v.toExponential(3)
      : Number(v.toPrecision(digits)).toLocaleString("en-US", { maximumFractionDigits: 6 })

export const seconds = (ms: number | null): string =>
  ms === null ? "–" : ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(2)} s`

const get = (o: unknown, ...path: Array<string>): unknown =>
  path.reduce<unknown>(
    (v, k) => (typeof v === "object" && v !== null ? (v as Record<string, unknown>)[k] : undefined),
    o,
  )

const series = (
  name: string,
  lines: ReadonlyArray<IterationLine>,
  pick: (l: IterationLine) => number | null | undefined,
): Series => ({ name, points: lines.map((l) => [l.iteration, pick(l) ?? null] as const) })

const hasPoints = (s: Series): boolean => s.points.some((p) => p[1] !== null && Number.isFinite(p[1]))

/** The curves of one run (charts whose quantities the run does not have are left out). */
export const runCharts = async (
  iterations: ReadonlyArray<IterationLine>,
  evaluations: ReadonlyArray<EvaluationLine>,
): Promise<Array<Chart>> => {
  const charts: Array<Promise<Chart>> = []
  const line = (
    id: string,
    title: string,
    y: string,
    all: ReadonlyArray<Series>,
    colors?: Record<string, string>,
  ) => {
    const present = all.filter(hasPoints)
    if (present.length > 0)
      charts.push(lineChart({ id, title, x: "iteration", y, series: present, ...(colors ? { colors } : {}) }))
  }
  line(
    "energy",
    "Mean energy of observed, drafted and revised batches",
    "energy",
    [
      series("observed", iterations, (l) => l.energy.observed),
      series("drafted", iterations, (l) => l.energy.drafted),
      series("revised", iterations, (l) => l.energy.revised),
    ],
    ENERGY_COLORS,
  )
  line("descriptorLoss", "Descriptor loss L_D", "loss", [
    series("descriptor loss", iterations, (l) => l.descriptorLoss),
  ])
  line("generatorLoss", "Generator loss", "loss", [
    series("generator loss", iterations, (l) => l.generatorLoss),
  ])
  line("reconstructionError", "Reconstruction error", "error", [
    series("reconstruction error", iterations, (l) => l.reconstructionError),
  ])
  const stages = [...new Set(iterations.flatMap((l) => Object.keys(l.ms)))]
  line(
    "ms",
    "Milliseconds per stage",
    "ms",
    stages.map((stage) => ({
      ...series(stage, iterations, (l) => l.ms[stage]),
      dashed: stage === "iteration",
    })),
  )
  line("tensors", "Live tensors", "tensors", [series("tensors", iterations, (l) => l.memory?.tensors)])
  line("rss", "Resident memory", "MB", [series("RSS", iterations, (l) => l.memory?.rssMb)])
  const figures = [...new Set(evaluations.flatMap((e) => Object.keys(evaluationFigures(e.evaluation))))]
  for (const f of figures)
    line(`evaluation-${f}`, figureTitle(f), f, [
      {
        name: f,
        points: evaluations.map((e) => [e.iteration, evaluationFigures(e.evaluation)[f] ?? null] as const),
      },
    ])
  const histograms = [...new Set(evaluations.flatMap((e) => Object.keys(evaluationHistograms(e.evaluation))))]
  for (const h of histograms)
    charts.push(
      heatmap({
        id: `evaluation-${h}`,
        title: figureTitle(h),
        x: "iteration",
        y: /class/i.test(h) ? "class" : "bin",
        value: "count",
        columns: evaluations.flatMap((e) => {
          const bins = evaluationHistograms(e.evaluation)[h]
          return bins ? [{ x: e.iteration, bins }] : []
        }),
      }),
    )
  return Promise.all(charts)
}

/** At most `max` iterations, evenly spaced, always the first and the newest. */
export const thinFrames = (iterations: ReadonlyArray<number>, max = MAX_FRAMES): Array<number> => {
  if (iterations.length <= max) return [...iterations]
  const picked = new Set<number>()
  for (let i = 0; i < max; i++)
    picked.add(iterations[Math.round((i * (iterations.length - 1)) / (max - 1))] as number)
  return iterations.filter((it) => picked.has(it))
}

/**
 * Grid bytes a report inlines at most (base64 adds a third): the official MNIST run's 144-chain
 * grids are ~120 KB each, so its 60 grid iterations are shown as about 25.
 */
export const MAX_IMAGE_BYTES = 6 * 2 ** 20

const sizeOf = (file: string): Promise<number> =>
  stat(file).then(
    (s) => s.size,
    () => 0,
  )

/** The frames shown: at most `maxFrames`, fewer when their images would pass `maxBytes`; evenly spaced, the newest kept. */
export const framesOf = async (
  grids: ReadonlyArray<Grid>,
  images: ImageCache,
  maxFrames = MAX_FRAMES,
  maxBytes = MAX_IMAGE_BYTES,
): Promise<Array<Frame>> => {
  const byIteration = new Map<number, Array<Grid>>()
  for (const g of grids) byIteration.set(g.iteration, [...(byIteration.get(g.iteration) ?? []), g])
  const all = [...byIteration.keys()].sort((a, b) => a - b)
  let kept = thinFrames(all, maxFrames)
  const bytes = (
    await Promise.all(kept.flatMap((it) => (byIteration.get(it) ?? []).map((g) => sizeOf(g.file))))
  ).reduce((a, b) => a + b, 0)
  if (bytes > maxBytes) kept = thinFrames(all, Math.max(2, Math.floor((kept.length * maxBytes) / bytes)))
  return Promise.all(
    kept.map(async (iteration) => {
      const gs = [...(byIteration.get(iteration) ?? [])].sort(
        (a, b) => kindOrder(a.kind) - kindOrder(b.kind) || a.kind.localeCompare(b.kind),
      )
      const loaded = await Promise.all(
        gs.map(async (g) => [captionOf(g.kind), await images.get(g.file)] as const),
      )
      return {
        iteration,
        images: loaded.filter((e): e is readonly [string, InlineImage] => e[1] !== null),
      }
    }),
  )
}

/**
 * The exemplar of a texture run at the scale the crops are cut from (as
 * src/pipeline/texture.ts prepares it), or null for other runs. `data.path`
 * is relative to the directory the run was started from.
 */
export const exemplarOf = async (config: Record<string, unknown> | null): Promise<InlineImage | null> => {
  const data = get(config, "data")
  if (get(data, "source") !== "texture") return null
  const path = get(data, "path")
  if (typeof path !== "string") return null
  const file = isAbsolute(path) ? path : resolve(path)
  try {
    // loaded here, not at the top: the report's worker thread loads libvips only for a texture run
    const { default: sharp } = await import("sharp")
    const channels = get(data, "channels") === 3 ? 3 : 1
    const size = Number(get(data, "size"))
    const meta = await sharp(file).metadata()
    const scale = Number(get(data, "scale") ?? 1)
    const resized =
      get(data, "crops") === 0
        ? sharp(file).resize(size, size, { fit: "cover" })
        : sharp(file).resize(Math.max(1, Math.round((meta.width ?? size) * scale)))
    const png = await (channels === 1 ? resized.grayscale() : resized).png().toBuffer()
    const dims = imageSize(png)
    return dims ? { uri: dataUri(png, "image/png"), ...dims, bytes: png.length } : null
  } catch {
    return null
  }
}

/**
 * How a run ended, as the training loop records it in run.json:
 * `ended: {at, status: "finished" | "stopped" | "diverged", iterations, signal?, message?}`
 * and `resumed: [{at, from}]` for each `--resume`. Runs made before these
 * records existed have neither.
 */
export interface RunEnd {
  readonly at: string
  readonly status: "finished" | "stopped" | "diverged"
  readonly iterations: number
  readonly signal?: string
  readonly message?: string
}

export const endOf = (run: Record<string, unknown> | null): RunEnd | null => {
  const ended = get(run, "ended")
  return typeof ended === "object" && ended !== null && typeof get(ended, "status") === "string"
    ? (ended as RunEnd)
    : null
}

const resumesOf = (run: Record<string, unknown> | null): Array<{ at: string; from: number }> => {
  const resumed = get(run, "resumed")
  return Array.isArray(resumed) ? (resumed as Array<{ at: string; from: number }>) : []
}

/** The status in words (HTML), from run.json's end record or, for older runs, from the files. */
const statusOf = (s: RunSnapshot, live: boolean): string => {
  const done = s.metrics.iterations.at(-1)?.iteration ?? 0
  if (live) return "running"
  const end = endOf(s.run)
  if (end?.status === "finished") return `finished at ${escapeHtml(end.at)}`
  if (end?.status === "stopped")
    return `stopped${end.signal ? ` by ${escapeHtml(end.signal)}` : ""} after iteration ${end.iterations} at ${escapeHtml(end.at)}; <code>node dist/run.js --resume ${escapeHtml(s.dir)}</code> continues it`
  if (end?.status === "diverged")
    return `<b>diverged</b> at ${escapeHtml(end.at)}: ${escapeHtml(end.message ?? "")}`
  if (s.checkpoints.some((c) => c.name === "final")) return "finished"
  return done > 0
    ? `stopped after iteration ${done} (no final checkpoint: interrupted, killed or diverged; \`--resume\` continues from the newest checkpoint)`
    : "not started"
}

export interface RunReportOptions {
  /** the run is still being written: the page says so and reloads itself */
  readonly live: boolean
  readonly now?: Date
}

const facts = (s: RunSnapshot, live: boolean): Array<readonly [string, string]> => {
  const { iterations, evaluations, events } = s.metrics
  const total = get(s.config, "training", "iterations")
  const done = iterations.at(-1)?.iteration ?? 0
  const backend = get(s.run, "backend", "name")
  const attempts = get(s.run, "backend", "attempts")
  const why = Array.isArray(attempts)
    ? attempts
        .map((a) => `${escapeHtml(String(get(a, "name")))}: ${escapeHtml(String(get(a, "reason")))}`)
        .join("; ")
    : ""
  const median = medianIterationMs(iterations)
  const stages = [...new Set(iterations.flatMap((l) => Object.keys(l.ms)))].filter((k) => k !== "iteration")
  const stageMedians = stages.map((stage) => {
    const ms = medianIterationMs(
      iterations.map((l) => ({ ...l, ms: { iteration: l.ms[stage] ?? Number.NaN } })),
    )
    return `${escapeHtml(stage)} ${seconds(ms)}`
  })
  const checkpoints = s.checkpoints.map(
    (c) =>
      `${escapeHtml(c.name)}${c.iteration === null || c.name.startsWith("iter-") ? "" : ` (iteration ${c.iteration})`}`,
  )
  const lastEval = evaluations.at(-1)
  const started = get(s.run, "started")
  const rows: Array<readonly [string, string]> = [
    ["directory", `<code>${escapeHtml(s.dir)}</code>`],
    ["pipeline file", escapeHtml(String(get(s.run, "source") ?? "–"))],
    ["status", statusOf(s, live)],
    [
      "iterations",
      `${done}${typeof total === "number" ? ` of ${total}` : ""}${iterations.length > 0 ? `, epoch ${iterations.at(-1)?.epoch}` : ""}`,
    ],
    [
      "time per iteration",
      `${seconds(median)} median${stageMedians.length > 0 ? ` (${stageMedians.join(", ")})` : ""}`,
    ],
    ["backend", `${escapeHtml(String(backend ?? "–"))}${why ? ` <span class="sub">(${why})</span>` : ""}`],
    [
      "versions",
      `tfjs ${escapeHtml(String(get(s.run, "tfjs") ?? "–"))}, Node ${escapeHtml(String(get(s.run, "node") ?? "–"))}`,
    ],
    ["seed", escapeHtml(String(get(s.config, "seed") ?? "–"))],
    [
      "stages",
      escapeHtml(
        Object.entries((get(s.config, "stages") as object) ?? {})
          .map(([k, v]) => `${k} ${v}`)
          .join(", ") || "–",
      ),
    ],
    ["started", escapeHtml(typeof started === "string" ? started : "–")],
    ...resumesOf(s.run).map((r): readonly [string, string] => [
      "resumed",
      `${escapeHtml(String(r.at))} from iteration ${escapeHtml(String(r.from))}`,
    ]),
    ["last written", escapeHtml(s.metricsWritten?.toISOString() ?? "–")],
    ["checkpoints", checkpoints.length > 0 ? checkpoints.join(", ") : "none"],
    [
      "sample grids",
      `${new Set(s.grids.map((g) => g.iteration)).size} iterations (every ${escapeHtml(String(get(s.config, "output", "sampleEvery") ?? "–"))})`,
    ],
    [
      "TensorBoard",
      s.eventFiles.length > 0
        ? `<code>tensorboard --logdir ${escapeHtml(s.dir)}/tensorboard</code>`
        : "no event files",
    ],
  ]
  if (lastEval)
    rows.push([
      "sample quality",
      `iteration ${lastEval.iteration}: ${Object.entries(evaluationFigures(lastEval.evaluation))
        .map(([k, v]) => `${escapeHtml(k)} ${num(v)}`)
        .join(", ")}`,
    ])
  if (events.length > 0)
    rows.push([
      "events",
      `<ul class="events">${events
        .map(
          (e) =>
            `<li>${e.iteration === null ? "" : `iteration ${e.iteration}: `}<b>${escapeHtml(e.kind)}</b> <code>${escapeHtml(JSON.stringify(e.fields[e.kind] ?? e.fields))}</code></li>`,
        )
        .join("")}</ul>`,
    ])
  return rows
}

/** How often a live page reloads: about once per new sample grid, between 5 s and 2 min. */
export const reloadMsOf = (s: RunSnapshot): number => {
  const every = Number(get(s.config, "output", "sampleEvery") ?? 10)
  const ms = medianIterationMs(s.metrics.iterations) ?? 1000
  return Math.min(120_000, Math.max(5_000, every * ms))
}

export const runTitle = (s: RunSnapshot): string => String(get(s.config, "name") ?? s.dir)

/** Builds the page; `reader` and `images` keep what earlier builds read. */
export const buildRunReport = async (
  reader: RunReader,
  images: ImageCache,
  o: RunReportOptions,
): Promise<string> => {
  const s = await reader.read()
  const now = o.now ?? new Date()
  const [charts, frames, exemplar] = await Promise.all([
    runCharts(s.metrics.iterations, s.metrics.evaluations),
    framesOf(s.grids, images),
    exemplarOf(s.config),
  ])
  const name = runTitle(s)
  const done = s.metrics.iterations.at(-1)?.iteration ?? 0
  const total = get(s.config, "training", "iterations")
  const gridIterations = new Set(s.grids.map((g) => g.iteration)).size
  const reloadMs = reloadMsOf(s)
  const status = o.live
    ? `<div id="status" class="banner live">Live: iteration ${done}${typeof total === "number" ? ` of ${total}` : ""}. This page reloads itself every ${Math.round(reloadMs / 1000)} s while the run goes on.</div>`
    : endOf(s.run)?.status === "diverged"
      ? `<div id="status" class="banner problem">Diverged after iteration ${done}: ${escapeHtml(endOf(s.run)?.message ?? "")}</div>`
      : `<div id="status" class="banner done">${endOf(s.run)?.status === "stopped" ? "Stopped" : s.checkpoints.some((c) => c.name === "final") ? "Finished" : "Not running"}: ${done} iteration(s) in this report.</div>`
  const problems =
    s.problems.length > 0 ? `<div class="banner problem">${s.problems.map(escapeHtml).join("; ")}</div>` : ""
  const body = `
<h1>${escapeHtml(name)}</h1>
<div class="sub">CoopNets run report</div>
${status}
${problems}
<h2>Facts</h2>
<div class="card">${factsTable(facts(s, o.live))}</div>
<h2>Samples</h2>
${scrubber(
  frames,
  exemplar ? [["exemplar (training scale)", exemplar]] : [],
  frames.length < gridIterations
    ? `Showing ${frames.length} of the ${gridIterations} iterations with grids, evenly spaced.`
    : "",
)}
<h2>Curves</h2>
${charts.length > 0 ? chartGrid(charts) : `<p class="sub">No iteration has finished yet.</p>`}
<h2>Resolved config</h2>
<details class="card"><summary>config.json</summary><pre>${escapeHtml(JSON.stringify(s.config, null, 2))}</pre></details>
${s.run ? `<details class="card"><summary>run.json</summary><pre>${escapeHtml(JSON.stringify(s.run, null, 2))}</pre></details>` : ""}
`
  return page({ title: `${name} · coopnets report`, live: o.live, reloadMs, updated: now, body })
}
