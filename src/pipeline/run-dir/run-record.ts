/**
 * run.json, the run's record: written when the run starts (source file,
 * backend, versions, start time) and updated as things happen to it — a
 * recovery from divergence (`recoveries`), an extension (`extended`). Updates
 * go through the writer's queue like every file of a run: read, changed,
 * written back atomically.
 */
import { Effect, FileSystem } from "effect"
import type { RecoveryEntry } from "../config/recovery-spec.js"
import { type WriteJob, writeAtomic } from "./writer.js"

export type RunRecord = Readonly<Record<string, unknown>> & {
  /** every recovery from divergence on the run's way, with when it happened */
  readonly recoveries?: ReadonlyArray<RecoveryEntry & { readonly at: string }>
  /** every `--resume --iterations N` that lengthened a finished run */
  readonly extended?: ReadonlyArray<{ readonly at: string; readonly from: number; readonly to: number }>
}

export const encodeRecord = (record: RunRecord): Uint8Array =>
  new TextEncoder().encode(`${JSON.stringify(record, null, 2)}\n`)

/** run.json's contents, or an empty record when it is missing or unreadable. */
export const readRunRecord = (file: string): Effect.Effect<RunRecord, never, FileSystem.FileSystem> =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const text = yield* fs.readFileString(file).pipe(Effect.orElseSucceed(() => "{}"))
    try {
      const value = JSON.parse(text) as unknown
      return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as RunRecord) : {}
    } catch {
      return {}
    }
  })

/** Rewrites run.json with `change` applied, on the writer's fiber. */
export const updateRecordJob = (file: string, change: (record: RunRecord) => RunRecord): WriteJob => ({
  description: file,
  write: Effect.flatMap(readRunRecord(file), (record) => writeAtomic(file, encodeRecord(change(record)))),
})

/** The record's recoveries as the resolved config lists them (`recovered`), each stamped with its time when new. */
export const withRecoveries =
  (recovered: ReadonlyArray<RecoveryEntry>, at: string) =>
  (record: RunRecord): RunRecord => ({
    ...record,
    recoveries: recovered.map((entry, i) => ({ ...entry, at: record.recoveries?.[i]?.at ?? at })),
  })
