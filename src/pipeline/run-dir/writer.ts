/**
 * The background writer: PNG grids, metrics lines and checkpoints are queued
 * (bounded: when it is full, compute waits — backpressure) and written by one
 * fiber in order, off the compute path. Every file appears atomically
 * (temporary name, then rename), so a crash never leaves a half-written file.
 */
import {
  type Cause,
  Context,
  Deferred,
  Effect,
  Fiber,
  FileSystem,
  Layer,
  Path,
  Queue,
  Ref,
  Stream,
} from "effect"
import { OutputError } from "../errors.js"

export interface WriteJob {
  /** what is written, for error messages */
  readonly description: string
  readonly write: Effect.Effect<void, OutputError, FileSystem.FileSystem | Path.Path>
}

export interface WriterShape {
  /** Queues a write; waits only when `capacity` writes are already pending. */
  readonly submit: (job: WriteJob) => Effect.Effect<void, OutputError>
  /** Waits until every queued write is on disk; fails with the first write error. */
  readonly flush: Effect.Effect<void, OutputError>
}

export class Writer extends Context.Service<Writer, WriterShape>()("coopnets/Writer") {}

/** The operating system's error code of a failed file operation (`ENOSPC`, `EACCES`, …), if it has one. */
export const errorCode = (e: unknown): string | undefined => {
  const find = (u: unknown, depth: number): string | undefined => {
    if (typeof u !== "object" || u === null || depth > 3) return undefined
    const code = (u as { readonly code?: unknown }).code
    if (typeof code === "string") return code
    const o = u as { readonly reason?: unknown; readonly cause?: unknown }
    return find(o.reason, depth + 1) ?? find(o.cause, depth + 1)
  }
  return find(e, 0)
}

/** Why a write failed and what to do about it, in words. */
const explain = (e: { readonly message: string }): string => {
  const code = errorCode(e)
  switch (code) {
    case "ENOSPC":
      return "the disk is full (ENOSPC). Free space on that disk, or write the run to another one"
    case "EDQUOT":
      return "the disk quota is used up (EDQUOT). Free space within your quota, or write the run elsewhere"
    case "EROFS":
      return "the file system is read-only (EROFS). Remount it writable, or write the run elsewhere"
    case "EACCES":
    case "EPERM":
      return `permission denied (${code}). Make the directory writable for this user, or write the run elsewhere`
    case "EIO":
      return "the disk reported an input/output error (EIO). Check the disk, or write the run elsewhere"
    default:
      return `${e.message}${code === undefined || e.message.includes(code) ? "" : ` (${code})`}. Check free disk space and permissions`
  }
}

const failed = (what: string) => (e: { readonly message: string }) =>
  new OutputError({ message: `Cannot write ${what}: ${explain(e)}.` })

const ensureParent = (file: string) =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    yield* fs.makeDirectory(path.dirname(file), { recursive: true })
  })

/** Best-effort clean-up after a failed write (it may fail too, e.g. on a read-only disk: resume removes leftovers). */
const tidy =
  <R2>(cleanUp: Effect.Effect<unknown, unknown, R2>) =>
  <A, E, R>(self: Effect.Effect<A, E, R>): Effect.Effect<A, E, R | R2> =>
    Effect.tapError(self, () => Effect.ignore(cleanUp))

/**
 * Writes `bytes` to `file` through a temporary file and a rename: `file` is
 * either its old version or the new one, never part of one. A failed write
 * (a full disk) removes its temporary.
 */
export const writeAtomic = (
  file: string,
  bytes: Uint8Array,
): Effect.Effect<void, OutputError, FileSystem.FileSystem | Path.Path> =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    yield* ensureParent(file)
    const temporary = `${file}.tmp-${process.pid}`
    yield* fs
      .writeFile(temporary, bytes)
      .pipe(Effect.andThen(fs.rename(temporary, file)), tidy(fs.remove(temporary, { force: true })))
  }).pipe(Effect.mapError(failed(file)))

/** A whole file, written atomically; `encode` runs on the writer fiber (e.g. PNG compression). */
export const fileJob = (file: string, encode: () => Promise<Uint8Array> | Uint8Array): WriteJob => ({
  description: file,
  write: Effect.tryPromise({
    try: async () => encode(),
    catch: (e) => failed(file)({ message: String(e) }),
  }).pipe(Effect.flatMap((bytes) => writeAtomic(file, bytes))),
})

/**
 * Bytes appended to `file` (one metrics line at a time). An append that fails
 * part-way (a full disk) is cut off again, so the file never ends in half a line.
 */
export const appendJob = (file: string, bytes: Uint8Array): WriteJob => ({
  description: file,
  write: Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    yield* ensureParent(file)
    const before = yield* fs.stat(file).pipe(
      Effect.map((info) => Number(info.size)),
      Effect.orElseSucceed(() => undefined),
    )
    yield* fs
      .writeFile(file, bytes, { flag: "a" })
      .pipe(tidy(before === undefined ? fs.remove(file, { force: true }) : fs.truncate(file, before)))
  }).pipe(Effect.mapError(failed(file))),
})

/**
 * A directory of files that appears whole or not at all: written under a
 * temporary name, then renamed over any earlier version. A failed write
 * removes the temporary and leaves the earlier version in place.
 */
export const directoryJob = (dir: string, files: ReadonlyArray<readonly [string, Uint8Array]>): WriteJob => ({
  description: dir,
  write: Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const temporary = `${dir}.tmp-${process.pid}`
    const old = `${dir}.old-${process.pid}`
    yield* fs.remove(temporary, { recursive: true, force: true })
    yield* Effect.gen(function* () {
      yield* fs.makeDirectory(temporary, { recursive: true })
      for (const [name, bytes] of files) yield* fs.writeFile(path.join(temporary, name), bytes)
    }).pipe(tidy(fs.remove(temporary, { recursive: true, force: true })))
    const existed = yield* fs.exists(dir)
    if (existed) yield* fs.rename(dir, old)
    yield* fs
      .rename(temporary, dir)
      .pipe(
        tidy(
          Effect.andThen(
            existed ? fs.rename(old, dir) : Effect.void,
            fs.remove(temporary, { recursive: true, force: true }),
          ),
        ),
      )
    if (existed) yield* fs.remove(old, { recursive: true })
  }).pipe(Effect.mapError(failed(dir))),
})

type Pending = { readonly job: WriteJob } | { readonly flushed: Deferred.Deferred<void, OutputError> }

export const layer = (capacity: number): Layer.Layer<Writer, never, FileSystem.FileSystem | Path.Path> =>
  Layer.effect(
    Writer,
    Effect.gen(function* () {
      const queue = yield* Queue.bounded<Pending, Cause.Done>(capacity)
      const failure = yield* Ref.make<OutputError | undefined>(undefined)
      const worker = yield* Stream.fromQueue(queue).pipe(
        Stream.runForEach((item) =>
          "job" in item
            ? Ref.get(failure).pipe(
                Effect.flatMap((earlier) =>
                  earlier ? Effect.void : item.job.write.pipe(Effect.catch((e) => Ref.set(failure, e))),
                ),
              )
            : Ref.get(failure).pipe(
                Effect.flatMap((e) =>
                  e ? Deferred.fail(item.flushed, e) : Deferred.succeed(item.flushed, undefined),
                ),
              ),
        ),
        Effect.forkScoped,
      )
      // On scope close (normal end, error or interrupt) finish what was queued.
      yield* Effect.addFinalizer(() =>
        Queue.end(queue).pipe(Effect.andThen(Fiber.join(worker)), Effect.ignore),
      )
      const failIfFailed = Ref.get(failure).pipe(Effect.flatMap((e) => (e ? Effect.fail(e) : Effect.void)))
      return {
        submit: (job) => failIfFailed.pipe(Effect.andThen(Queue.offer(queue, { job })), Effect.asVoid),
        flush: Effect.gen(function* () {
          const flushed = yield* Deferred.make<void, OutputError>()
          yield* Queue.offer(queue, { flushed })
          yield* Deferred.await(flushed)
        }),
      }
    }),
  )
