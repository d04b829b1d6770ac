/**
 * End to end for the ablations: each variant trains a few iterations of tiny
 * nets through the real scheduler; `compare` runs several pipelines with one
 * seed and budget and writes the table and the side-by-side image.
 */
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { NodeServices } from "@effect/platform-node"
import { Effect } from "effect"
import sharp from "sharp"
import { beforeAll, describe, expect, it } from "vitest"
import { parseArgs } from "../../src/pipeline/commands/cli.js"
import { compare, markdownTable, summarize } from "../../src/pipeline/commands/compare.js"
import { sample } from "../../src/pipeline/commands/sample.js"
import type { PipelineSpec } from "../../src/pipeline/config/spec.js"
import { train } from "../../src/pipeline/training/train.js"
import { tinySpec, useTestBackend } from "../support.js"

const run = <A, E>(effect: Effect.Effect<A, E, NodeServices.NodeServices>) =>
  Effect.runPromise(effect.pipe(Effect.provide(NodeServices.layer)))

const scratch = () => mkdtempSync(join(tmpdir(), "coopnets-compare-"))
const base = tinySpec({ training: { iterations: 3, batchSize: 8, chains: 6 } })

const variants: Record<string, PipelineSpec> = {
  persistent: { ...base, stages: { ...base.stages, chains: "persistent", teach: "none" } },
  "descriptor-alone": { ...base, stages: { ...base.stages, chains: "noise", teach: "none" } },
  "generator-alone": {
    ...base,
    stages: { chains: "generator", revise: "none", updateDescriptor: "none", teach: "abp" },
    latentLangevin: { steps: 2, stepSize: 0.1, noise: true },
  },
  "no-teaching": { ...base, stages: { ...base.stages, teach: "none" } },
  zrevision: { ...base, latentLangevin: { steps: 2, stepSize: 0.1, noise: true } },
  conditional: {
    ...base,
    model: { ...base.model, arch: "mnistConditional" },
    stages: { ...base.stages, chains: "conditional" },
    training: { iterations: 3, batchSize: 6, chains: 6 },
  },
}

const metrics = (dir: string) =>
  readFileSync(join(dir, "metrics.jsonl"), "utf8")
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l))

beforeAll(async () => {
  await useTestBackend()
})

describe.each(Object.entries(variants))("train with the %s variant", (name, spec) => {
  it("writes metrics, grids and a final checkpoint", async () => {
    const outDir = join(scratch(), name)
    await run(train(spec, { source: `${name}.json`, outDir, force: false, quiet: true }))
    const lines = metrics(outDir)
    expect(lines.map((l) => l.iteration)).toEqual([1, 2, 3])
    const descriptorTrained = spec.stages.updateDescriptor !== "none"
    for (const l of lines) {
      expect(Number.isFinite(l.descriptorLoss)).toBe(descriptorTrained)
      expect(Number.isFinite(l.energy.revised)).toBe(descriptorTrained)
      expect(l.reconstructionError === null).toBe(spec.stages.teach === "none")
    }
    expect(readdirSync(join(outDir, "samples")).sort()).toEqual([
      "drafts-000002.png",
      "drafts-000003.png",
      "revised-000002.png",
      "revised-000003.png",
    ])
    const manifest = JSON.parse(readFileSync(join(outDir, "checkpoints", "final", "checkpoint.json"), "utf8"))
    const names = manifest.weightsManifest[0].weights.map((w: { name: string }) => w.name)
    // the persistent buffer is trained state: the checkpoint carries it
    expect(names.includes("state/chains/persistent")).toBe(spec.stages.chains === "persistent")
    if (spec.stages.chains === "persistent")
      expect(
        manifest.weightsManifest[0].weights.find(
          (w: { name: string }) => w.name === "state/chains/persistent",
        ).shape,
      ).toEqual([6, 28, 28, 1])
  })
})

describe("sample --class", () => {
  it("draws every sample of one digit from conditional nets, and refuses a class for other nets", async () => {
    const dir = scratch()
    const runDir = join(dir, "conditional")
    await run(
      train(variants.conditional as PipelineSpec, {
        source: "c.json",
        outDir: runDir,
        force: false,
        quiet: true,
      }),
    )
    const draw = (label: number | undefined, count: number, out: string) =>
      run(
        sample({
          location: runDir,
          count,
          langevinSteps: 1,
          seed: 0,
          outDir: join(dir, out),
          force: false,
          quiet: true,
          label,
        }),
      )
    const values = (out: string) => {
      const b = readFileSync(join(dir, out, "samples.npy"))
      const header = b.readUInt16LE(8)
      return new Float32Array(b.buffer.slice(b.byteOffset + 10 + header, b.byteOffset + b.byteLength))
    }
    // one sample (batch norm couples a batch): same z and noise, only the label differs
    await draw(undefined, 1, "cycle") // sample 0 → class 0
    await draw(0, 1, "zero")
    await draw(3, 1, "three")
    expect(values("zero")).toEqual(values("cycle"))
    expect(values("three")).not.toEqual(values("cycle"))
    await draw(3, 4, "threes")
    expect(values("threes").length).toBe(4 * 784)
    const wrong = await run(
      sample({
        location: runDir,
        count: 4,
        langevinSteps: 0,
        seed: 0,
        outDir: join(dir, "x"),
        force: false,
        quiet: true,
        label: 10,
      }).pipe(Effect.flip),
    )
    expect(wrong.message).toBe("--class must be a digit from 0 to 9, got 10.")
    const plainDir = join(dir, "plain")
    await run(train(base, { source: "b.json", outDir: plainDir, force: false, quiet: true }))
    const plain = await run(
      sample({
        location: plainDir,
        count: 4,
        langevinSteps: 0,
        seed: 0,
        outDir: join(dir, "y"),
        force: false,
        quiet: true,
        label: 1,
      }).pipe(Effect.flip),
    )
    expect(plain.message).toBe(
      '--class needs class-conditional nets (model.arch "mnistConditional"); this checkpoint\'s "mnist" nets take no class.',
    )
  })
})

describe("compare", () => {
  let dir: string
  let outDir: string
  let files: Array<string>
  beforeAll(async () => {
    dir = scratch()
    outDir = join(dir, "out")
    files = ["cooperative", "descriptor-alone", "generator-alone"].map((name) => {
      const file = join(dir, `${name}.json`)
      const spec = name === "cooperative" ? base : (variants[name] as PipelineSpec)
      // different seeds and budgets in the files: compare puts every run on the first file's
      writeFileSync(
        file,
        JSON.stringify({
          ...spec,
          name,
          seed: name === "cooperative" ? 3 : 9,
          training: { ...spec.training, iterations: 5 },
        }),
      )
      return file
    })
    await run(compare({ files, iterations: 2, seed: undefined, outDir, force: false, quiet: true }))
  })

  it("trains every pipeline with one seed and one budget, each in its own directory", () => {
    expect(readdirSync(outDir).sort()).toEqual([
      "compare.json",
      "compare.md",
      "compare.png",
      "cooperative",
      "descriptor-alone",
      "generator-alone",
      "report.html",
    ])
    for (const name of ["cooperative", "descriptor-alone", "generator-alone"]) {
      const config = JSON.parse(readFileSync(join(outDir, name, "config.json"), "utf8"))
      expect([config.seed, config.training.iterations]).toEqual([3, 2])
      expect(metrics(join(outDir, name)).length).toBe(2)
    }
  })

  it("writes the table from each run's metrics.jsonl", () => {
    const table = JSON.parse(readFileSync(join(outDir, "compare.json"), "utf8"))
    expect([table.iterations, table.seed, table.tail]).toEqual([2, 3, 10])
    expect(table.runs.map((r: { run: string }) => r.run)).toEqual([
      "cooperative",
      "descriptor-alone",
      "generator-alone",
    ])
    const lines = metrics(join(outDir, "generator-alone"))
    const abp = table.runs[2]
    expect(abp.reconstructionError).toBeCloseTo(
      (lines[0].reconstructionError + lines[1].reconstructionError) / 2,
      10,
    )
    expect([abp.energyObserved, abp.descriptorLoss]).toEqual([null, null])
    expect(table.runs[1].reconstructionError).toBe(null)
    expect(abp.msPerIteration).toBe(lines[1].ms.iteration)
    const md = readFileSync(join(outDir, "compare.md"), "utf8")
    expect(md).toContain("2 iterations per run, seed 3")
    expect(md).toContain("| generator-alone | generator | none | none | abp | – | – | – | – |")
  })

  it("writes each run's final revised grid side by side under a label", async () => {
    const grid = await sharp(join(outDir, "cooperative", "samples", "revised-000002.png")).metadata()
    const meta = await sharp(join(outDir, "compare.png")).metadata()
    // 3 grids of 6 tiles (3x2 of 28 px, 1 px gaps) with 8 px margins, 22 px labels above
    expect([grid.width, grid.height]).toEqual([86, 57])
    expect([meta.width, meta.height, meta.format]).toEqual([3 * 86 + 4 * 8, 57 + 22 + 8, "png"])
  })

  it("writes the comparison report: every run's curves overlaid, their final grids side by side", () => {
    const html = readFileSync(join(outDir, "report.html"), "utf8")
    expect(html).toContain("<h1>Comparison of 3 runs</h1>")
    // the reconstruction error: the cooperative run and the generator alone have one, 2 points each
    expect(html).toContain(
      'id="chart-reconstructionError" data-kind="line" data-points="{&quot;cooperative&quot;:2,&quot;generator-alone&quot;:2}"',
    )
    for (const name of ["cooperative", "descriptor-alone", "generator-alone"])
      expect(html).toContain(`<b>${name}</b>, iteration 2`)
    // each run also has its own report.html
    for (const name of ["cooperative", "descriptor-alone", "generator-alone"])
      expect(readFileSync(join(outDir, name, "report.html"), "utf8")).toContain('data-live="false"')
  })

  it("refuses to overwrite a comparison without --force, and fails on a bad file before training", async () => {
    const again = await run(
      compare({ files, iterations: 2, seed: undefined, outDir, force: false, quiet: true }).pipe(Effect.flip),
    )
    expect(again.message).toBe(
      `Comparison directory ${outDir} already exists and is not empty. Pass --out DIR to write elsewhere, or --force to replace it.`,
    )
    const bad = join(dir, "bad.json")
    writeFileSync(bad, JSON.stringify({ stages: { chains: "noise" } }))
    const fresh = join(dir, "fresh")
    const error = await run(
      compare({
        files: [files[0] as string, bad],
        iterations: 2,
        seed: undefined,
        outDir: fresh,
        force: false,
        quiet: true,
      }).pipe(Effect.flip),
    )
    expect(error.message).toBe(
      `${bad}: stages.teach "mcmc" needs chains that carry the z that drafted them (it regresses g(z) onto the revised samples), which stages.chains "noise" does not provide; use stages.chains "generator", "persistent" (with persistent.reinitFrom "generator") or "conditional".`,
    )
    expect(readdirSync(dir)).not.toContain("fresh")
  })
})

describe("compare summaries and command line", () => {
  it("average the last 10 iterations and time all but the first", () => {
    const lines = Array.from({ length: 12 }, (_, i) => ({
      iteration: i + 1,
      epoch: 0,
      energy: { observed: i, drafted: null, revised: 2 * i },
      descriptorLoss: 1,
      generatorLoss: null,
      reconstructionError: null,
      memory: { tensors: 10, rssMb: 100 },
      ms: { iteration: i === 0 ? 1000 : 10 },
    }))
    const row = summarize("r", "r.json", base.stages, lines)
    expect(row).toMatchObject({
      iterations: 12,
      energyObserved: 6.5,
      energyDrafted: null,
      energyRevised: 13,
      msPerIteration: 10,
    })
    expect(markdownTable([row]).split("\n")[2]).toBe(
      "| r | generator | langevin | adam | mcmc | 6.5000 | – | 13.0000 | 1.0000 | – | 10 |",
    )
  })

  it("parses compare arguments and rejects too few files", async () => {
    expect(
      await Effect.runPromise(
        parseArgs(["compare", "a.json", "b.json", "--iterations", "60", "--out", "o"]).pipe(
          Effect.provide(NodeServices.layer),
        ),
      ),
    ).toEqual({
      kind: "compare",
      files: ["a.json", "b.json"],
      overrides: [],
      iterations: 60,
      seed: undefined,
      outDir: "o",
      force: false,
    })
    const error = await Effect.runPromise(
      parseArgs(["compare", "a.json"]).pipe(Effect.flip, Effect.provide(NodeServices.layer)),
    )
    expect(error.message).toBe(
      "compare needs two or more pipeline files, e.g. `node dist/run.js compare config/mnist-quick.json config/mnist-descriptor-alone.json --iterations 60`.",
    )
  })
})
