/** What the report worker is asked to do, and doing it (in the worker, or in this thread as a fallback). */
import { RunReporter, type Written, writeComparisonReport } from "./report.js"

export type ReportRequest =
  | { readonly kind: "run"; readonly dir: string; readonly live: boolean }
  | { readonly kind: "comparison"; readonly dirs: ReadonlyArray<string>; readonly file: string }

/** One reporter per run directory, so that rewrites read only what is new. */
const reporters = new Map<string, RunReporter>()

export const handle = (request: ReportRequest): Promise<Written> => {
  if (request.kind === "comparison") return writeComparisonReport(request.dirs, request.file)
  let reporter = reporters.get(request.dir)
  if (reporter === undefined) {
    reporter = new RunReporter(request.dir)
    reporters.set(request.dir, reporter)
  }
  return reporter.write(request.live)
}
