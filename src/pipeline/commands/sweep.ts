/**
 * `sweep`: the runs of a sweep file, on this machine or as a SLURM job array; `sweep status` and
 * `sweep collect` read a sweep's directory. The machinery is in src/pipeline/sweep/; this module
 * declares the commands and runs them.
 */
import { availableParallelism, hostname } from "node:os"
import { fileURLToPath } from "node:url"
import { Effect, FileSystem, Path, SchemaAST } from "effect"
import { Argument, Command, Flag } from "effect/cli"
import { type FieldDoc, fieldDocs } from "../config/schema-fields.js"
import { OutputError, UsageError } from "../errors.js"
import { runFiles } from "../run-dir/layout.js"
import { writeAtomic } from "../run-dir/writer.js"
import { collectRuns, markdownTables } from "../sweep/collect.js"
import { defaultParallel, runLocal, stepArgs } from "../sweep/local.js"
import { checkExistingRuns, type Plan, readPlan, resolveSweep, writePlan } from "../sweep/plan.js"
import { nextStep, type RunState, readRunState } from "../sweep/run-state.js"
import { queuedInSlurm, type Submission, sbatchScript, submit } from "../sweep/slurm.js"
import { decodeSweep, evaluateArgs, SweepFile } from "../sweep/sweep-spec.js"
import { sideBySide } from "./compare.js"
import { choiceFlag, given, intFlag, invoke, outFlag, UsageHint } from "./flags.js"

export type SweepInvocation =
  | {
      readonly kind: "sweep"
      readonly file: string
      readonly engine: "local" | "slurm"
      readonly parallel: number | undefined
      readonly dryRun: boolean
      readonly outDir: string | undefined
    }
  | { readonly kind: "sweep-status"; readonly location: string; readonly json: boolean }
  | { readonly kind: "sweep-collect"; readonly location: string }

const location = Argument.String("sweep-dir|sweep.json").pipe(
  Argument.withDescription("the sweep's directory (runs/<name>, or --out of the sweep) or its sweep file"),
)

export const sweepStatusCommand = Command.make(
  "status",
  {
    location,
    json: Flag.Boolean("json").pipe(
      Flag.withDescription("one JSON array (id, status, iterations, checkpoint, detail, attempt)"),
      Flag.withDefault(false),
    ),
  },
  invoke((a) => ({ kind: "sweep-status" as const, location: a.location, json: a.json })),
).pipe(
  Command.withDescription(
    "Each run of a sweep: done, running, failed (exit code and error) or pending (not started, or stopped at a checkpoint it resumes from), read from the run directories and sweep/state; works from any host and after the sweep command has gone.",
  ),
  Command.annotate(
    UsageHint,
    "sweep status needs the sweep's directory, e.g. `node dist/run.js sweep status runs/sweep-ablations`.",
  ),
)

export const sweepCollectCommand = Command.make(
  "collect",
  { location },
  invoke((a) => ({ kind: "sweep-collect" as const, location: a.location })),
).pipe(
  Command.withDescription(
    "One table of a sweep's runs — per variant and grid point the mean ± sd over its seeds of FD, IS, class entropy, L_D, reconstruction error and ms/iteration, then per run its status, energies and losses (means of the last 10 iterations), median ms/iteration and sample quality (from `evaluate` or the training loop's evaluation) — printed and written to sweep/collect.md and collect.json, with collect.png: each configuration's final grid of revised samples, side by side.",
  ),
  Command.annotate(
    UsageHint,
    "sweep collect needs the sweep's directory, e.g. `node dist/run.js sweep collect runs/sweep-ablations`.",
  ),
)

export const sweepCommand = Command.make(
  "sweep",
  {
    file: Argument.String("sweep.json").pipe(
      Argument.withDescription("the sweep file (see config/sweep-ablations.json)"),
      Argument.optional,
    ),
    engine: choiceFlag(
      "engine",
      ["local", "slurm"] as const,
      "local: child processes on this machine; slurm: one sbatch job array (default local)",
      (raw) => `--engine must be "local" or "slurm", got "${raw}".`,
    ).pipe(Flag.withDefault("local" as const)),
    parallel: intFlag(
      "parallel",
      1,
      "local engine: at most N runs at once (default: the cores divided by resources.cpus)",
    ).pipe(Flag.optional),
    dryRun: Flag.Boolean("dry-run").pipe(
      Flag.withDescription("print what would run (slurm: the job-array script) and write nothing"),
      Flag.withDefault(false),
    ),
    out: outFlag(
      "the sweep's directory (default runs/<name>): <DIR>/<run id>/ per run, <DIR>/sweep/ its own files",
    ),
  },
  (a) =>
    a.file._tag === "None"
      ? Effect.fail(
          new UsageError({
            message:
              "sweep needs a sweep file, e.g. `node dist/run.js sweep config/sweep-ablations.json`; `sweep status DIR` and `sweep collect DIR` read a sweep's directory.",
          }),
        )
      : invoke(() => ({
          kind: "sweep" as const,
          file: a.file._tag === "Some" ? a.file.value : "",
          engine: a.engine,
          parallel: given(a.parallel),
          dryRun: a.dryRun,
          outDir: given(a.out),
        }))(a),
).pipe(
  Command.withDescription(
    "Run every variant × grid point × seed of a sweep file, each as an ordinary run directory <DIR>/<run id>/; every run's pipeline is decoded and checked before anything starts. A run already done is skipped and one with a run directory is resumed from its newest checkpoint, so running the sweep again after a stop, a crash or a cancelled job carries on. Exit code 1 if a run failed. Sweep file fields: see --help.",
  ),
  Command.annotate(
    UsageHint,
    "sweep needs one sweep file, e.g. `node dist/run.js sweep config/sweep-ablations.json`.",
  ),
  Command.withSubcommands([sweepStatusCommand, sweepCollectCommand]),
)

/** The sweep's earlier SLURM submissions (sweep/slurm/jobs.jsonl). */
const submissions = (layout: { readonly slurm: string }) =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const text = yield* fs.readFileString(`${layout.slurm}/jobs.jsonl`).pipe(Effect.orElseSucceed(() => ""))
    return text
      .split("\n")
      .filter((l) => l.trim() !== "")
      .flatMap((l) => {
        try {
          return [JSON.parse(l) as Submission]
        } catch {
          return []
        }
      })
  })

/** dist/run.js, the entry point every run is started with. */
const runJs = (): string => fileURLToPath(new URL("../../run.js", import.meta.url))

const say = (line: string) => process.stderr.write(`${line}\n`)

/**
 * The runs worth launching now — not done, not running on this host (a live pid) — seed by seed:
 * every configuration's first seed before any second one, so that a sweep cut short still covers
 * every variant and grid point.
 */
const toLaunch = (plan: Plan, states: ReadonlyArray<RunState>, queued: ReadonlySet<string>) => {
  const seeds = plan.spec.seeds ?? []
  const rank = (seed: number | undefined) => (seed === undefined ? 0 : seeds.indexOf(seed))
  return launchable(plan, states, queued).sort((a, b) => rank(a.seed) - rank(b.seed) || a.index - b.index)
}

const launchable = (plan: Plan, states: ReadonlyArray<RunState>, queued: ReadonlySet<string>) =>
  plan.runs.filter((_, i) => {
    const s = states[i] as RunState
    if (s.status === "done") return false
    if (queued.has(s.id)) {
      say(`[${s.id}] is queued in SLURM (a task of an earlier submission); left alone`)
      return false
    }
    if (s.status === "running") {
      say(`[${s.id}] is running (${s.detail}); left alone`)
      return false
    }
    return true
  })

const runSweepFile = (o: Extract<SweepInvocation, { kind: "sweep" }>) =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const resolved = yield* resolveSweep(o.file, o.outDir)
    yield* checkExistingRuns(resolved)
    const { plan, layout } = resolved
    const states = yield* Effect.forEach(plan.runs, (r) =>
      readRunState(layout, r.id, r.iterations, plan.spec.evaluate !== undefined),
    )
    const launch = toLaunch(plan, states, yield* queuedInSlurm(yield* submissions(layout)))
    const resources = plan.spec.resources
    if (o.engine === "slurm") {
      const script = sbatchScript({
        sweep: plan.sweep,
        source: o.file,
        layout,
        ids: launch.map((r) => r.id),
        resources,
        node: process.execPath,
        runJs: runJs(),
        cwd: process.cwd(),
        evaluate: plan.spec.evaluate === undefined ? undefined : evaluateArgs(plan.spec.evaluate),
      })
      if (o.dryRun) return yield* Effect.sync(() => process.stdout.write(script))
      if (launch.length === 0)
        return yield* Effect.sync(() => say(`Every run of ${plan.sweep} is done or running.`))
      yield* writePlan(resolved)
      const file = `${layout.slurm}/array.sbatch`
      yield* writeAtomic(file, new TextEncoder().encode(script))
      const job = yield* submit(file)
      const record = {
        job,
        ids: launch.map((r) => r.id),
        submitted: new Date().toISOString(),
        host: hostname(),
      }
      const jobs = `${layout.slurm}/jobs.jsonl`
      const before = yield* fs.readFileString(jobs).pipe(Effect.orElseSucceed(() => ""))
      yield* writeAtomic(jobs, new TextEncoder().encode(`${before}${JSON.stringify(record)}\n`))
      return yield* Effect.sync(() =>
        process.stdout.write(
          `Submitted SLURM array job ${job}: ${launch.length} of ${plan.runs.length} runs (${file}). Follow it with \`squeue -j ${job}\` and \`node dist/run.js sweep status ${layout.root}\`.\n`,
        ),
      )
    }
    const parallel = o.parallel ?? defaultParallel(resources.cpus)
    if (o.dryRun) {
      const lines: Array<string> = []
      for (const run of launch) {
        const step = yield* nextStep(layout.runDir(run.id))
        lines.push(
          step === "done"
            ? `${run.id}: done`
            : `${run.id}: node ${runJs()} ${stepArgs(layout, run.id, step).join(" ")}`,
        )
      }
      return yield* Effect.sync(() =>
        process.stdout.write(
          `${lines.join("\n")}\n(${parallel} at once, TF_NUM_INTRAOP_THREADS=${resources.cpus}; nothing was started)\n`,
        ),
      )
    }
    yield* writePlan(resolved)
    say(
      `Sweep ${plan.sweep}: ${plan.runs.length} runs, ${plan.runs.length - launch.length} already done or running; ${launch.length} to run, ${parallel} at once (${availableParallelism()} cores, ${resources.cpus} per run). Directory ${layout.root}.`,
    )
    const outcomes = yield* runLocal({
      layout,
      ids: launch.map((r) => r.id),
      parallel,
      cpus: resources.cpus,
      node: process.execPath,
      runJs: runJs(),
      cwd: process.cwd(),
      say,
      evaluate: plan.spec.evaluate === undefined ? undefined : evaluateArgs(plan.spec.evaluate),
    }).pipe(
      Effect.onInterrupt(() =>
        Effect.sync(() =>
          say(
            `Sweep ${plan.sweep} stopped: every run it had started wrote a checkpoint. Run the same command again to resume them.`,
          ),
        ),
      ),
    )
    const failed = outcomes.filter((r) => r.exitCode !== 0)
    say(
      `Sweep ${plan.sweep}: ${outcomes.length - failed.length} of ${outcomes.length} runs ended well${failed.length === 0 ? "" : `; failed: ${failed.map((f) => `${f.id} (exit ${f.exitCode})`).join(", ")} — see \`node dist/run.js sweep status ${layout.root}\``}.`,
    )
    if (failed.length > 0) process.exitCode = 1
  })

/** The plan of a sweep directory, or of the directory a sweep file runs into. */
const planAt = (where: string) =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const info = yield* fs
      .stat(where)
      .pipe(
        Effect.mapError(
          () => new OutputError({ message: `No such sweep directory or sweep file: ${where}.` }),
        ),
      )
    if (info.type === "Directory" || path.basename(where) === "plan.json") return yield* readPlan(where)
    const text = yield* fs
      .readFileString(where)
      .pipe(Effect.mapError((e) => new OutputError({ message: `Cannot read ${where}: ${e.message}` })))
    const sweep = yield* decodeSweep(text, where)
    return yield* readPlan(path.join("runs", sweep.name))
  })

const padded = (rows: ReadonlyArray<ReadonlyArray<string>>): string => {
  const widths = rows[0]?.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? "").length))) ?? []
  return rows
    .map((r) => r.map((cell, c) => (c === r.length - 1 ? cell : cell.padEnd(widths[c] ?? 0))).join("  "))
    .join("\n")
}

export const sweepStatus = (location: string, json: boolean) =>
  Effect.gen(function* () {
    const { plan, layout } = yield* planAt(location)
    const states = yield* Effect.forEach(plan.runs, (r) =>
      readRunState(layout, r.id, r.iterations, plan.spec.evaluate !== undefined),
    )
    const queued = yield* queuedInSlurm(yield* submissions(layout))
    const shown = states.map((st) =>
      st.status === "pending" && queued.has(st.id) ? { ...st, detail: `${st.detail}; queued in SLURM` } : st,
    )
    if (json) return yield* Effect.sync(() => process.stdout.write(`${JSON.stringify(shown, null, 2)}\n`))
    const count = (s: RunState["status"]) => states.filter((x) => x.status === s).length
    const table = padded([["run", "status", "detail"], ...shown.map((s) => [s.id, s.status, s.detail])])
    return yield* Effect.sync(() =>
      process.stdout.write(
        `${table}\n${plan.runs.length} runs: ${count("done")} done, ${count("running")} running, ${count("failed")} failed, ${count("pending")} pending (${layout.root})\n`,
      ),
    )
  })

export const sweepCollect = (location: string) =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const { plan, layout } = yield* planAt(location)
    const { rows, groups } = yield* collectRuns(plan, layout)
    const md = markdownTables(rows, groups)
    const encode = (s: string) => new TextEncoder().encode(s)
    const header = `Sweep ${plan.sweep} (${plan.source}, base ${plan.base}): ${plan.runs.length} runs. Energies and losses: means of each run's last 10 iterations; ms/it: median; FD/IS: mean ± sample sd over the seeds that are done.\n\n`
    yield* writeAtomic(`${layout.root}/sweep/collect.md`, encode(`${header}${md}`))
    yield* writeAtomic(
      `${layout.root}/sweep/collect.json`,
      encode(
        `${JSON.stringify({ sweep: plan.sweep, source: plan.source, base: plan.base, groups, runs: rows }, null, 2)}\n`,
      ),
    )
    // each configuration's final revised grid (its first finished seed), side by side
    const panels: Array<{ label: string; png: Uint8Array }> = []
    for (const group of groups) {
      const row = rows.find(
        (r) => r.status === "done" && r.variant === group.variant && r.point === group.point,
      )
      if (row === undefined) continue
      const grid = runFiles(layout.runDir(row.id), path).grid("revised", row.iterations)
      const png = yield* fs.readFile(grid).pipe(Effect.orElseSucceed(() => undefined))
      if (png !== undefined)
        panels.push({ label: `${row.variant ?? row.id} (seed ${row.seed ?? "base"})`, png })
    }
    if (panels.length > 0) {
      const image = yield* Effect.promise(() => sideBySide(panels))
      yield* writeAtomic(`${layout.root}/sweep/collect.png`, image)
    }
    return yield* Effect.sync(() => {
      process.stdout.write(md)
      say(
        `Wrote collect.md, collect.json${panels.length > 0 ? " and collect.png (each configuration's final revised grid)" : ""} to ${layout.root}/sweep.`,
      )
    })
  })

export const runSweep = (o: SweepInvocation) =>
  o.kind === "sweep"
    ? runSweepFile(o)
    : o.kind === "sweep-status"
      ? sweepStatus(o.location, o.json)
      : sweepCollect(o.location)

const fieldLine = (path: string, value: string, description: string): string =>
  `  ${path.padEnd(34)} ${value.padEnd(18)} ${description}`

/** The sweep file's fields for `--help`, read off its schema (records — set, variants, grid — as one line each). */
export const sweepFieldsHelp = (): string => {
  const lines =
    SweepFile.ast._tag !== "Objects"
      ? []
      : SweepFile.ast.propertySignatures.flatMap((p) => {
          const name = String(p.name)
          const docs = fieldDocs(p.type, name)
          if (docs.length > 0)
            return docs.map((f: FieldDoc) =>
              fieldLine(
                f.path,
                f.default === undefined ? "(optional)" : JSON.stringify(f.default),
                f.description,
              ),
            )
          const annotations = SchemaAST.resolve(p.type) ?? {}
          const value =
            "default" in annotations
              ? JSON.stringify(annotations.default)
              : name === "base"
                ? "(required)"
                : "(optional)"
          return [fieldLine(name, value, String(annotations.description ?? ""))]
        })
  return [
    "Sweep file fields (node dist/run.js sweep <sweep.json>; see config/sweep-ablations.json)",
    ...lines,
  ].join("\n")
}
