/**
 * Charts of the report: Vega-Lite specs compiled to Vega and rendered to SVG
 * strings in Node (no canvas, no browser), to be inlined in report.html.
 *
 * Every chart records how many points each of its series has
 * (`Chart.points`): the page carries those counts so that a browser test can
 * check that every drawn line has all of its points.
 */
import * as vega from "vega"
import * as vl from "vega-lite"

export interface Series {
  readonly name: string
  /** [x, y] pairs; y null where the quantity is missing (not drawn) */
  readonly points: ReadonlyArray<readonly [number, number | null]>
  /** a dashed line (e.g. the second quantity of the same run in a comparison) */
  readonly dashed?: boolean
}

export interface LineChartSpec {
  readonly id: string
  readonly title: string
  readonly x: string
  readonly y: string
  readonly series: ReadonlyArray<Series>
  /** fixed colours by series name (others take the default scheme) */
  readonly colors?: Readonly<Record<string, string>>
  readonly logY?: boolean
}

export interface Chart {
  readonly id: string
  readonly title: string
  readonly kind: "line" | "heatmap"
  readonly svg: string
  /** points drawn per series (lines), or cells drawn (heatmaps, one entry) */
  readonly points: Readonly<Record<string, number>>
  /** set when long series were averaged over buckets to keep the page light */
  readonly note?: string
}

/** More points than this per series are averaged in buckets of consecutive iterations. */
export const MAX_POINTS = 1000

/** Bucket means of x and y over runs of `size` consecutive points; missing ys are left out of the means. */
export const thin = (
  points: ReadonlyArray<readonly [number, number | null]>,
  max = MAX_POINTS,
): { points: Array<readonly [number, number]>; bucket: number } => {
  const present = points.filter((p): p is readonly [number, number] => p[1] !== null && Number.isFinite(p[1]))
  if (present.length <= max) return { points: present, bucket: 1 }
  const bucket = Math.ceil(present.length / max)
  const out: Array<readonly [number, number]> = []
  for (let i = 0; i < present.length; i += bucket) {
    const slice = present.slice(i, i + bucket)
    out.push([
      slice.reduce((a, p) => a + p[0], 0) / slice.length,
      slice.reduce((a, p) => a + p[1], 0) / slice.length,
    ])
  }
  return { points: out, bucket }
}

/** Every chart is drawn at this size, axes and legend included (Vega-Lite autosize "fit"). */
const WIDTH = 400
const HEIGHT = 230

const baseConfig = {
  font: "system-ui, -apple-system, Segoe UI, Helvetica, Arial, sans-serif",
  view: { stroke: "#ddd" },
  axis: { labelFontSize: 10, titleFontSize: 11, gridColor: "#eee", labelLimit: 80 },
  legend: {
    labelFontSize: 10,
    titleFontSize: 10,
    orient: "bottom",
    direction: "horizontal",
    columns: 3,
    labelLimit: 160,
  },
  line: { strokeWidth: 1.5 },
}

/** Renders a Vega-Lite spec to an SVG string. */
export const renderSvg = async (spec: vl.TopLevelSpec): Promise<string> => {
  const view = new vega.View(vega.parse(vl.compile(spec).spec), { renderer: "none" })
  try {
    return await view.toSVG()
  } finally {
    view.finalize()
  }
}

const finiteYs = (series: ReadonlyArray<Series>): Array<number> =>
  series.flatMap((s) => s.points.flatMap((p) => (p[1] !== null && Number.isFinite(p[1]) ? [p[1]] : [])))

/** Axis labels: 1.2e+6 for large or tiny magnitudes, plain numbers otherwise (no SI "m" for milli). */
const axisFormat = (ys: ReadonlyArray<number>): string => {
  const max = Math.max(0, ...ys.map(Math.abs))
  return max >= 1e5 || (max > 0 && max < 1e-3) ? ".2~e" : ",~r"
}

/** y scale: not forced through zero, but with some height when every value is the same. */
const yScale = (ys: ReadonlyArray<number>, logY: boolean | undefined): Record<string, unknown> => {
  if (logY) return { type: "symlog" }
  const lo = Math.min(...ys)
  const hi = Math.max(...ys)
  if (ys.length > 0 && lo === hi) {
    const pad = lo === 0 ? 1 : Math.abs(lo) * 0.1
    return { domain: [lo - pad, hi + pad] }
  }
  return { zero: false }
}

export const lineChart = async (c: LineChartSpec): Promise<Chart> => {
  const thinned = c.series.map((s) => ({ ...s, ...thin(s.points) }))
  const ys = finiteYs(c.series)
  const values = thinned.flatMap((s) => s.points.map(([x, y]) => ({ x, y, series: s.name })))
  const bucket = Math.max(1, ...thinned.map((s) => s.bucket))
  const names = thinned.map((s) => s.name)
  const dashed = thinned.filter((s) => s.dashed).map((s) => s.name)
  const color = c.colors
    ? {
        domain: names,
        range: names.map((n, i) => c.colors?.[n] ?? (vega.scheme("tableau10") as Array<string>)[i % 10]),
      }
    : { domain: names, scheme: "tableau10" }
  const spec = {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    width: WIDTH,
    height: HEIGHT,
    autosize: { type: "fit", contains: "padding" },
    config: baseConfig,
    data: { values },
    mark: { type: "line", clip: true },
    encoding: {
      x: { field: "x", type: "quantitative", title: c.x, axis: { format: "~s", tickMinStep: 1 } },
      y: {
        field: "y",
        type: "quantitative",
        title: c.y,
        scale: yScale(ys, c.logY),
        axis: { format: axisFormat(ys) },
      },
      color: {
        field: "series",
        type: "nominal",
        title: null,
        scale: color,
        sort: names,
        // long names (runs of a comparison) in two columns, so that none is cut at the chart's edge
        ...(names.length === 1
          ? { legend: null }
          : { legend: { columns: Math.max(...names.map((n) => n.length)) > 12 ? 2 : 3 } }),
      },
      strokeDash: {
        field: "series",
        type: "nominal",
        sort: names,
        scale: { domain: names, range: names.map((n) => (dashed.includes(n) ? [5, 3] : [1, 0])) },
        title: null,
        ...(names.length === 1 ? { legend: null } : {}),
      },
      detail: { field: "series", type: "nominal" },
    },
  } as unknown as vl.TopLevelSpec
  return {
    id: c.id,
    title: c.title,
    kind: "line",
    svg: await renderSvg(spec),
    points: Object.fromEntries(thinned.map((s) => [s.name, s.points.length])),
    ...(bucket > 1 ? { note: `each point is the mean of ${bucket} consecutive values` } : {}),
  }
}

export interface HeatmapSpec {
  readonly id: string
  readonly title: string
  readonly x: string
  readonly y: string
  readonly value: string
  /** one column per x: the counts of each bin */
  readonly columns: ReadonlyArray<{ readonly x: number; readonly bins: ReadonlyArray<number> }>
}

/** Bins (rows) over iterations (columns), coloured by count: e.g. the class histogram of each evaluation. */
export const heatmap = async (h: HeatmapSpec): Promise<Chart> => {
  const values = h.columns.flatMap((c) => c.bins.map((v, bin) => ({ x: c.x, bin, v })))
  const spec = {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    width: WIDTH,
    height: HEIGHT,
    autosize: { type: "fit", contains: "padding" },
    config: baseConfig,
    data: { values },
    mark: { type: "rect" },
    encoding: {
      x: { field: "x", type: "ordinal", title: h.x },
      y: { field: "bin", type: "ordinal", title: h.y },
      color: { field: "v", type: "quantitative", title: h.value, scale: { scheme: "blues" } },
    },
  } as unknown as vl.TopLevelSpec
  return {
    id: h.id,
    title: h.title,
    kind: "heatmap",
    svg: await renderSvg(spec),
    points: { cells: values.length },
  }
}
