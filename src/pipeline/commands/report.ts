/**
 * `report <run-dir>…`: with one run directory, rebuilds its report.html from
 * its files (and writes its TensorBoard log if it has none: runs made before
 * event files); with several, writes their comparison report (curves
 * overlaid, final grids side by side) to --out FILE, by default
 * comparison.html in the directory that holds them all.
 */
import { join } from "node:path"
import { Effect, FileSystem } from "effect"
import { Argument, Command, Flag } from "effect/cli"
import { OutputError, UsageError } from "../errors.js"
import { commonParent } from "../report/run-labels.js"
import { writeTensorBoardOfRun } from "../report/tensorboard/run-log.js"
import { given, invoke, UsageHint } from "./flags.js"

export const reportCommand = Command.make(
  "report",
  {
    dirs: Argument.String("run-dir").pipe(
      Argument.withDescription(
        "a run directory (rebuilds its report.html), or several (writes their comparison)",
      ),
      Argument.atLeast(1),
    ),
    out: Flag.String("out").pipe(
      Flag.withDescription(
        "several runs: the comparison report's file (default <their parent>/comparison.html)",
      ),
      Flag.withMetavar("FILE"),
      Flag.optional,
    ),
  },
  invoke((a) => ({ kind: "report" as const, dirs: a.dirs, out: given(a.out) })),
).pipe(
  Command.withDescription(
    "Rebuild a run's report.html from its files (and its TensorBoard log if it has none), or with several run directories write one comparison report: their curves overlaid, final grids side by side.",
  ),
  Command.annotate(
    UsageHint,
    "report needs one or more run directories, e.g. `node dist/run.js report runs/mnist-quick` or `node dist/run.js report runs/a runs/b --out runs/a-vs-b.html`.",
  ),
)

export interface ReportInvocation {
  readonly kind: "report"
  readonly dirs: ReadonlyArray<string>
  readonly out: string | undefined
}

const failed = (what: string) => (e: unknown) =>
  new OutputError({
    message: `Cannot write ${what}: ${e instanceof Error ? e.message : String(e)}. Check free disk space and permissions.`,
  })

/** Writes the report(s); returns what was written, in words. */
export const report = (o: ReportInvocation) =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    // the charting libraries load only for this command, not at every start of the CLI
    const { RunReporter, writeComparisonReport } = yield* Effect.promise(() => import("../report/report.js"))
    for (const dir of o.dirs) {
      const isRun = yield* fs.exists(join(dir, "config.json")).pipe(Effect.orElseSucceed(() => false))
      if (!isRun)
        return yield* new OutputError({
          message: `${dir} is not a run directory (it has no config.json). Pass directories that training wrote, e.g. runs/mnist-quick.`,
        })
    }
    if (o.dirs.length === 1) {
      const dir = o.dirs[0] as string
      if (o.out !== undefined)
        return yield* new UsageError({
          message: `--out names the comparison report of several runs; one run's report is always ${join(dir, "report.html")}.`,
        })
      const written = yield* Effect.tryPromise({
        try: () => new RunReporter(dir).write(false),
        catch: failed(join(dir, "report.html")),
      })
      const log = yield* Effect.tryPromise({
        try: () => writeTensorBoardOfRun(dir),
        catch: failed(join(dir, "tensorboard")),
      })
      return [`Wrote ${written.file}`, ...(log === null ? [] : [`and its TensorBoard log ${log}`])].join(" ")
    }
    const file = o.out ?? join(commonParent(o.dirs), "comparison.html")
    const written = yield* Effect.tryPromise({
      try: () => writeComparisonReport(o.dirs, file),
      catch: failed(file),
    })
    return `Wrote the comparison of ${o.dirs.length} runs to ${written.file}`
  })
