/**
 * The image experiments through the real command line (`node dist/run.js`):
 * a tiny texture run then `sample --size` (larger than the crops) and
 * `interpolate`; a folder run that skips a corrupt file and reports it; a
 * CIFAR-10 run on binary batches the test writes.
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import sharp from "sharp"
import { beforeAll, describe, expect, it } from "vitest"
import { CIFAR_RECORD } from "../../src/pipeline/data/cifar10.js"
import { cli as run, testBackend } from "../support.js"

const cli = (...args: Array<string>) => {
  const r = run(...args)
  return { ...r, last: lastLine(r.stderr) }
}
/** The summary or error line (the backend line comes first). */
const lastLine = (text: string) => `${text.trimEnd().split("\n").pop()}\n`
const scratch = () => mkdtempSync(join(tmpdir(), "coopnets-images-"))

const tinyRun = (name: string, data: unknown, model: unknown, batchSize: number) => ({
  name,
  backend: testBackend,
  data,
  model,
  langevin: { steps: 2 },
  training: { iterations: 2, batchSize, chains: 4 },
  output: { sampleEvery: 2, logEvery: 1 },
})

const npyShape = (file: string) => /'shape': \(([^)]*)\)/.exec(readFileSync(file, "latin1"))?.[1]

describe("--help", () => {
  it("documents interpolate, sample --size and every data source's fields", () => {
    const help = cli("--help").stdout
    expect(help).toContain("node dist/run.js interpolate [flags] <run-dir|checkpoint-dir>")
    expect(help).toMatch(/--size N +texture nets: synthesise S×S images/)
    for (const source of ["mnist", "folder", "cifar10", "texture"])
      expect(help).toContain(`data.source "${source}"`)
    for (const field of ["data.strict", "data.files", "data.crops", "data.normalize"])
      expect(help).toContain(field)
  })
})

describe("texture: train, sample larger, interpolate", () => {
  let dir: string
  beforeAll(() => {
    dir = scratch()
    const file = join(dir, "texture.json")
    writeFileSync(
      file,
      JSON.stringify(
        tinyRun(
          "tex",
          { source: "texture", path: "data/brick.png", size: 32, crops: 8, scale: 0.5, channels: 1 },
          {
            arch: "texture",
            descriptorChannels: [4, 3, 2],
            descriptorUnits: 1,
            zDim: 1,
            generatorChannels: [6, 4],
          },
          4,
        ),
      ),
    )
    const r = cli(file, "--out", join(dir, "run"))
    expect(r.stderr).toContain("[tex] done: 2 iterations")
    expect(r.code).toBe(0)
  })

  it("writes 32x32 grey sample grids of the crops' size", async () => {
    const meta = await sharp(join(dir, "run", "samples", "drafts-000002.png")).metadata()
    expect([meta.width, meta.height]).toEqual([2 * 33 - 1, 2 * 33 - 1])
  })

  it("sample --size 64 synthesises images twice the training size, with descriptor Langevin steps", () => {
    const r = cli("sample", join(dir, "run"), "--n", "3", "--size", "64", "--langevin", "2")
    expect(r.last).toBe(`Wrote 3 samples [3,64,64] to ${join(dir, "run", "sampled")}.\n`)
    expect(npyShape(join(dir, "run", "sampled", "samples.npy"))).toBe("3, 64, 64")
  })

  it("sample --size refuses a size the generator cannot make", () => {
    const r = cli("sample", join(dir, "run"), "--size", "50", "--out", join(dir, "bad"))
    expect(r.code).toBe(2)
    expect(r.last).toBe(
      "error: --size must be a multiple of 8 for this texture generator (each of its 3 upsampling layers doubles the side), got 50.\n",
    )
  })

  it("interpolate writes a grid with one row per pair and frames.npy", async () => {
    const out = join(dir, "interp")
    const r = cli(
      "interpolate",
      join(dir, "run"),
      "--steps",
      "5",
      "--pairs",
      "2",
      "--mode",
      "spherical",
      "--out",
      out,
    )
    expect(r.last).toBe(`Wrote 2 interpolations of 5 frames [2,5,32,32] to ${out} (grid.png, frames.npy).\n`)
    const meta = await sharp(join(out, "grid.png")).metadata()
    expect([meta.width, meta.height]).toEqual([5 * 33 - 1, 2 * 33 - 1])
    expect(npyShape(join(out, "frames.npy"))).toBe("2, 5, 32, 32")
    expect(cli("interpolate", join(dir, "run"), "--out", out).last).toBe(
      `error: ${out} already exists and is not empty. Pass --out DIR to write elsewhere, or --force to replace its files.\n`,
    )
  })

  it("interpolate rejects an unknown mode", () => {
    const r = cli("interpolate", join(dir, "run"), "--mode", "cubic")
    expect(r.code).toBe(2)
    expect(r.stderr).toBe('error: --mode must be "linear" or "spherical", got "cubic".\n')
  })
})

describe("folder and CIFAR-10 runs", () => {
  it("a folder run skips a corrupt file with a warning naming it and trains on the rest", async () => {
    const dir = scratch()
    const images = join(dir, "images")
    mkdirSync(join(images, "sub"), { recursive: true })
    for (let i = 0; i < 4; i++)
      writeFileSync(
        join(images, i % 2 === 0 ? "sub" : "", `img${i}.png`),
        await sharp({
          create: { width: 40 + i, height: 30, channels: 3, background: { r: 60 * i, g: 100, b: 20 } },
        })
          .composite([
            {
              input: {
                create: { width: 10, height: 10, channels: 3, background: { r: 250, g: 250, b: 250 } },
              },
              left: 5,
              top: 5,
            },
          ])
          .png()
          .toBuffer(),
      )
    writeFileSync(join(images, "corrupt.png"), Buffer.from("\x89PNG\r\n\x1a\nbroken"))
    const file = join(dir, "folder.json")
    writeFileSync(
      file,
      JSON.stringify(
        tinyRun(
          "folder",
          { source: "folder", path: images },
          {
            arch: "object64",
            descriptorChannels: [3, 3, 3],
            descriptorUnits: 2,
            zDim: 4,
            generatorChannels: [4, 4, 3, 3],
          },
          4,
        ),
      ),
    )
    const r = cli(file, "--out", join(dir, "run"))
    expect(r.code).toBe(0)
    expect(r.stderr).toContain(
      `warning: data.path: skipped 1 of 5 files that cannot be decoded as images: ${join(images, "corrupt.png")} (`,
    )
    expect(existsSync(join(dir, "run", "checkpoints", "final", "weights.bin"))).toBe(true)
    const strict = cli(file, "--out", join(dir, "strict"), "--set", "data.strict=true")
    expect(strict.code).toBe(1)
    expect(strict.last).toMatch(/^error: data\.path: .*corrupt\.png \(.*\) cannot be decoded as an image\. /)
    expect(existsSync(join(dir, "strict"))).toBe(false)
  })

  it("a CIFAR-10 run reads binary batches from a folder", () => {
    const dir = scratch()
    const batches = join(dir, "cifar-10-batches-bin")
    mkdirSync(batches)
    const bytes = new Uint8Array(6 * CIFAR_RECORD).map((_, i) => (i * 37) % 256)
    writeFileSync(join(batches, "data_batch_1.bin"), bytes)
    const file = join(dir, "cifar.json")
    writeFileSync(
      file,
      JSON.stringify(
        tinyRun(
          "cifar",
          { source: "cifar10", files: [batches] },
          {
            arch: "cifar32",
            descriptorChannels: [3, 3, 3],
            descriptorUnits: 2,
            zDim: 4,
            generatorChannels: [4, 3, 3],
          },
          3,
        ),
      ),
    )
    const r = cli(file, "--out", join(dir, "run"))
    expect(r.stderr).toContain("[cifar] done: 2 iterations")
    expect(r.code).toBe(0)
    const sampled = cli("sample", join(dir, "run"), "--n", "2", "--langevin", "1")
    expect(sampled.last).toBe(`Wrote 2 samples [2,32,32,3] to ${join(dir, "run", "sampled")}.\n`)
  })
})
