/**
 * One writer per run directory (src/pipeline/run-dir/lock.ts): a held lock
 * refuses a second writer with a message naming the holder; a lock whose
 * process is gone (a killed process's pid, or a pid now used by another
 * process) is stale and taken over; releasing removes it and the directories
 * taking it created.
 */
import { spawnSync } from "node:child_process"
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs"
import { hostname, tmpdir } from "node:os"
import { join } from "node:path"
import { NodeServices } from "@effect/platform-node"
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { acquireRunLock, LOCK_FILE, type RunLock, readRunLock } from "../../src/pipeline/run-dir/lock.js"

const run = <A, E>(effect: Effect.Effect<A, E, NodeServices.NodeServices>) =>
  Effect.runPromise(effect.pipe(Effect.provide(NodeServices.layer)))

const scratch = () => mkdtempSync(join(tmpdir(), "coopnets-lock-"))

/** Takes the lock, runs `inside` while holding it, releases it; returns what `inside` returned. */
const holding = <A>(dir: string, inside: () => Promise<A>, onStale?: (lock: RunLock) => void) =>
  run(
    Effect.scoped(
      Effect.andThen(acquireRunLock(dir, onStale === undefined ? {} : { onStale }), Effect.promise(inside)),
    ),
  )

const attempt = (dir: string) =>
  run(
    Effect.scoped(acquireRunLock(dir)).pipe(
      Effect.match({ onFailure: (e) => `${e._tag}: ${e.message}`, onSuccess: () => "taken" }),
    ),
  )

/** The pid of a process that has exited (and been reaped): no process has it now. */
const deadPid = (): number => {
  const r = spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"], {
    encoding: "utf8",
  })
  return Number(r.stdout)
}

describe("run directory lock", () => {
  it("names its holder, refuses a second writer while held, and is gone after release", async () => {
    const dir = join(scratch(), "run")
    const seen = await holding(dir, async () => {
      const lock = await run(readRunLock(dir))
      const second = await attempt(dir)
      return { lock, second }
    })
    expect(seen.lock).toMatchObject({
      pid: process.pid,
      host: hostname(),
      state: "live",
      file: join(dir, LOCK_FILE),
    })
    expect(seen.lock?.command).toContain(process.argv[1]?.split("/").at(-1))
    expect(Date.now() - Date.parse(seen.lock?.since as string)).toBeLessThan(60_000)
    expect(seen.second).toBe(
      `RunInUseError: Run directory ${dir} is in use by process ${process.pid} on this host (\`${seen.lock?.command}\`, since ${seen.lock?.since}). Wait for it to finish or stop it (\`kill ${process.pid}\`: it writes a checkpoint and exits; then \`node dist/run.js --resume ${dir}\` continues), or write elsewhere with --out DIR.`,
    )
    // the lock created the directory and nothing else was written: both are gone
    expect(existsSync(dir)).toBe(false)
    expect(await run(readRunLock(dir))).toBeUndefined()
  })

  it("keeps a directory that holds other files, removing only the lock", async () => {
    const dir = join(scratch(), "run")
    await holding(dir, async () => writeFileSync(join(dir, "config.json"), "{}\n"))
    expect(readdirSync(dir)).toEqual(["config.json"])
  })

  it("takes over the lock of a killed process and says whose it was", async () => {
    const dir = scratch()
    const pid = deadPid()
    const stale = {
      pid,
      host: hostname(),
      command: "node dist/run.js x.json",
      since: "2026-01-01T00:00:00.000Z",
    }
    writeFileSync(join(dir, LOCK_FILE), `${JSON.stringify(stale)}\n`)
    expect(await run(readRunLock(dir))).toMatchObject({ ...stale, state: "stale" })
    const heard: Array<RunLock> = []
    const held = await holding(
      dir,
      () => run(readRunLock(dir)),
      (lock) => heard.push(lock),
    )
    expect(heard).toEqual([{ ...stale, startTicks: undefined, file: join(dir, LOCK_FILE), state: "stale" }])
    expect(held).toMatchObject({ pid: process.pid, state: "live" })
    expect(readdirSync(dir)).toEqual([])
  })

  it("on Linux, a lock whose pid now belongs to a process started at another time is stale", async () => {
    const dir = scratch()
    // this test's own pid, but a start time it never had: the pid was reused
    const reused = {
      pid: process.pid,
      host: hostname(),
      command: "node dist/run.js x.json",
      since: "2026-01-01T00:00:00.000Z",
      startTicks: 1,
    }
    writeFileSync(join(dir, LOCK_FILE), `${JSON.stringify(reused)}\n`)
    const expected = existsSync(`/proc/${process.pid}/stat`) ? "stale" : "live"
    expect((await run(readRunLock(dir)))?.state).toBe(expected)
  })

  it("respects a lock held on another host, and says how to clear it", async () => {
    const dir = scratch()
    const elsewhere = {
      pid: 4242,
      host: "node-17.cluster",
      command: "node dist/run.js x.json",
      since: "2026-01-01T00:00:00.000Z",
    }
    writeFileSync(join(dir, LOCK_FILE), `${JSON.stringify(elsewhere)}\n`)
    expect((await run(readRunLock(dir)))?.state).toBe("elsewhere")
    expect(await attempt(dir)).toBe(
      `RunInUseError: Run directory ${dir} is in use by process 4242 on host node-17.cluster (\`node dist/run.js x.json\`, since 2026-01-01T00:00:00.000Z); this machine cannot check whether it still runs. Wait for it to finish, or write elsewhere with --out DIR; if that process is gone, remove ${join(dir, LOCK_FILE)} and run again.`,
    )
    expect(readFileSync(join(dir, LOCK_FILE), "utf8")).toBe(`${JSON.stringify(elsewhere)}\n`)
  })

  it("refuses a lock file it cannot read rather than guess", async () => {
    const dir = scratch()
    writeFileSync(join(dir, LOCK_FILE), "garbage")
    expect(await attempt(dir)).toBe(
      `RunInUseError: Run directory ${dir} holds a lock file ${join(dir, LOCK_FILE)} that cannot be read, so another process may be writing into it. If none is, remove ${join(dir, LOCK_FILE)} and run again.`,
    )
  })

  it("one of several processes racing for a stale lock gets it", async () => {
    const dir = scratch()
    mkdirSync(dir, { recursive: true })
    writeFileSync(
      join(dir, LOCK_FILE),
      `${JSON.stringify({ pid: deadPid(), host: hostname(), command: "x", since: "2026-01-01T00:00:00.000Z" })}\n`,
    )
    // in one process the racers interleave at every file operation (each is asynchronous)
    const outcomes = await run(
      Effect.all(
        Array.from({ length: 4 }, () =>
          Effect.scoped(
            acquireRunLock(dir).pipe(
              Effect.andThen(Effect.sleep("50 millis")),
              Effect.as("taken"),
              Effect.catchTag("RunInUseError", () => Effect.succeed("refused")),
            ),
          ),
        ),
        { concurrency: "unbounded" },
      ),
    )
    expect(outcomes.filter((o) => o === "taken")).toHaveLength(1)
  })
})
