/**
 * From a sweep file to its plan on disk, every run checked before anything starts:
 *
 * 1. decode and check the sweep file (sweep-spec.ts);
 * 2. expand it into runs with stable ids (expand.ts);
 * 3. decode and check each run's pipeline — the base file with the run's `--set` overrides — with
 *    the pipeline's own decoding; the problems of every run are reported together, each under the
 *    run's id (a bad grid field shows once, with the runs it spoils);
 * 4. compare each run directory already on disk with its resolved pipeline: a run made from
 *    another base or other overrides is refused rather than resumed;
 * 5. write `sweep/plan.json` and `sweep/pipelines/<id>.json` (atomically).
 */
import { Effect, FileSystem, Path } from "effect"
import { checkSpec } from "../config/checks.js"
import { decodeSpec, decodeStoredSpec, type PipelineSpec } from "../config/spec.js"
import { ConfigError, OutputError } from "../errors.js"
import { writeAtomic } from "../run-dir/writer.js"
import { canonicalJson, expandSweep, type PlannedRun } from "./expand.js"
import { type SweepLayout, sweepLayout } from "./layout.js"
import { decodeSweep, type SweepSpec } from "./sweep-spec.js"

export const PLAN_FORMAT = "coopnets-sweep-plan/1"

export interface PlanRun extends PlannedRun {
  /** the run's planned iteration count */
  readonly iterations: number
}

export interface Plan {
  readonly format: typeof PLAN_FORMAT
  readonly sweep: string
  /** the sweep file and the base pipeline file, as given */
  readonly source: string
  readonly base: string
  readonly spec: SweepSpec
  readonly runs: ReadonlyArray<PlanRun>
}

export interface ResolvedSweep {
  readonly plan: Plan
  readonly layout: SweepLayout
  readonly pipelines: ReadonlyMap<string, PipelineSpec>
}

const readText = (file: string, what: string) =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    return yield* fs
      .readFileString(file)
      .pipe(
        Effect.mapError(
          () => new ConfigError({ message: `Cannot read ${what} ${file}: no such file or not readable.` }),
        ),
      )
  })

/** Groups identical problem lines: "<problem> (runs a, b, c)". */
const grouped = (problems: ReadonlyArray<readonly [string, string]>): Array<string> => {
  const byLine = new Map<string, Array<string>>()
  for (const [id, line] of problems) byLine.set(line, [...(byLine.get(line) ?? []), id])
  return [...byLine].map(([line, ids]) =>
    ids.length === 1
      ? `${line} (run ${ids[0]})`
      : `${line} (${ids.length} runs: ${ids.slice(0, 3).join(", ")}${ids.length > 3 ? ", …" : ""})`,
  )
}

/** The problem lines of a pipeline ConfigError ("  - field: …"), or its whole message. */
const problemLines = (message: string): Array<string> => {
  const lines = message.split("\n").filter((l) => l.startsWith("  - "))
  return lines.length > 0 ? lines.map((l) => l.slice(4)) : [message.replace(/^[^:]*: /, "")]
}

/**
 * Decodes the sweep file, expands it, and resolves every run's pipeline. The sweep's directory is
 * `outDir`, by default `runs/<name>`.
 */
export const resolveSweep = (sweepFile: string, outDir?: string) =>
  Effect.gen(function* () {
    const path = yield* Path.Path
    const spec = yield* decodeSweep(yield* readText(sweepFile, "sweep file"), sweepFile)
    const expanded = expandSweep(spec)
    if ("duplicate" in expanded)
      return yield* new ConfigError({
        message: `${sweepFile}: ${expanded.duplicate}. Fix the sweep file and run again.`,
      })
    const base = path.isAbsolute(spec.base) ? spec.base : path.join(path.dirname(sweepFile), spec.base)
    const baseText = yield* readText(base, `base pipeline (${sweepFile}: base)`)
    const pipelines = new Map<string, PipelineSpec>()
    const problems: Array<readonly [string, string]> = []
    const runs: Array<PlanRun> = []
    for (const run of expanded.runs) {
      const decoded = yield* decodeSpec(baseText, base, run.overrides).pipe(
        Effect.flatMap((s) => checkSpec(s, base)),
        Effect.result,
      )
      if (decoded._tag === "Failure") {
        for (const line of problemLines(decoded.failure.message)) problems.push([run.id, line])
        continue
      }
      pipelines.set(run.id, decoded.success)
      runs.push({ ...run, iterations: decoded.success.training.iterations })
    }
    if (problems.length > 0) {
      const lines = grouped(problems)
      return yield* new ConfigError({
        message: `${sweepFile}: ${lines.length} problem${lines.length === 1 ? "" : "s"} in the runs it expands to (base ${base} with each run's overrides)\n${lines.map((l) => `  - ${l}`).join("\n")}\nNothing was started. Fix the sweep file (set, variants, grid) or the base pipeline and run again.`,
      })
    }
    const layout = sweepLayout(path.resolve(outDir ?? path.join("runs", spec.name)))
    const plan: Plan = { format: PLAN_FORMAT, sweep: spec.name, source: sweepFile, base, spec, runs }
    return { plan, layout, pipelines } satisfies ResolvedSweep
  })

/**
 * Refuses run directories whose config.json is not the run's resolved pipeline (the base file or
 * the sweep changed since they were started): resuming them would continue another run.
 */
export const checkExistingRuns = (resolved: ResolvedSweep) =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const stale: Array<string> = []
    for (const run of resolved.plan.runs) {
      const file = path.join(resolved.layout.runDir(run.id), "config.json")
      const text = yield* fs.readFileString(file).pipe(Effect.orElseSucceed(() => undefined))
      if (text === undefined) continue
      let parsed: unknown
      try {
        parsed = JSON.parse(text)
      } catch {
        parsed = undefined
      }
      // decoded, so that fields added since with their defaults compare equal; notes are for people
      const existing = yield* decodeStoredSpec(parsed).pipe(Effect.option)
      const wanted = resolved.pipelines.get(run.id)
      if (
        existing._tag === "None" ||
        wanted === undefined ||
        canonicalJson({ ...existing.value, notes: "" }) !== canonicalJson({ ...wanted, notes: "" })
      )
        stale.push(file)
    }
    if (stale.length > 0)
      return yield* new ConfigError({
        message: `${resolved.plan.source}: ${stale.length} run director${stale.length === 1 ? "y was" : "ies were"} made from a different pipeline than the sweep now gives (the base file or the sweep changed since):\n${stale.map((f) => `  - ${f}`).join("\n")}\nNothing was started. Restore the base file, or move those run directories away to run them again.`,
      })
  })

/** Writes sweep/plan.json and sweep/pipelines/<id>.json. */
export const writePlan = (resolved: ResolvedSweep) =>
  Effect.gen(function* () {
    const encode = (value: unknown) => new TextEncoder().encode(`${JSON.stringify(value, null, 2)}\n`)
    for (const [id, pipeline] of resolved.pipelines)
      yield* writeAtomic(resolved.layout.pipeline(id), encode(pipeline))
    yield* writeAtomic(resolved.layout.plan, encode(resolved.plan))
  })

/** Reads a plan back: `location` is a sweep directory (runs/<sweep>) or its sweep/plan.json. */
export const readPlan = (location: string) =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const file = location.endsWith(".json") ? location : path.join(location, "sweep", "plan.json")
    const text = yield* fs.readFileString(file).pipe(
      Effect.mapError(
        () =>
          new OutputError({
            message: `Cannot read ${file}: not a sweep directory (runs/<sweep>), or the sweep was never started. Pass the sweep file or its directory.`,
          }),
      ),
    )
    let plan: Plan
    try {
      plan = JSON.parse(text) as Plan
    } catch (e) {
      return yield* new OutputError({ message: `${file} is not valid JSON (${(e as Error).message}).` })
    }
    if (plan.format !== PLAN_FORMAT)
      return yield* new OutputError({
        message: `${file} is not a sweep plan of this version (format ${JSON.stringify(plan.format)}).`,
      })
    const root = path.dirname(path.dirname(path.resolve(file)))
    return { plan, layout: sweepLayout(root) }
  })
