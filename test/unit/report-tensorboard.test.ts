/**
 * TensorBoard event files, read back by TensorBoard's own reader
 * (EventAccumulator, through scripts/check-tensorboard.py): every scalar of
 * metrics.jsonl, every sample grid as an image, the config as text. Skipped,
 * with a line saying why, when the python package tensorboard is missing.
 */
import { execFileSync, spawnSync } from "node:child_process"
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs"
import { dirname, join } from "node:path"
import { crc32c } from "@aws-crypto/crc32c"
import { describe, expect, it } from "vitest"
import { eventFileName, frameRecord } from "../../src/pipeline/report/tensorboard/event-file.js"
import { TensorBoardLog, writeTensorBoardOfRun } from "../../src/pipeline/report/tensorboard/run-log.js"
import { fakeRun, gridPng, iterationLine } from "../report-support.js"

const hasTensorBoard = (() => {
  try {
    execFileSync("python3", ["-c", "import tensorboard.backend.event_processing.event_accumulator"], {
      stdio: "ignore",
    })
    return true
  } catch {
    return false
  }
})()
if (!hasTensorBoard)
  console.warn(
    "report-tensorboard.test.ts: python3 with the tensorboard package is not installed (pip install tensorboard): the tests that read event files back with TensorBoard's reader are SKIPPED",
  )

const check = (dir: string) =>
  spawnSync("python3", ["scripts/check-tensorboard.py", dir], { encoding: "utf8" })

describe("event-file framing", () => {
  it("frames a record as length, masked CRC-32C of the length, data, masked CRC-32C of the data", () => {
    const data = new TextEncoder().encode("hello")
    const record = frameRecord(data)
    const view = new DataView(record.buffer)
    expect(record.length).toBe(8 + 4 + 5 + 4)
    expect(view.getBigUint64(0, true)).toBe(5n)
    const mask = (crc: number) => ((((crc >>> 15) | (crc << 17)) >>> 0) + 0xa282ead8) >>> 0
    expect(view.getUint32(8, true)).toBe(mask(crc32c(record.subarray(0, 8))))
    expect(Buffer.from(record.subarray(12, 17)).toString()).toBe("hello")
    expect(view.getUint32(17, true)).toBe(mask(crc32c(data)))
    // CRC-32C check value (RFC 3720 B.4): 32 bytes of zeros → 0x8a9136aa
    expect(crc32c(new Uint8Array(32))).toBe(0x8a9136aa)
  })

  it("names files so that TensorBoard finds them, in time order", () => {
    const a = eventFileName(new Date(1_700_000_000_000), "host.local", 42)
    expect(a).toBe("events.out.tfevents.1700000000.host.local.42.0")
    expect(eventFileName(new Date(999_000), "h", 1) < a).toBe(true)
  })
})

describe.skipIf(!hasTensorBoard)("read back by TensorBoard's EventAccumulator", () => {
  it("sees every scalar and image tag of a run, with the same values and PNG bytes, and the config as text", async () => {
    const run = await fakeRun({ iterations: 12, sampleEvery: 4, evaluationEvery: 6 })
    const file = await writeTensorBoardOfRun(run.dir)
    expect(file).not.toBeNull()
    const result = check(run.dir)
    expect(result.stdout).toMatch(
      /TensorBoard's reader sees 29 scalar tags \(198 points\), 2 image tags \(6 images\) and text tags \['config', 'run'\]/,
    )
    expect(result.status).toBe(0)
    // a run that already has its event files is left alone
    expect(await writeTensorBoardOfRun(run.dir)).toBeNull()
  })

  it("fails when a record is damaged or a value differs", async () => {
    const run = await fakeRun({ iterations: 6, sampleEvery: 3, evaluationEvery: 0 })
    const file = (await writeTensorBoardOfRun(run.dir)) as string
    const bytes = readFileSync(file)
    bytes[Math.floor(bytes.length / 2)] ^= 0xff
    writeFileSync(file, bytes)
    expect(check(run.dir).status).toBe(1)
    // an intact log of other values
    const other = await fakeRun({ iterations: 6, sampleEvery: 3, evaluationEvery: 0 })
    await writeTensorBoardOfRun(other.dir)
    const lines = readFileSync(join(other.dir, "metrics.jsonl"), "utf8").replace('"teach":30', '"teach":31')
    writeFileSync(join(other.dir, "metrics.jsonl"), lines)
    const result = check(other.dir)
    expect(result.stdout).toContain("scalar ms/teach step 1: 30.0 in the log, 31.0 in metrics.jsonl")
    expect(result.status).toBe(1)
  })

  it("a resumed run's new file replaces what the killed process wrote after its checkpoint", async () => {
    const run = await fakeRun({ iterations: 10, sampleEvery: 4, evaluationEvery: 0 })
    const config = JSON.parse(readFileSync(join(run.dir, "config.json"), "utf8"))
    // the killed process: iterations 1-9 and the grids of 4 and 8 (its checkpoint was at 6)
    let t = 1_700_000_000_000
    const first = new TensorBoardLog(run.dir, () => new Date(t))
    const killed = [first.start({ firstIteration: 1, config, run: {} })]
    for (let i = 1; i <= 9; i++) {
      killed.push(first.iteration(iterationLine(i, 0.25)))
      if (i % 4 === 0)
        for (const kind of ["drafts", "revised"]) killed.push(first.image(i, kind, await gridPng(i + 500)))
    }
    mkdirSync(dirname(first.file), { recursive: true })
    writeFileSync(first.file, Buffer.concat(killed))
    // --resume from 6 trains 7-10 again: the run directory holds the second process's lines and grids
    t += 60_000
    const second = new TensorBoardLog(run.dir, () => new Date(t))
    expect(second.file > first.file).toBe(true)
    const resumed = [second.start({ firstIteration: 7 })]
    for (let i = 7; i <= 10; i++) {
      resumed.push(second.iteration(iterationLine(i)))
      if (i % 4 === 0 || i === 10)
        for (const kind of ["drafts", "revised"])
          resumed.push(
            second.image(
              i,
              kind,
              readFileSync(join(run.dir, "samples", `${kind}-${String(i).padStart(6, "0")}.png`)),
            ),
          )
    }
    writeFileSync(second.file, Buffer.concat(resumed))
    // iterations 1-6 of the first process are those of metrics.jsonl up to the checkpoint
    const lines = readFileSync(join(run.dir, "metrics.jsonl"), "utf8").trim().split("\n")
    writeFileSync(
      join(run.dir, "metrics.jsonl"),
      `${[...[1, 2, 3, 4, 5, 6].map((i) => JSON.stringify(iterationLine(i, 0.25))), ...lines.slice(6)].join("\n")}\n`,
    )
    writeFileSync(join(run.dir, "samples", "drafts-000004.png"), await gridPng(504))
    writeFileSync(join(run.dir, "samples", "revised-000004.png"), await gridPng(504))
    expect(readdirSync(join(run.dir, "tensorboard")).length).toBe(2)
    // the session start at 7 drops the killed process's 7-9 and its grids of 8: each step once, the new values
    const result = check(run.dir)
    expect(result.stdout).toContain("14 scalar tags (140 points), 2 image tags (6 images)")
    expect(result.status).toBe(0)
  })

  it("a run resumed before its first checkpoint starts again from iteration 1, replacing everything", async () => {
    const run = await fakeRun({ iterations: 5, sampleEvery: 100, evaluationEvery: 0 })
    let t = 1_700_000_000_000
    const first = new TensorBoardLog(run.dir, () => new Date(t))
    const killed = [first.start({ firstIteration: 1, config: {}, run: {} })]
    for (let i = 1; i <= 3; i++) killed.push(first.iteration(iterationLine(i, 0.25)))
    mkdirSync(dirname(first.file), { recursive: true })
    writeFileSync(first.file, Buffer.concat(killed))
    t += 60_000
    const second = new TensorBoardLog(run.dir, () => new Date(t))
    const config = JSON.parse(readFileSync(join(run.dir, "config.json"), "utf8"))
    const again = [second.start({ firstIteration: 1, config, run: {} })]
    for (let i = 1; i <= 5; i++) again.push(second.iteration(iterationLine(i)))
    for (const kind of ["drafts", "revised"])
      again.push(second.image(5, kind, readFileSync(join(run.dir, "samples", `${kind}-000005.png`))))
    writeFileSync(second.file, Buffer.concat(again))
    const result = check(run.dir)
    expect(result.stdout).toContain("14 scalar tags (70 points), 2 image tags (2 images)")
    expect(result.status).toBe(0)
  })
})
