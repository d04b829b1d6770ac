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

const failed = (what: string) => (e: { readonly message: string }) =>
  new OutputError({ message: `Cannot write ${what}: ${e.message}. Check free disk space and permissions.` })

const ensureParent = (file: string) =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    yield* fs.makeDirectory(path.dirname(file), { recursive: true })
  })

/** Writes `bytes` to `file` through a temporary file and a rename. */
export const writeAtomic = (
  file: string,
  bytes: Uint8Array,
): Effect.Effect<void, OutputError, FileSystem.FileSystem | Path.Path> =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    yield* ensureParent(file)
    const temporary = `${file}.tmp-${process.pid}`
    yield* fs.writeFile(temporary, bytes)
    yield* fs.rename(temporary, file)
  }).pipe(Effect.mapError(failed(file)))

/** A whole file, written atomically; `encode` runs on the writer fiber (e.g. PNG compression). */
export const fileJob = (file: string, encode: () => Promise<Uint8Array> | Uint8Array): WriteJob => ({
  description: file,
  write: Effect.tryPromise({
    try: async () => encode(),
    catch: (e) => failed(file)({ message: String(e) }),
  }).pipe(Effect.flatMap((bytes) => writeAtomic(file, bytes))),
})

/** Bytes appended to `file` (one metrics line at a time). */
export const appendJob = (file: string, bytes: Uint8Array): WriteJob => ({
  description: file,
  write: Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    yield* ensureParent(file)
    yield* fs.writeFile(file, bytes, { flag: "a" })
  }).pipe(Effect.mapError(failed(file))),
})

/**
 * A directory of files that appears whole or not at all: written under a
 * temporary name, then renamed over any earlier version.
 */
export const directoryJob = (dir: string, files: ReadonlyArray<readonly [string, Uint8Array]>): WriteJob => ({
  description: dir,
  write: Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const temporary = `${dir}.tmp-${process.pid}`
    const old = `${dir}.old-${process.pid}`
    yield* fs.remove(temporary, { recursive: true, force: true })
    yield* fs.makeDirectory(temporary, { recursive: true })
    for (const [name, bytes] of files) yield* fs.writeFile(path.join(temporary, name), bytes)
    const existed = yield* fs.exists(dir)
    if (existed) yield* fs.rename(dir, old)
    yield* fs.rename(temporary, dir)
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
