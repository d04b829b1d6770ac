/**
 * The writer's failure paths on a full disk (test/faulty-disk.ts injects
 * ENOSPC at the FileSystem layer after a byte budget): every kind of write
 * leaves the earlier version of its file whole and no temporary behind, and
 * the error names the file, the cause and what to do.
 */
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { NodeServices } from "@effect/platform-node"
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import {
  appendJob,
  directoryJob,
  fileJob,
  type WriteJob,
  writeAtomic,
} from "../../src/pipeline/run-dir/writer.js"
import { faultyDisk } from "../faulty-disk.js"

const scratch = () => mkdtempSync(join(tmpdir(), "coopnets-writer-"))

/** Runs a job on a disk with `room` bytes left; returns the error message, if it failed. */
const onFullDisk = (job: WriteJob, room: number) =>
  Effect.runPromise(
    job.write.pipe(
      Effect.match({ onFailure: (e) => e.message, onSuccess: () => undefined }),
      Effect.provide(faultyDisk(room).layer),
      Effect.provide(NodeServices.layer),
    ),
  )

const bytes = (n: number, fill: number) => new Uint8Array(n).fill(fill)

describe("writes on a full disk", () => {
  it("an append cut off part-way is undone: metrics.jsonl never ends in half a line", async () => {
    const dir = scratch()
    const file = join(dir, "metrics.jsonl")
    writeFileSync(file, '{"iteration":1}\n')
    const line = new TextEncoder().encode(`${JSON.stringify({ iteration: 2, pad: "x".repeat(200) })}\n`)
    const error = await onFullDisk(appendJob(file, line), 50)
    expect(error).toBe(
      `Cannot write ${file}: the disk is full (ENOSPC). Free space on that disk, or write the run to another one.`,
    )
    expect(readFileSync(file, "utf8")).toBe('{"iteration":1}\n')
    // the same append with room succeeds (the job is not broken by the failure)
    expect(await onFullDisk(appendJob(file, line), 10_000)).toBeUndefined()
    expect(
      readFileSync(file, "utf8")
        .split("\n")
        .filter(Boolean)
        .map((l) => JSON.parse(l).iteration),
    ).toEqual([1, 2])
  })

  it("an append to a file that did not exist leaves no file", async () => {
    const dir = scratch()
    const file = join(dir, "new.jsonl")
    expect(await onFullDisk(appendJob(file, bytes(100, 65)), 10)).toMatch(/ENOSPC/)
    expect(readdirSync(dir)).toEqual([])
  })

  it("a whole file keeps its old version and leaves no temporary", async () => {
    const dir = scratch()
    const file = join(dir, "config.json")
    writeFileSync(file, "old\n")
    expect(
      await onFullDisk(
        fileJob(file, () => bytes(1000, 66)),
        300,
      ),
    ).toMatch(new RegExp(`^Cannot write ${file}: the disk is full \\(ENOSPC\\)`))
    expect(readFileSync(file, "utf8")).toBe("old\n")
    expect(readdirSync(dir)).toEqual(["config.json"])
    const direct = await Effect.runPromise(
      writeAtomic(file, bytes(1000, 67)).pipe(
        Effect.match({ onFailure: (e) => e.message, onSuccess: () => "written" }),
        Effect.provide(faultyDisk(999).layer),
        Effect.provide(NodeServices.layer),
      ),
    )
    expect(direct).toMatch(/ENOSPC/)
    expect(readdirSync(dir)).toEqual(["config.json"])
  })

  it("a checkpoint directory keeps its old version whole and leaves no temporary", async () => {
    const dir = scratch()
    const checkpoint = join(dir, "checkpoints", "final")
    mkdirSync(checkpoint, { recursive: true })
    writeFileSync(join(checkpoint, "weights.bin"), bytes(64, 1))
    writeFileSync(join(checkpoint, "checkpoint.json"), "{}\n")
    const job = directoryJob(checkpoint, [
      ["weights.bin", bytes(5000, 2)],
      ["checkpoint.json", bytes(100, 3)],
    ])
    // full in the first file, then in the second
    for (const room of [2000, 5050]) {
      expect(await onFullDisk(job, room)).toBe(
        `Cannot write ${checkpoint}: the disk is full (ENOSPC). Free space on that disk, or write the run to another one.`,
      )
      expect(readdirSync(join(dir, "checkpoints"))).toEqual(["final"])
      expect(readFileSync(join(checkpoint, "weights.bin"))).toEqual(Buffer.from(bytes(64, 1)))
      expect(readFileSync(join(checkpoint, "checkpoint.json"), "utf8")).toBe("{}\n")
    }
    expect(await onFullDisk(job, 5100)).toBeUndefined()
    expect(readFileSync(join(checkpoint, "weights.bin"))).toEqual(Buffer.from(bytes(5000, 2)))
  })
})
