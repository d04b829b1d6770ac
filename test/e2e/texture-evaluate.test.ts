/**
 * `evaluate` on textures through the real command line: a tiny texture run
 * scored at twice its training size against its own exemplar, the descriptor
 * alone's chains started from noise, any .npy scored against an --exemplar
 * (crops of the exemplar land near the floor, noise far from it), and the
 * errors a user can make, each with its message.
 */
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import sharp from "sharp"
import { beforeAll, describe, expect, it } from "vitest"
import { rootKey, uniforms } from "../../src/models/random.js"
import { encodeNpy } from "../../src/pipeline/run-dir/image-files.js"
import { cli, testBackend } from "../support.js"

const lastLine = (text: string) => `${text.trimEnd().split("\n").pop()}\n`
const scratch = () => mkdtempSync(join(tmpdir(), "coopnets-texture-eval-"))

interface TextureSection {
  readonly side: number
  readonly exemplar: { readonly path: string; readonly scale: number; readonly shape: ReadonlyArray<number> }
  readonly floor: { readonly crops: number; readonly mean: { readonly style: number; readonly swd: number } }
  readonly images: { readonly count: number; readonly mean: { readonly style: number; readonly swd: number } }
  readonly overFloor: {
    readonly style: number
    readonly swd: number
    readonly styleByScale: ReadonlyArray<number>
  }
  readonly withinFloorFactor: boolean
  readonly heldOut?: {
    readonly floor: {
      readonly crops: number
      readonly mean: { readonly style: number; readonly swd: number }
    }
    readonly overFloor: { readonly style: number; readonly swd: number }
    readonly withinFloorFactor: boolean
  }
}
const textureOf = (dir: string): TextureSection =>
  JSON.parse(readFileSync(join(dir, "evaluation.json"), "utf8")).texture

const tinyTexture = (chains: Record<string, string> = {}) => ({
  name: "tex",
  backend: testBackend,
  data: { source: "texture", path: "data/brick.png", size: 32, crops: 8, scale: 0.5, channels: 1 },
  model: {
    arch: "texture",
    descriptorChannels: [4, 3, 2],
    descriptorUnits: 1,
    zDim: 1,
    generatorChannels: [6, 4],
  },
  stages: chains,
  langevin: { steps: 2 },
  training: { iterations: 2, batchSize: 4, chains: 4 },
  output: { sampleEvery: 2, logEvery: 1 },
})

/** The exemplar as the measure reads it: data/brick.png halved, min-max scaled to [0, 1]. */
const brickAtHalf = async () => {
  const meta = await sharp("data/brick.png").metadata()
  const { data, info } = await sharp("data/brick.png")
    .greyscale()
    .resize(Math.round((meta.width ?? 0) / 2), Math.round((meta.height ?? 0) / 2), { fit: "fill" })
    .raw()
    .toBuffer({ resolveWithObject: true })
  const lo = Math.min(...data)
  const hi = Math.max(...data)
  return { pixels: Float32Array.from(data, (v) => (v - lo) / (hi - lo)), width: info.width }
}

describe("evaluate a texture run", () => {
  let dir: string
  beforeAll(() => {
    dir = scratch()
    for (const [name, stages] of [
      ["coop", {}],
      ["alone", { chains: "noise", teach: "none" }],
    ] as const) {
      const file = join(dir, `${name}.json`)
      writeFileSync(file, JSON.stringify(tinyTexture(stages)))
      const r = cli(file, "--out", join(dir, name))
      expect(r.stderr).toContain("[tex] done: 2 iterations")
    }
  })

  it("samples at twice the training size and scores them against the run's exemplar and its floor", () => {
    const r = cli("evaluate", join(dir, "coop"), "--n", "2")
    expect(r.code).toBe(0)
    expect(r.stderr).toContain(
      `Sampling 2 64x64x1 images from ${join(dir, "coop", "checkpoints", "final")}: g(z), then langevin 2 (seed 0) ...`,
    )
    expect(r.stdout).toContain(
      "Texture quality against the exemplar data/brick.png (scale 0.5: 256x256x1), 64x64 images:",
    )
    expect(r.stdout).toContain("| floor: 16 other crops of the exemplar | 16 |")
    const t = textureOf(join(dir, "coop", "evaluation"))
    expect(t.side).toBe(64)
    expect(t.exemplar).toEqual({ path: "data/brick.png", scale: 0.5, shape: [256, 256, 1] })
    expect(t.images.count).toBe(2)
    expect(t.floor.crops).toBe(16)
    expect(t.overFloor.styleByScale).toHaveLength(4)
    // two iterations make no texture: far from the floor
    expect(t.overFloor.swd).toBeGreaterThan(2)
    expect(t.withinFloorFactor).toBe(false)
  })

  it("--size picks another sample size; the descriptor alone's chains start from noise", () => {
    const r = cli("evaluate", join(dir, "alone"), "--n", "2", "--size", "48")
    expect(r.code).toBe(0)
    expect(r.stderr).toContain("Sampling 2 48x48x1 images from")
    expect(r.stderr).toContain(": chains from noise, then langevin 2 (seed 0) ...")
    expect(textureOf(join(dir, "alone", "evaluation")).side).toBe(48)
  })

  it("rejects a size the generator cannot make or the exemplar cannot crop", () => {
    const bad = cli("evaluate", join(dir, "coop"), "--size", "50", "--out", join(dir, "bad"))
    expect(bad.code).toBe(2)
    expect(lastLine(bad.stderr)).toContain("--size must be a multiple of 8 for this texture generator")
    const large = cli("evaluate", join(dir, "coop"), "--n", "1", "--size", "512", "--out", join(dir, "large"))
    expect(large.code).toBe(1)
    expect(lastLine(large.stderr)).toBe(
      `error: ${join(dir, "coop", "checkpoints", "final")} holds 512x512 images but the exemplar data/brick.png is 256x256 at scale 0.5: the floor needs crops of the exemplar as large as the images. Evaluate smaller images (--size) or raise --scale.\n`,
    )
  })
})

describe("evaluate any images against --exemplar", () => {
  let dir: string
  let crops: string
  let noise: string
  beforeAll(async () => {
    dir = scratch()
    const { pixels, width } = await brickAtHalf()
    const side = 96
    const count = 4
    const values = new Float32Array(count * side * side)
    for (let k = 0; k < count; k++)
      for (let y = 0; y < side; y++) {
        const from = (20 + 37 * k + y) * width + 11 + 41 * k
        values.set(pixels.subarray(from, from + side), (k * side + y) * side)
      }
    crops = join(dir, "crops.npy")
    writeFileSync(crops, encodeNpy(values, [count, side, side]))
    noise = join(dir, "noise.npy")
    writeFileSync(noise, encodeNpy(uniforms(rootKey(1), 2 * side * side), [2, side, side]))
  })

  it("puts crops of the exemplar within the floor factor and noise far outside it", () => {
    const near = cli("evaluate", crops, "--exemplar", "data/brick.png", "--scale", "0.5")
    expect(near.code).toBe(0)
    const t = textureOf(join(dir, "crops-evaluation"))
    expect(t.side).toBe(96)
    expect(t.overFloor.style).toBeLessThan(1.6)
    expect(t.overFloor.swd).toBeLessThan(1.6)
    expect(t.withinFloorFactor).toBe(true)
    expect(near.stdout).toContain("within 2x the floor on both")
    // crops of one half against the other: the held-out floor is not below the in-exemplar one
    expect(t.heldOut?.floor.crops).toBe(16)
    expect(t.heldOut?.floor.mean.style).toBeGreaterThan(t.floor.mean.style)
    expect(t.heldOut?.withinFloorFactor).toBe(true)
    expect(near.stdout).toContain("within 2x the held-out floor on both")
    const far = cli("evaluate", noise, "--exemplar", "data/brick.png", "--scale", "0.5")
    expect(far.code).toBe(0)
    const n = textureOf(join(dir, "noise-evaluation"))
    expect(n.overFloor.style).toBeGreaterThan(3)
    expect(n.overFloor.swd).toBeGreaterThan(3)
    expect(far.stdout).toContain("not within 2x the floor on both")
    expect(n.heldOut?.overFloor.style).toBeGreaterThan(3)
    expect(n.heldOut?.overFloor.swd).toBeGreaterThan(3)
    expect(far.stdout).toContain("not within 2x the held-out floor on both")
    // 160 px images fit the 256 px exemplar but not its 256x128 halves
    const big = join(dir, "big.npy")
    writeFileSync(big, encodeNpy(uniforms(rootKey(2), 160 * 160), [1, 160, 160]))
    const wide = cli("evaluate", big, "--exemplar", "data/brick.png", "--scale", "0.5")
    expect(wide.code).toBe(0)
    expect(wide.stdout).toContain(
      "Held-out floor: not computed (160x160 crops do not fit in half the exemplar, 256x256).",
    )
    expect(textureOf(join(dir, "big-evaluation")).heldOut).toBeUndefined()
  })

  it("names what is wrong: a missing exemplar, --scale or --size without what they go with", () => {
    const missing = cli("evaluate", crops, "--exemplar", "nowhere.png", "--out", join(dir, "e1"))
    expect(missing.code).toBe(1)
    expect(lastLine(missing.stderr)).toBe(
      "error: --exemplar nowhere.png cannot be decoded (Input file is missing: nowhere.png). Pass a JPEG, PNG or WebP image of the texture (e.g. data/brick.png).\n",
    )
    const scale = cli("evaluate", crops, "--scale", "0.5", "--out", join(dir, "e2"))
    expect(scale.code).toBe(2)
    expect(lastLine(scale.stderr)).toBe(
      "error: --scale goes with --exemplar (the texture exemplar it resizes).\n",
    )
    const size = cli(
      "evaluate",
      crops,
      "--exemplar",
      "data/brick.png",
      "--size",
      "64",
      "--out",
      join(dir, "e3"),
    )
    expect(size.code).toBe(2)
    expect(lastLine(size.stderr)).toBe(
      `error: --langevin, --seed, --size, --weights and --sampler apply to sampling from a checkpoint; ${crops} is a set of images.\n`,
    )
    const badScale = cli(
      "evaluate",
      crops,
      "--exemplar",
      "data/brick.png",
      "--scale",
      "-1",
      "--out",
      join(dir, "e4"),
    )
    expect(badScale.code).toBe(2)
    expect(badScale.stderr).toContain('--scale must be a number > 0, got "-1".')
    const none = cli("evaluate", crops, "--out", join(dir, "e5"))
    expect(none.code).toBe(1)
    expect(lastLine(none.stderr)).toContain(
      "or --exemplar IMAGE to score them as textures against that exemplar.",
    )
  })
})
