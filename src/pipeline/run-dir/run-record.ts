/**
 * run.json, the record of a run: where it came from, the backend and why,
 * versions, when it started; every `--resume` (when, from which iteration);
 * and how it ended (finished, stopped by a signal, diverged), written when it
 * ends. Rewritten atomically each time; the report shows it.
 */
import { Effect, FileSystem } from "effect"
import type { BackendReport } from "../backend/select.js"
import { fileJob, type WriteJob } from "./writer.js"

export interface RunEnd {
  readonly at: string
  readonly status: "finished" | "stopped" | "diverged"
  /** iterations completed */
  readonly iterations: number
  readonly signal?: string
  readonly message?: string
}

export interface RunRecord {
  readonly source: string
  readonly backend: BackendReport
  readonly tfjs: string
  readonly node: string
  readonly started: string
  /** each `--resume`: when, from which iteration, on which backend */
  readonly resumed?: ReadonlyArray<{ readonly at: string; readonly from: number; readonly backend: string }>
  readonly ended?: RunEnd
}

/** The record of a run starting now. */
export const startRecord = (source: string, backend: BackendReport, tfjs: string): RunRecord => ({
  source,
  backend,
  tfjs,
  node: process.version,
  started: new Date().toISOString(),
})

/**
 * The record of a run resumed now from iteration `from`: the one on disk with
 * this resume added (and its earlier end removed); a missing or damaged
 * run.json is started afresh rather than stopping the resume.
 */
export const resumedRecord = (
  file: string,
  from: number,
  fresh: RunRecord,
): Effect.Effect<RunRecord, never, FileSystem.FileSystem> =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const text = yield* fs.readFileString(file).pipe(Effect.orElseSucceed(() => ""))
    let stored: RunRecord = fresh
    try {
      const parsed = JSON.parse(text) as RunRecord
      if (typeof parsed === "object" && parsed !== null && typeof parsed.started === "string") stored = parsed
    } catch {}
    const { ended: _, ...rest } = stored
    return {
      ...rest,
      resumed: [
        ...(stored.resumed ?? []),
        { at: new Date().toISOString(), from, backend: fresh.backend.name },
      ],
    }
  })

export const endedRecord = (record: RunRecord, end: Omit<RunEnd, "at">): RunRecord => ({
  ...record,
  ended: { at: new Date().toISOString(), ...end },
})

export const recordJob = (file: string, record: RunRecord): WriteJob =>
  fileJob(file, () => new TextEncoder().encode(`${JSON.stringify(record, null, 2)}\n`))
