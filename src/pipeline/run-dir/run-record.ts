/**
 * run.json, the record of a run: where it came from, the backend and why,
 * versions, when it started; every `--resume` (when, from which iteration),
 * every extension (`--resume --iterations N`) and every recovery from
 * divergence; and how it ended (finished, stopped by a signal, diverged).
 * The training process owns it: it keeps the record in memory and rewrites
 * the file atomically, on the writer's queue, after every change. The report
 * shows it.
 */
import { Effect, FileSystem } from "effect"
import type { BackendReport } from "../backend/select.js"
import type { RecoveryEntry } from "../config/recovery-spec.js"
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
  /** every `--resume --iterations N` that lengthened a finished run */
  readonly extended?: ReadonlyArray<{ readonly at: string; readonly from: number; readonly to: number }>
  /** every recovery from divergence on the run's way, with when it happened */
  readonly recoveries?: ReadonlyArray<RecoveryEntry & { readonly at: string }>
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

/** The record with an extension from `from` to `to` iterations made now. */
export const extendedRecord = (record: RunRecord, from: number, to: number): RunRecord => ({
  ...record,
  extended: [...(record.extended ?? []), { at: new Date().toISOString(), from, to }],
})

/** The record's recoveries as the resolved config lists them (`recovered`), each stamped with its time when new. */
export const withRecoveries = (
  record: RunRecord,
  recovered: ReadonlyArray<RecoveryEntry>,
  at: string,
): RunRecord => ({
  ...record,
  recoveries: recovered.map((entry, i) => ({ ...entry, at: record.recoveries?.[i]?.at ?? at })),
})

export const recordJob = (file: string, record: RunRecord): WriteJob =>
  fileJob(file, () => new TextEncoder().encode(`${JSON.stringify(record, null, 2)}\n`))
