/**
 * One writer per run directory. Training, `--resume` and every sweep task
 * hold `<run>/run.lock` while they write into the directory; it names the
 * process (pid, host, command line, since when). A second writer pointed at
 * the directory is refused with that name. A lock whose process is gone (on
 * this host: no process with that pid, or one started at another time — a
 * reused pid) is stale and taken over; a lock held on another host cannot be
 * checked from here and is respected.
 *
 *   acquireRunLock(dir)  scoped: take the lock (refused when held), released with the scope
 *   readRunLock(dir)     who holds it, and whether that process still runs ("live" | "stale" | "elsewhere")
 *   refuseIfInUse(dir)   fails as acquireRunLock would, taking nothing (a check before slower work)
 *
 * The lock file appears whole: it is written under a private name and then
 * hard-linked into place, which fails if a lock is already there (link is
 * atomic, and unlike O_EXCL leaves no empty file when the writer is killed).
 */
import { hostname } from "node:os"
import { Effect, FileSystem, Option, Path, type Scope } from "effect"
import { OutputError, RunInUseError } from "../errors.js"
import { errorCode } from "./writer.js"

export const LOCK_FILE = "run.lock"

export interface RunLockHolder {
  readonly pid: number
  readonly host: string
  /** the holder's command line */
  readonly command: string
  /** when it took the lock (ISO 8601) */
  readonly since: string
  /** Linux: the process's start time in clock ticks after boot (/proc/<pid>/stat), to tell a reused pid */
  readonly startTicks?: number | undefined
}

/** "live": its process runs on this host; "stale": it is gone; "elsewhere": held on another host (cannot be checked). */
export type RunLockState = "live" | "stale" | "elsewhere"

export interface RunLock extends RunLockHolder {
  readonly state: RunLockState
  /** the lock file */
  readonly file: string
}

/** Linux: a process's start time (field 22 of /proc/<pid>/stat), or undefined elsewhere. */
const startTicksOf = (fs: FileSystem.FileSystem, pid: number | "self") =>
  fs.readFileString(`/proc/${pid}/stat`).pipe(
    Effect.map((text) => {
      // the command name (field 2) may hold spaces and parentheses: count from the last ")"
      const fields = text.slice(text.lastIndexOf(")") + 2).split(" ")
      const ticks = Number(fields[19])
      return Number.isFinite(ticks) ? ticks : undefined
    }),
    Effect.orElseSucceed(() => undefined),
  )

/** Whether a process with this pid exists on this host (EPERM: it does, but belongs to another user). */
const pidExists = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM"
  }
}

const stateOf = (fs: FileSystem.FileSystem, holder: RunLockHolder) =>
  Effect.gen(function* () {
    if (holder.host !== hostname()) return "elsewhere" as RunLockState
    if (!Number.isSafeInteger(holder.pid) || holder.pid <= 0 || !pidExists(holder.pid))
      return "stale" as RunLockState
    if (holder.startTicks === undefined) return "live" as RunLockState
    const ticks = yield* startTicksOf(fs, holder.pid)
    return (ticks === undefined || ticks === holder.startTicks ? "live" : "stale") as RunLockState
  })

const parseHolder = (text: string): RunLockHolder | undefined => {
  try {
    const h = JSON.parse(text) as Partial<RunLockHolder> | null
    return typeof h?.pid === "number" && typeof h.host === "string"
      ? {
          pid: h.pid,
          host: h.host,
          command: typeof h.command === "string" ? h.command : "?",
          since: typeof h.since === "string" ? h.since : "?",
          startTicks: typeof h.startTicks === "number" ? h.startTicks : undefined,
        }
      : undefined
  } catch {
    return undefined
  }
}

/** Who holds the lock of `dir` and whether that process still runs; undefined when nobody does. */
export const readRunLock = (
  dir: string,
): Effect.Effect<RunLock | undefined, never, FileSystem.FileSystem | Path.Path> =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const file = path.join(dir, LOCK_FILE)
    const text = yield* fs.readFileString(file).pipe(Effect.orElseSucceed(() => undefined))
    const holder = text === undefined ? undefined : parseHolder(text)
    if (holder === undefined) return undefined
    return { ...holder, file, state: yield* stateOf(fs, holder) }
  })

/** This process's command line, e.g. `node /work/coopnets/dist/run.js --resume runs/x`. */
const commandLine = (path: Path.Path): string =>
  [path.basename(process.argv0 || process.execPath), ...process.argv.slice(1)]
    .map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : JSON.stringify(a)))
    .join(" ")

const inUse = (dir: string, lock: RunLock) =>
  new RunInUseError({
    message:
      lock.state === "elsewhere"
        ? `Run directory ${dir} is in use by process ${lock.pid} on host ${lock.host} (\`${lock.command}\`, since ${lock.since}); this machine cannot check whether it still runs. Wait for it to finish, or write elsewhere with --out DIR; if that process is gone, remove ${lock.file} and run again.`
        : `Run directory ${dir} is in use by process ${lock.pid} on this host (\`${lock.command}\`, since ${lock.since}). Wait for it to finish or stop it (\`kill ${lock.pid}\`: it writes a checkpoint and exits; then \`node dist/run.js --resume ${dir}\` continues), or write elsewhere with --out DIR.`,
  })

/** Fails with the message acquireRunLock would give when another process holds the lock of `dir`; takes nothing. */
export const refuseIfInUse = (
  dir: string,
): Effect.Effect<void, RunInUseError, FileSystem.FileSystem | Path.Path> =>
  Effect.flatMap(readRunLock(dir), (lock) =>
    lock === undefined || lock.state === "stale" || (lock.pid === process.pid && lock.host === hostname())
      ? Effect.void
      : Effect.fail(inUse(dir, lock)),
  )

const unreadable = (dir: string, file: string) =>
  new RunInUseError({
    message: `Run directory ${dir} holds a lock file ${file} that cannot be read, so another process may be writing into it. If none is, remove ${file} and run again.`,
  })

/** A takeover guard older than this was left by a killed process (taking over takes milliseconds). */
const GUARD_STALE_MS = 10_000

/** Numbers this process's attempts at taking locks (their private file names). */
let taking = 0

/** The directories `mkdir -p dir` would create, outermost first. */
const missingAncestors = (fs: FileSystem.FileSystem, path: Path.Path, dir: string) =>
  Effect.gen(function* () {
    const missing: Array<string> = []
    let at = path.resolve(dir)
    while (!(yield* fs.exists(at).pipe(Effect.orElseSucceed(() => true)))) {
      missing.unshift(at)
      const parent = path.dirname(at)
      if (parent === at) break
      at = parent
    }
    return missing
  })

/**
 * Takes the lock of `dir` (creating the directory if needed) for the
 * enclosing scope, or fails with RunInUseError naming its holder. A stale lock
 * is taken over (`onStale` hears whose). Closing the scope removes the lock —
 * and the directories taking it created, if nothing else was written there.
 */
export const acquireRunLock = (
  dir: string,
  options: { readonly onStale?: (stale: RunLock) => void } = {},
): Effect.Effect<void, RunInUseError | OutputError, FileSystem.FileSystem | Path.Path | Scope.Scope> =>
  Effect.gen(function* () {
    const fs = yield* FileSystem.FileSystem
    const path = yield* Path.Path
    const file = path.join(dir, LOCK_FILE)
    const created = yield* missingAncestors(fs, path, dir)
    const cannot = (e: { readonly message: string }) => {
      const code = errorCode(e)
      return new OutputError({
        message: `Cannot take the lock of run directory ${dir} (${file}): ${e.message}${code === undefined || e.message.includes(code) ? "" : ` (${code})`}. Check that the directory can be created and written, and that its disk has room.`,
      })
    }
    yield* fs.makeDirectory(dir, { recursive: true }).pipe(Effect.mapError(cannot))
    const holder: RunLockHolder = {
      pid: process.pid,
      host: hostname(),
      command: commandLine(path),
      since: new Date().toISOString(),
      startTicks: yield* startTicksOf(fs, "self"),
    }
    const text = `${JSON.stringify(holder)}\n`
    // not a LEFTOVER name (layout.ts): a resume tidying the directory must not remove it under a process taking the lock
    const mine = `${file}.taking-${process.pid}-${++taking}`
    yield* fs.writeFileString(mine, text).pipe(Effect.mapError(cannot))
    const release = Effect.gen(function* () {
      const now = yield* fs.readFileString(file).pipe(Effect.orElseSucceed(() => ""))
      if (now === text) yield* fs.remove(file)
      // the directories this lock created, innermost first, while they are empty
      for (const d of [...created].reverse()) {
        const entries = yield* fs.readDirectory(d)
        if (entries.length > 0) break
        yield* fs.remove(d, { recursive: true })
      }
    }).pipe(Effect.ignore)
    const guard = `${file}.takeover`
    const taken = yield* Effect.gen(function* () {
      for (let attempt = 0; attempt < 200; attempt++) {
        const linked = yield* fs.link(mine, file).pipe(
          Effect.as(true),
          Effect.catch((e) =>
            e.reason._tag === "AlreadyExists" ? Effect.succeed(false) : Effect.fail(cannot(e)),
          ),
        )
        if (linked) return true
        const seen = yield* fs.readFileString(file).pipe(Effect.orElseSucceed(() => undefined))
        if (seen === undefined) continue // released meanwhile: try again
        const other = parseHolder(seen)
        if (other === undefined) return yield* unreadable(dir, file)
        const lock: RunLock = { ...other, file, state: yield* stateOf(fs, other) }
        if (lock.state !== "stale") return yield* inUse(dir, lock)
        // Only the holder of the takeover guard (a directory: mkdir is atomic) removes a stale lock, and only
        // while it still reads as the stale one; the others go on trying to link theirs into place.
        const guarded = yield* fs.makeDirectory(guard).pipe(
          Effect.as(true),
          Effect.orElseSucceed(() => false),
        )
        if (!guarded) {
          // a guard left by a process killed while taking over is cleared once old
          const age = yield* fs.stat(guard).pipe(
            Effect.map((info) => Date.now() - Option.getOrElse(info.mtime, () => new Date()).getTime()),
            Effect.orElseSucceed(() => 0),
          )
          if (age > GUARD_STALE_MS) yield* fs.remove(guard, { recursive: true }).pipe(Effect.ignore)
          yield* Effect.sleep("10 millis")
          continue
        }
        yield* Effect.gen(function* () {
          const now = yield* fs.readFileString(file).pipe(Effect.orElseSucceed(() => undefined))
          if (now !== seen) return
          yield* fs.remove(file).pipe(Effect.ignore)
          options.onStale?.(lock)
        }).pipe(Effect.ensuring(fs.remove(guard, { recursive: true }).pipe(Effect.ignore)))
      }
      return false
    }).pipe(Effect.ensuring(fs.remove(mine).pipe(Effect.ignore)))
    if (!taken)
      return yield* new RunInUseError({
        message: `Run directory ${dir}: other processes keep taking its lock (${file}); run one writer at a time.`,
      })
    yield* Effect.addFinalizer(() => release)
  })
