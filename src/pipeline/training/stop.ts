/**
 * Graceful stop: the first SIGINT or SIGTERM while training asks the
 * scheduler to finish the current iteration, write a checkpoint and return;
 * a second one (or one outside training) interrupts at once, as usual.
 * `runMain` is `NodeRuntime.runMain` with that signal handling.
 */
import { Context, type Effect, Runtime } from "effect"
import { type Observed, release } from "../../stages/records.js"

export interface StopShape {
  /** the signal that asked for a stop, if one did */
  readonly requested: () => string | undefined
  /** while on, a signal sets `requested` instead of interrupting */
  readonly listen: (on: boolean) => void
}

/** Never stops (the default outside the command line, e.g. in tests). */
export const StopRequest = Context.Reference<StopShape>("coopnets/StopRequest", {
  defaultValue: () => ({ requested: () => undefined, listen: () => {} }),
})

let requested: string | undefined
let listening = false

/** The process's signals as a `StopRequest`. */
export const processStop: StopShape = {
  requested: () => requested,
  listen: (on) => {
    listening = on
  },
}

/** Exit codes after a graceful stop: 128 + the signal number, as a shell reports it. */
export const signalExitCode = (signal: string): number => (signal === "SIGTERM" ? 143 : 130)

export const runMain: <E, A>(effect: Effect.Effect<A, E>) => void = Runtime.makeRunMain(
  ({ fiber, teardown }) => {
    const onSignal = (signal: NodeJS.Signals) => {
      if (listening && requested === undefined) {
        requested = signal
        process.stderr.write(
          `\n${signal}: finishing the current iteration, then writing a checkpoint (send it again to stop at once).\n`,
        )
        return
      }
      requested ??= signal
      fiber.interruptUnsafe(fiber.id)
    }
    fiber.addObserver((exit) => {
      process.removeListener("SIGINT", onSignal)
      process.removeListener("SIGTERM", onSignal)
      teardown(exit, (code) => {
        const final = code !== 0 ? code : Number(process.exitCode ?? 0)
        if (requested !== undefined || code !== 0) process.exit(final)
      })
    })
    process.on("SIGINT", onSignal)
    process.on("SIGTERM", onSignal)
  },
)

/** A `Stream.takeWhile` predicate: passes records until a stop is requested, releasing the first one it holds back. */
export const untilStopped =
  (stop: StopShape) =>
  (record: Observed): boolean => {
    if (stop.requested() === undefined) return true
    release(record)
    return false
  }
