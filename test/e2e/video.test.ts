/**
 * Dynamic textures end to end through the real command line, on a tiny clip made here:
 * training writes GIF grids beside the observed clip and checkpoints; the same seed gives the
 * same bytes; a run killed and resumed ends byte-identical; sample (GIF, MP4, .npy),
 * interpolate and evaluate (the measure and its floor) work on the video nets; the same
 * pipeline trains unchanged on a video file and a frame folder; bad settings are refused.
 */
import { spawn } from "node:child_process"
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import sharp from "sharp"
import { beforeAll, describe, expect, it } from "vitest"
import { decodeNpy } from "../../src/pipeline/run-dir/image-files.js"
import { encodeGif, encodeMp4, videoAt, videoGrid } from "../../src/pipeline/run-dir/video-files.js"
import { cli, testBackend } from "../support.js"

const FRAMES = 52
const SIDE = 12
const T = 26 // the fewest frames the FC_S generator makes

/** A fire-like clip: a bright blob flickering and drifting up over a dark gradient. */
const clipValues = (): Float32Array => {
  const v = new Float32Array(FRAMES * SIDE * SIDE * 3)
  for (let t = 0; t < FRAMES; t++)
    for (let y = 0; y < SIDE; y++)
      for (let x = 0; x < SIDE; x++) {
        const cy = (SIDE - 1 - ((t * 0.7) % SIDE)) as number
        const d = Math.hypot(x - SIDE / 2 - Math.sin(t * 0.9), y - cy)
        const heat = Math.exp(-d / 3) * (0.8 + 0.2 * Math.sin(1.3 * t + x))
        const i = ((t * SIDE + y) * SIDE + x) * 3
        v[i] = Math.min(1, -0.6 + 1.8 * heat)
        v[i + 1] = Math.min(1, -0.9 + 1.4 * heat)
        v[i + 2] = -1 + 0.3 * (y / SIDE)
      }
  return v
}

let dir = ""
let gif = ""
const config = (over: Record<string, unknown> = {}, data: Record<string, unknown> = {}) => {
  const file = join(mkdtempSync(join(dir, "cfg-")), "video.json")
  writeFileSync(
    file,
    JSON.stringify({
      name: "tiny-video",
      seed: 5,
      backend: testBackend,
      data: { source: "video", path: gif, frames: T, size: SIDE, ...data },
      model: {
        arch: "dynamicTexture",
        descriptorChannels: [4, 3],
        descriptorUnits: 2,
        zDim: 2,
        generatorChannels: [6, 4, 3],
      },
      langevin: { steps: 2, stepSize: 0.002, refSigma: 0.016, noise: true },
      generatorSigma: 1,
      optimizer: { descriptor: { learningRate: 0.01 }, generator: { learningRate: 0.0002 } },
      training: { iterations: 4, batchSize: 1, chains: 2 },
      output: { sampleEvery: 2, checkpointEvery: 2, logEvery: 1, keepCheckpoints: 2 },
      ...over,
    }),
  )
  return file
}

const ok = (r: { code: number | null; stderr: string }) => {
  if (r.code !== 0) throw new Error(r.stderr)
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "coopnets-video-e2e-"))
  gif = join(dir, "clip.gif")
  writeFileSync(gif, await encodeGif(videoAt({ values: clipValues(), shape: [1, FRAMES, SIDE, SIDE, 3] }, 0)))
})

const weights = (run: string) => readFileSync(join(run, "checkpoints", "final", "weights.bin"))

describe("a tiny dynamic-texture run", () => {
  let run = ""
  beforeAll(() => {
    run = join(dir, "run-a")
    ok(cli(config(), "--out", run))
  })

  it("writes metrics, GIF grids of drafts and revisions beside the observed clip, and checkpoints", async () => {
    expect(readFileSync(join(run, "metrics.jsonl"), "utf8").trim().split("\n")).toHaveLength(4)
    expect(readdirSync(join(run, "samples")).sort()).toEqual([
      "drafts-000002.gif",
      "drafts-000004.gif",
      "revised-000002.gif",
      "revised-000004.gif",
    ])
    const meta = await sharp(join(run, "samples", "revised-000004.gif"), { pages: -1 }).metadata()
    expect(meta.pages).toBe(T)
    expect(meta.pageHeight).toBe(SIDE)
    // the observed clip, the wide gap, then the two chains
    expect(meta.width).toBe(
      videoGrid(
        { values: new Float32Array(2 * T * SIDE * SIDE * 3), shape: [2, T, SIDE, SIDE, 3] },
        {
          lead: { values: new Float32Array(T * SIDE * SIDE * 3), shape: [1, T, SIDE, SIDE, 3] },
          columns: 2,
        },
      ).width,
    )
    expect(existsSync(join(run, "checkpoints", "final", "weights.bin"))).toBe(true)
    const config = JSON.parse(readFileSync(join(run, "config.json"), "utf8"))
    expect(config.data).toMatchObject({
      source: "video",
      frames: T,
      size: SIDE,
      every: 1,
      start: 0,
      fit: "cover",
    })
  })

  it("gives the same bytes again under the same seed", () => {
    const again = join(dir, "run-b")
    ok(cli(config(), "--out", again))
    expect(weights(again).equals(weights(run))).toBe(true)
    expect(
      readFileSync(join(again, "samples", "revised-000004.gif")).equals(
        readFileSync(join(run, "samples", "revised-000004.gif")),
      ),
    ).toBe(true)
  })

  it("killed after a checkpoint and resumed, ends byte-identical", async () => {
    const killed = join(dir, "run-killed")
    const child = spawn(process.execPath, ["dist/run.js", config(), "--out", killed], { stdio: "ignore" })
    const exited = new Promise<void>((resolve) => child.on("exit", () => resolve()))
    let finished = false
    void exited.then(() => {
      finished = true
    })
    const lines = () => {
      try {
        return readFileSync(join(killed, "metrics.jsonl"), "utf8")
          .split("\n")
          .filter((l) => l.endsWith("}")).length
      } catch {
        return 0
      }
    }
    while (!finished && lines() < 2) await new Promise((r) => setTimeout(r, 5))
    child.kill("SIGKILL")
    await exited
    expect(finished && existsSync(join(killed, "checkpoints", "final"))).toBe(false) // it was stopped halfway
    ok(cli("--resume", killed))
    expect(weights(killed).equals(weights(run))).toBe(true)
  })

  it("sample writes GIFs, MP4s, a grid beside the observed clip and N×T×H×W×C .npy in [0, 1]", async () => {
    ok(cli("sample", run, "--n", "3", "--langevin", "1", "--mp4"))
    const out = join(run, "sampled")
    expect(readdirSync(join(out, "gif")).sort()).toEqual(["000000.gif", "000001.gif", "000002.gif"])
    expect(readdirSync(join(out, "mp4"))).toHaveLength(3)
    expect(readFileSync(join(out, "grid.mp4")).subarray(4, 8).toString("latin1")).toBe("ftyp")
    const npy = decodeNpy(readFileSync(join(out, "samples.npy")))
    expect(npy.shape).toEqual([3, T, SIDE, SIDE, 3])
    expect(npy.values.every((v) => v >= 0 && v <= 1)).toBe(true)
    const grid = await sharp(join(out, "grid.gif"), { pages: -1 }).metadata()
    expect(grid.pages).toBe(T)
    const one = await sharp(join(out, "gif", "000001.gif"), { pages: -1 }).metadata()
    expect([one.pages, one.width, one.pageHeight]).toEqual([T, SIDE, SIDE])
  })

  it("interpolate walks between clips; evaluate scores clips and the floor", () => {
    ok(cli("interpolate", run, "--steps", "3", "--pairs", "2"))
    const frames = decodeNpy(readFileSync(join(run, "interpolated", "frames.npy")))
    expect(frames.shape).toEqual([2, 3, T, SIDE, SIDE, 3])
    expect(existsSync(join(run, "interpolated", "grid.gif"))).toBe(true)
    const r = cli("evaluate", run, "--n", "3")
    ok(r)
    expect(r.stdout).toContain("difference SWD")
    const report = JSON.parse(readFileSync(join(run, "evaluation", "evaluation.json"), "utf8"))
    expect(report.video.samples.perClip).toHaveLength(3)
    expect(report.video.observed.available).toBe(FRAMES)
    // windows of 26 frames every 13 that fit in 52: at 13 and 26
    expect(report.video.floor.starts).toEqual([13, 26])
    for (const k of ["differenceSwd", "transitionSwd", "frameSwd"]) {
      expect(report.video.samples.mean[k]).toBeGreaterThan(0)
      expect(report.video.floor.report.mean[k]).toBeGreaterThan(0)
    }
  })
})

describe("the same pipeline on other clips and bad settings", () => {
  it("trains unchanged on a video file and on a folder of frames (--set data.path=…)", async () => {
    const mp4 = join(dir, "clip.mp4")
    writeFileSync(
      mp4,
      await encodeMp4(videoAt({ values: clipValues(), shape: [1, FRAMES, SIDE, SIDE, 3] }, 0)),
    )
    const frames = join(dir, "frames")
    mkdirSync(frames)
    const stack = videoAt({ values: clipValues(), shape: [1, FRAMES, SIDE, SIDE, 3] }, 0)
    const size = SIDE * SIDE * 3
    for (let t = 0; t < FRAMES; t++)
      await sharp(stack.pixels.subarray(t * size, (t + 1) * size), {
        raw: { width: SIDE, height: SIDE, channels: 3 },
      })
        .png()
        .toFile(join(frames, `f${t}.png`))
    for (const [name, path] of [
      ["mp4", mp4],
      ["frames", frames],
    ]) {
      const out = join(dir, `other-${name}`)
      ok(cli(config(), "--set", `data.path=${path}`, "--set", "training.iterations=2", "--out", out))
      expect(readdirSync(join(out, "samples"))).toContain("revised-000002.gif")
    }
  })

  it("refuses mismatched nets and data, too short clips and the wasm backend, saying what to change", () => {
    const images = cli(config(), "--set", 'data={"source":"mnist","limit":8}', "--out", join(dir, "x1"))
    expect(images.code).not.toBe(0)
    expect(images.stderr).toMatch(/model\.arch "dynamicTexture" takes videos .* data\.source "video"/)
    const short = cli(config(), "--set", "data.frames=60", "--out", join(dir, "x2"))
    expect(short.code).not.toBe(0)
    expect(short.stderr).toContain(gif)
    expect(short.stderr).toMatch(/has 52 frames, too few for data\.frames 60/)
    const odd = cli(config(), "--set", "data.frames=27", "--out", join(dir, "x3"))
    expect(odd.stderr).toMatch(/number of frames must be even and at least 26, got 27.*data\.frames/)
    const wasm = cli(config(), "--set", "backend=wasm", "--out", join(dir, "x4"))
    expect(wasm.stderr).toMatch(/backend "wasm" cannot run video nets/)
    expect(existsSync(join(dir, "x2", "checkpoints"))).toBe(false)
  })
})
