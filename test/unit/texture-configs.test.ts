/**
 * The shipped texture configs: they decode and pass the spec checks, name an
 * exemplar that exists and is large enough for the quality measure at twice
 * the training crops, fit the fully convolutional nets, and the ablations
 * differ from `config/texture.json` only in their stages. The exemplars of the
 * README's table, at the scale and channels it gives, decode with the same
 * config.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs"
import { Effect } from "effect"
import sharp from "sharp"
import { describe, expect, it } from "vitest"
import { architectures, textureUpsampling } from "../../src/models/nets.js"
import { checkSpec } from "../../src/pipeline/config/checks.js"
import { decodeSpec, type PipelineSpec } from "../../src/pipeline/config/spec.js"

const decode = (file: string, ...overrides: Array<string>): Promise<PipelineSpec> =>
  Effect.runPromise(
    decodeSpec(readFileSync(file, "utf8"), file, overrides).pipe(Effect.flatMap((s) => checkSpec(s, file))),
  )

const textureConfigs = readdirSync("config")
  .filter((f) => /^texture.*\.json$/.test(f))
  .map((f) => `config/${f}`)

/** The exemplars the README's table scores, with the overrides it gives. */
const exemplars = [
  { path: "data/brick.png", scale: 0.5, channels: 1 },
  { path: "data/gravel.png", scale: 1, channels: 1 },
  { path: "data/grass.png", scale: 1, channels: 1 },
  { path: "data/pebbles.jpg", scale: 1, channels: 3 },
  { path: "data/wood.jpg", scale: 1, channels: 3 },
] as const

/** The exemplar's side lengths at `scale`, as the loader resizes it. */
const scaledSides = async (path: string, scale: number) => {
  const meta = await sharp(path).metadata()
  return [Math.round((meta.width ?? 0) * scale), Math.round((meta.height ?? 0) * scale)]
}

describe("the shipped texture configs", () => {
  it("are the main config and its two ablations", () => {
    expect(textureConfigs).toEqual([
      "config/texture-descriptor-alone.json",
      "config/texture-persistent.json",
      "config/texture.json",
    ])
  })

  it.each(textureConfigs)(
    "%s decodes, fits the texture nets and names an exemplar twice the crops",
    async (file) => {
      const spec = await decode(file)
      expect(spec.data.source).toBe("texture")
      if (spec.data.source !== "texture") return
      expect(architectures[spec.model.arch].fullyConvolutional).toBe(true)
      expect(spec.data.size % textureUpsampling(spec.model)).toBe(0)
      expect(existsSync(spec.data.path)).toBe(true)
      for (const side of await scaledSides(spec.data.path, spec.data.scale))
        expect(side).toBeGreaterThanOrEqual(2 * spec.data.size)
      expect(spec.notes).toContain("data.scale")
    },
  )

  it("config/texture.json trains CoopNets, lowers its learning rates towards the end, samples from the generator's moving average and recovers from divergence", async () => {
    const spec = await decode("config/texture.json")
    expect(spec.stages).toEqual({
      chains: "generator",
      revise: "langevin",
      updateDescriptor: "adam",
      teach: "mcmc",
    })
    expect(spec.optimizer.schedule.after).toBeLessThan(1)
    expect(spec.optimizer.schedule.final).toBeLessThan(1)
    expect(spec.generatorAverage.decay).toBeGreaterThan(0)
    expect(spec.recovery.retries).toBeGreaterThan(0)
  })

  it("the ablations change only the stages (and their sections) and the name", async () => {
    const main = await decode("config/texture.json")
    for (const file of ["config/texture-descriptor-alone.json", "config/texture-persistent.json"]) {
      const spec = await decode(file)
      expect(spec.stages.teach).toBe("none")
      expect(spec.stages.chains).not.toBe("generator")
      for (const key of ["seed", "data", "model", "langevin", "optimizer", "training", "recovery"] as const)
        expect([file, key, spec[key]]).toEqual([file, key, main[key]])
    }
  })

  it("the finer latent the README gives for wood (model.generatorChannels [64, 32]) decodes: 8 px latent cells instead of 16", async () => {
    const main = await decode("config/texture.json")
    const fine = await decode("config/texture.json", "model.generatorChannels=[64,32]")
    expect(textureUpsampling(main.model)).toBe(16)
    expect(textureUpsampling(fine.model)).toBe(8)
    expect(fine.data).toMatchObject({ source: "texture", size: 64 })
    expect({ ...fine.model, generatorChannels: main.model.generatorChannels }).toEqual(main.model)
  })

  it("the larger Langevin step the README gives for stochastic textures (langevin.stepSize 0.004) decodes: twice the config's, nothing else changed", async () => {
    const main = await decode("config/texture.json")
    const grass = await decode("config/texture.json", "data.path=data/grass.png", "langevin.stepSize=0.004")
    expect(grass.langevin.stepSize).toBe(2 * main.langevin.stepSize)
    expect({ ...grass.langevin, stepSize: main.langevin.stepSize }).toEqual(main.langevin)
    expect(main.notes).toContain("stochastic textures (gravel, grass, pebbles) set langevin.stepSize 0.004")
    for (const key of ["seed", "model", "optimizer", "training", "recovery"] as const)
      expect([key, grass[key]]).toEqual([key, main[key]])
  })

  it.each(exemplars)(
    "$path at scale $scale decodes with config/texture.json and leaves room for 2x crops in either half (the held-out floor)",
    async (e) => {
      const spec = await decode(
        "config/texture.json",
        `data.path=${e.path}`,
        `data.scale=${e.scale}`,
        `data.channels=${e.channels}`,
      )
      expect(spec.data).toMatchObject(e)
      for (const side of await scaledSides(e.path, e.scale)) expect(side).toBeGreaterThanOrEqual(4 * 64)
    },
  )
})
