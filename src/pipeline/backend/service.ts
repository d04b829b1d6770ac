/** Backend selection as an Effect: logs what it got and why, fails with a BackendError when a named backend cannot load. */
import { Effect } from "effect"
import { BackendError } from "../errors.js"
import { type BackendChoice, type BackendReport, BackendUnavailable, selectBackend } from "./select.js"

export const describeBackend = (report: BackendReport): string => {
  const others = report.attempts.filter((a) => a.name !== report.name && !a.ok)
  return `backend ${report.name}${others.length > 0 ? ` (${others.map((a) => `${a.name}: ${a.reason}`).join("; ")})` : ""}`
}

export const useBackend = (
  choice: BackendChoice,
  log: (line: string) => void = (line) => process.stderr.write(`${line}\n`),
): Effect.Effect<BackendReport, BackendError> =>
  Effect.tryPromise({
    try: () => selectBackend(choice),
    catch: (e) =>
      new BackendError({
        message:
          e instanceof BackendUnavailable
            ? e.message
            : `Backend "${choice}" failed to start: ${String(e)}. Try backend "auto" or "cpu".`,
      }),
  }).pipe(Effect.tap((report) => Effect.sync(() => log(describeBackend(report)))))
