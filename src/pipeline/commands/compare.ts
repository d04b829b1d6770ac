/**
 * `compare` mode: trains several pipelines with one seed and one iteration
 * budget, each into `<out>/<config name>/`, then writes
 *   compare.md / compare.json   one row per run, read back from its metrics.jsonl
 *   compare.png                 each run's final grid of revised samples, side by side, labelled
 *   report.html                 the runs' curves overlaid, final grids side by side (one self-contained page)
 * Every pipeline is decoded and checked before the first one trains.
 */
import { Effect, FileSystem, Path } from "effect"
import { Argument, Command, Flag } from "effect/cli"
import sharp from "sharp"
import { loadPipeline } from "../config/pipeline-file.js"
import type { PipelineSpec } from "../config/spec.js"
import { ConfigError, OutputError } from "../errors.js"
import { claimOutputDir, runFiles } from "../run-dir/layout.js"
import { type IterationLine, readMetrics } from "../run-dir/metrics.js"
import * as WriterLayer from "../run-dir/writer.js"
import { fileJob, Writer } from "../run-dir/writer.js"
import { train } from "../training/train.js"
import { forceFlag, given, intFlag, invoke, outFlag, setFlag, UsageHint } from "./flags.js"

export const compareCommand = Command.make(
  "compare",
  {
    files: Argument.String("pipeline.json").pipe(
      Argument.withDescription("two or more pipeline files"),
      Argument.atLeast(2),
    ),
    iterations: intFlag(
      "iterations",
      1,
      "the iteration budget of every run (default: the first file's)",
    ).pipe(Flag.optional),
    seed: intFlag("seed", 0, "the seed of every run (default: the first file's)").pipe(Flag.optional),
    set: setFlag("a pipeline field applied to every run, e.g. --set training.chains=16 (repeatable)"),
    out: outFlag("the comparison directory (default runs/compare): <DIR>/<file name>/ per run"),
    force: forceFlag("replace an existing comparison directory"),
  },
  invoke((a) => ({
    kind: "compare" as const,
    files: a.files,
    overrides: a.set,
    iterations: given(a.iterations),
    seed: given(a.seed),
    outDir: given(a.out),
    force: a.force,
  })),
).pipe(
  Command.withDescription(
    "Train each pipeline with the same seed, iteration budget and --set overrides, then write compare.md and compare.json (final energies, L_D, reconstruction error, ms/iteration), compare.png (each run's final revised grid, side by side) and report.html (the runs' curves overlaid, their final grids side by side).",
  ),
  Command.annotate(
    UsageHint,
    "compare needs two or more pipeline files, e.g. `node dist/run.js compare config/mnist-quick.json config/mnist-descriptor-alone.json --iterations 60`.",
  ),
)

export interface CompareOptions {
  readonly files: ReadonlyArray<string>
  /** `--set` assignments applied to every pipeline (before the budget and the seed) */
  readonly overrides?: ReadonlyArray<string>
  /** the iteration budget of every run (default: the first pipeline's training.iterations) */
  readonly iterations: number | undefined
  /** the seed of every run (default: the first pipeline's seed) */
  readonly seed: number | undefined
  readonly outDir: string
  readonly force: boolean
  readonly quiet?: boolean
}

/** How many final iterations the table averages (metrics of one iteration are noisy). */
export const TAIL = 10

/** One row of the table: means over the last min(TAIL, iterations) iterations; null where a run has no such quantity. */
export interface RunSummary {
  readonly run: string
  readonly config: string
  readonly stages: PipelineSpec["stages"]
  readonly iterations: number
  readonly energyObserved: number | null
  readonly energyDrafted: number | null
  readonly energyRevised: number | null
  readonly descriptorLoss: number | null
  readonly reconstructionError: number | null
  /** mean wall time of an iteration, the first (kernel warm-up) excluded */
  readonly msPerIteration: number
}

const meanOf = (values: ReadonlyArray<number | null>): number | null => {
  const present = values.filter((v): v is number => v !== null && Number.isFinite(v))
  return present.length === 0 ? null : present.reduce((a, b) => a + b, 0) / present.length
}

/** The table row of one run, from the lines of its metrics.jsonl. */
export const summarize = (
  run: string,
  config: string,
  stages: PipelineSpec["stages"],
  lines: ReadonlyArray<IterationLine>,
): RunSummary => {
  const tail = lines.slice(-TAIL)
  const timed = lines.length > 1 ? lines.slice(1) : lines
  return {
    run,
    config,
    stages,
    iterations: lines.length,
    energyObserved: meanOf(tail.map((l) => l.energy.observed)),
    energyDrafted: meanOf(tail.map((l) => l.energy.drafted)),
    energyRevised: meanOf(tail.map((l) => l.energy.revised)),
    descriptorLoss: meanOf(tail.map((l) => l.descriptorLoss)),
    reconstructionError: meanOf(tail.map((l) => l.reconstructionError)),
    msPerIteration: meanOf(timed.map((l) => l.ms.iteration)) ?? 0,
  }
}

const cell = (v: number | null): string =>
  v === null
    ? "–"
    : Math.abs(v) >= 1000 || (Math.abs(v) < 0.01 && v !== 0)
      ? v.toExponential(3)
      : v.toFixed(4)

/** The Markdown table of the summaries. */
export const markdownTable = (rows: ReadonlyArray<RunSummary>): string => {
  const header =
    "| run | chains | revise | updateDescriptor | teach | E(X_obs) | E(X̃) drafted | E(X̂) revised | L_D | recon. error | ms/iteration |"
  const rule = "| --- | --- | --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |"
  const body = rows.map(
    (r) =>
      `| ${r.run} | ${r.stages.chains} | ${r.stages.revise} | ${r.stages.updateDescriptor} | ${r.stages.teach} | ${cell(r.energyObserved)} | ${cell(r.energyDrafted)} | ${cell(r.energyRevised)} | ${cell(r.descriptorLoss)} | ${cell(r.reconstructionError)} | ${Math.round(r.msPerIteration)} |`,
  )
  return `${[header, rule, ...body].join("\n")}\n`
}

const LABEL_HEIGHT = 22
const GAP = 8

const escapeXml = (s: string): string =>
  s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;")

/** Each PNG under a label, left to right on white, as one PNG. */
export const sideBySide = async (
  panels: ReadonlyArray<{ readonly label: string; readonly png: Uint8Array }>,
): Promise<Uint8Array> => {
  const sizes = await Promise.all(
    panels.map(async (p) => (await sharp(p.png).metadata()) as { width: number; height: number }),
  )
  const width = sizes.reduce((a, s) => a + s.width, 0) + GAP * (panels.length + 1)
  const height = Math.max(...sizes.map((s) => s.height)) + LABEL_HEIGHT + GAP
  let x = GAP
  const layers: Parameters<ReturnType<typeof sharp>["composite"]>[0] = []
  panels.forEach((p, i) => {
    const size = sizes[i] as { width: number; height: number }
    const label = `<svg xmlns="http://www.w3.org/2000/svg" width="${size.width}" height="${LABEL_HEIGHT}"><text x="0" y="16" font-family="sans-serif" font-size="13" fill="black">${escapeXml(p.label)}</text></svg>`
    layers.push(
      { input: Buffer.from(label), left: x, top: 0 },
      { input: Buffer.from(p.png), left: x, top: LABEL_HEIGHT },
    )
    x += size.width + GAP
  })
  return sharp({ create: { width, height, channels: 3, background: { r: 255, g: 255, b: 255 } } })
    .composite(layers)
    .removeAlpha()
    .toColourspace("b-w") // the grids are grey: one channel keeps the file small
    .png({ compressionLevel: 9 })
    .toBuffer()
}

/** The run name of a pipeline file: its base name without `.json`. */
const runName = (path: Path.Path, file: string): string => path.basename(file).replace(/\.json$/, "")

export const compare = (o: CompareOptions) =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    if (o.files.length < 2)
      return yield* new ConfigError({
        message: `compare needs at least two pipeline files, got ${o.files.length}, e.g. \`node dist/run.js compare config/mnist-quick.json config/mnist-descriptor-alone.json\`.`,
      })
    const names = o.files.map((f) => runName(path, f))
    const duplicate = names.find((n, i) => names.indexOf(n) !== i)
    if (duplicate !== undefined)
      return yield* new ConfigError({
        message: `compare writes each run to <out>/<file name>, and two files are named ${duplicate}.json; rename one.`,
      })

    // decode and check every pipeline before any training: a typo in the last file fails in a second
    const specs: Array<PipelineSpec> = []
    for (const file of o.files) {
      const first = specs[0]
      const iterations = o.iterations ?? first?.training.iterations
      const seed = o.seed ?? first?.seed
      const overrides = [
        ...(o.overrides ?? []),
        ...(iterations === undefined ? [] : [`training.iterations=${iterations}`]),
        ...(seed === undefined ? [] : [`seed=${seed}`]),
      ]
      specs.push(yield* loadPipeline(file, overrides))
    }

    yield* claimOutputDir(o.outDir, { force: o.force, onForce: "replace", what: "Comparison directory" })

    const rows: Array<RunSummary> = []
    const panels: Array<{ label: string; png: Uint8Array }> = []
    for (const [i, spec] of specs.entries()) {
      const name = names[i] as string
      const file = o.files[i] as string
      const runDir = path.join(o.outDir, name)
      yield* train(spec, { source: file, outDir: runDir, force: false, quiet: o.quiet ?? false })
      const files = runFiles(runDir, path)
      const { iterations } = yield* readMetrics(files.metrics)
      rows.push(summarize(name, file, spec.stages, iterations))
      const grid = files.grid("revised", spec.training.iterations)
      const png = yield* fs
        .readFile(grid)
        .pipe(Effect.mapError((e) => new OutputError({ message: `Cannot read ${grid}: ${e.message}` })))
      panels.push({ label: name, png })
    }

    const writer = yield* Writer
    const at = (file: string) => path.join(o.outDir, file)
    const budget = { iterations: specs[0]?.training.iterations, seed: specs[0]?.seed, tail: TAIL }
    yield* writer.submit(
      fileJob(at("compare.json"), () =>
        new TextEncoder().encode(`${JSON.stringify({ ...budget, runs: rows }, null, 2)}\n`),
      ),
    )
    const table = markdownTable(rows)
    yield* writer.submit(
      fileJob(at("compare.md"), () =>
        new TextEncoder().encode(
          `${specs[0]?.training.iterations} iterations per run, seed ${specs[0]?.seed}; energies, L_D and reconstruction error are means over the last ${TAIL} iterations.\n\n${table}`,
        ),
      ),
    )
    yield* writer.submit(fileJob(at("compare.png"), () => sideBySide(panels)))
    // the runs' curves overlaid and their final grids side by side (../report/comparison-report.ts)
    const runDirs = names.map((name) => path.join(o.outDir, name))
    yield* writer.submit(
      fileJob(at("report.html"), async () => {
        // the charting libraries load only here, not at every start of the CLI
        const { buildComparisonReport } = await import("../report/comparison-report.js")
        return new TextEncoder().encode(await buildComparisonReport(runDirs))
      }),
    )
    yield* writer.flush
    return { outDir: o.outDir, rows, table }
  }).pipe(Effect.provide(WriterLayer.layer(4)))

export type CompareInvocation = Omit<CompareOptions, "outDir"> & {
  readonly kind: "compare"
  /** default runs/compare */
  readonly outDir: string | undefined
}
