/**
 * What a run directory survives besides kills and divergence:
 * - a second writer: a training, --force or --resume pointed at a directory in
 *   use is refused with a message naming the process that holds it; the lock
 *   a SIGKILLed run left is stale and the next --resume takes it over;
 * - a full disk mid-run: the run stops with an error naming the file, the
 *   cause and how to continue; every checkpoint already written is intact and
 *   nothing is half-written; --resume then finishes the run byte-identical to
 *   one that never ran out of space. Shown twice: in-process with ENOSPC
 *   injected at the FileSystem layer (test/faulty-disk.ts), and through the
 *   command line on a real, small tmpfs (in a user+mount namespace, `unshare
 *   -rm`; skipped where namespaces are not allowed).
 */
import { spawnSync } from "node:child_process"
import { existsSync, readdirSync, readFileSync } from "node:fs"
import { hostname } from "node:os"
import { join } from "node:path"
import { NodeServices } from "@effect/platform-node"
import { Effect } from "effect"
import { beforeAll, describe, expect, it } from "vitest"
import { readCheckpoint } from "../../src/pipeline/run-dir/checkpoint.js"
import { findResumePoint } from "../../src/pipeline/run-dir/resume.js"
import { train } from "../../src/pipeline/training/train.js"
import { faultyDisk } from "../faulty-disk.js"
import { fingerprint, metricsOf, scratch, start, tinyPipeline, waitForLines } from "../run-dirs.js"
import { cli, tinySpec, useTestBackend } from "../support.js"

const run = <A, E>(effect: Effect.Effect<A, E, NodeServices.NodeServices>) =>
  Effect.runPromise(effect.pipe(Effect.provide(NodeServices.layer)))

/** Every file under `dir`, relative. */
const filesUnder = (dir: string): Array<string> =>
  readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name).slice(dir.length + 1))
    .sort()

/** What a run directory must show after a failed write: nothing half-written, checkpoints whole, metrics in order. */
const expectIntact = async (dir: string, reference: string) => {
  const files = filesUnder(dir)
  expect(files.filter((f) => /\.(tmp|old|trash|taking|stale)-/.test(f) || f === "run.lock")).toEqual([])
  expect(existsSync(join(dir, "checkpoints", "final"))).toBe(false)
  const checkpoints = readdirSync(join(dir, "checkpoints"))
  for (const name of checkpoints) {
    const loaded = await run(readCheckpoint(join(dir, "checkpoints", name)))
    expect(loaded.manifest.iteration).toBe(Number(name.slice("iter-".length)))
    for (const file of ["checkpoint.json", "weights.bin"])
      expect(readFileSync(join(dir, "checkpoints", name, file))).toEqual(
        readFileSync(join(reference, "checkpoints", name, file)),
      )
  }
  // every line whole; iterations in order from the first
  const iterations = metricsOf(dir).map((l) => l.iteration)
  expect(iterations).toEqual(Array.from({ length: iterations.length }, (_, i) => i + 1))
  return checkpoints
}

describe("one writer per run directory", () => {
  it("refuses a second training, --force and --resume while a run writes, naming it; takes over the lock a SIGKILLed run left", async () => {
    // far more iterations than the test lasts: the first run is killed
    const file = tinyPipeline({ training: { iterations: 100_000 } })
    const dir = join(scratch("lock"), "run")
    const first = start([file, "--out", dir])
    expect(await waitForLines(first, dir, 3)).toBe(true)
    const lock = JSON.parse(readFileSync(join(dir, "run.lock"), "utf8"))
    expect(lock).toMatchObject({ pid: first.child.pid, host: hostname() })
    expect(lock.command).toMatch(/^node \S*dist\/run\.js \S+tiny\.json --out \S+run$/)
    const message = `Run directory ${dir} is in use by process ${first.child.pid} on this host (\`${lock.command}\`, since ${lock.since}). Wait for it to finish or stop it (\`kill ${first.child.pid}\`: it writes a checkpoint and exits; then \`node dist/run.js --resume ${dir}\` continues), or write elsewhere with --out DIR.`
    for (const args of [
      [file, "--out", dir],
      [file, "--out", dir, "--force"],
      ["--resume", dir],
    ]) {
      const second = cli(...args)
      expect([args.join(" "), second.code]).toEqual([args.join(" "), 1])
      expect(second.stderr.slice(second.stderr.indexOf("error: "))).toBe(`error: ${message}\n`)
    }
    // the first run was not disturbed: still running, its files in place
    expect(first.child.exitCode).toBeNull()
    expect(existsSync(join(dir, "config.json"))).toBe(true)
    first.child.kill("SIGKILL")
    await first.exited
    expect(existsSync(join(dir, "run.lock"))).toBe(true)
    // the resume takes the stale lock over; --iterations keeps it short
    // (a SIGKILL can leave a temporary beside the checkpoints: --resume removes it)
    const done = (await run(findResumePoint(dir))).iteration
    const resumed = cli("--resume", dir, "--iterations", String(done + 2))
    expect(resumed.code).toBe(0)
    expect(resumed.stderr).toContain(
      `warning: took over the lock of ${dir} left by process ${first.child.pid} (\`${lock.command}\`, since ${lock.since}), which is gone.\n`,
    )
    expect(resumed.stderr).toContain(`[tiny] done: ${done + 2} iterations`)
    expect(existsSync(join(dir, "run.lock"))).toBe(false)
  }, 240_000)
})

describe("a full disk mid-run", () => {
  const spec = tinySpec({
    training: { iterations: 12, batchSize: 8, chains: 6 },
    output: { ...tinySpec().output, sampleEvery: 4, checkpointEvery: 2, keepCheckpoints: 50 },
  })
  let reference: string
  let bytes: number

  beforeAll(async () => {
    await useTestBackend()
    reference = join(scratch("disk"), "reference")
    const counting = faultyDisk(Number.POSITIVE_INFINITY)
    await run(
      train(spec, { source: "tiny.json", outDir: reference, force: false, quiet: true }).pipe(
        Effect.provide(counting.layer),
      ),
    )
    bytes = counting.written()
  }, 120_000)

  it("stops naming the file and what to do; checkpoints intact, nothing half-written; --resume then finishes it", async () => {
    for (const share of [0.35, 0.6, 0.9]) {
      const dir = join(scratch("disk"), "run")
      const disk = faultyDisk(Math.floor(bytes * share))
      const message = await run(
        train(spec, { source: "tiny.json", outDir: dir, force: false, quiet: true }).pipe(
          Effect.provide(disk.layer),
          Effect.match({ onFailure: (e) => `${e._tag}: ${e.message}`, onSuccess: () => "finished" }),
        ),
      )
      const newest = await run(findResumePoint(dir))
      const escaped = dir.replaceAll(/[.*+?^${}()|[\]\\]/g, "\\$&")
      expect(message).toMatch(
        new RegExp(
          `^OutputError: Cannot write ${escaped}/\\S+: the disk is full \\(ENOSPC\\)\\. Free space on that disk, or write the run to another one\\. Checkpoints written before are intact; once that is fixed, \`node dist/run\\.js --resume ${escaped}\` continues from ${escaped}/checkpoints/iter-\\d{6} \\(iteration ${newest.iteration}\\)\\.$`,
        ),
      )
      const checkpoints = await expectIntact(dir, reference)
      expect(checkpoints.length).toBeGreaterThan(0)
      await run(train(newest.spec, { source: "", outDir: dir, force: false, quiet: true, resume: newest }))
      expect(fingerprint(dir)).toEqual(fingerprint(reference))
    }
  }, 300_000)

  const unshare = spawnSync("unshare", ["-rm", "true"]).status === 0
  it.skipIf(!unshare)(
    "through the command line on a real 192 KiB tmpfs: the same error, the same intact directory",
    async () => {
      const file = tinyPipeline({ training: { iterations: 40 }, output: { keepCheckpoints: 50 } })
      const mount = scratch("tmpfs")
      const copy = join(scratch("disk"), "copy")
      // the tmpfs lives as long as the namespace: the run directory is copied out before it goes
      const r = spawnSync(
        "unshare",
        [
          "-rm",
          "sh",
          "-c",
          'mount -t tmpfs -o size=192k tmpfs "$1" && "$2" dist/run.js "$3" --out "$1/run"; code=$?; cp -a "$1/run" "$4"; exit $code',
          "sh",
          mount,
          process.execPath,
          file,
          copy,
        ],
        { encoding: "utf8" },
      )
      // on a failure, what the run printed (a crash names its signal there)
      expect({ status: r.status, signal: r.signal }, r.stderr.slice(-4000)).toEqual({
        status: 1,
        signal: null,
      })
      const error = r.stderr.slice(r.stderr.indexOf("error: "))
      expect(error).toMatch(
        new RegExp(
          `^error: Cannot write ${mount}/run/\\S+: the disk is full \\(ENOSPC\\)\\. Free space on that disk, or write the run to another one\\. Checkpoints written before are intact; once that is fixed, \`node dist/run\\.js --resume ${mount}/run\` continues from ${mount}/run/checkpoints/iter-(\\d{6}) \\(iteration \\d+\\)\\.\\n$`,
        ),
      )
      const reference = join(scratch("disk"), "reference-cli")
      expect(cli(file, "--out", reference).code).toBe(0)
      await expectIntact(copy, reference)
      const resumed = cli("--resume", copy)
      expect(resumed.code).toBe(0)
      expect(fingerprint(copy)).toEqual(fingerprint(reference))
    },
    240_000,
  )
})
