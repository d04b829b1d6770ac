/**
 * A run directory written the way training writes one (config.json, run.json,
 * metrics.jsonl, samples/*.png, checkpoints/final/checkpoint.json), with
 * made-up but deterministic numbers: data for the report and TensorBoard
 * tests without training anything.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import sharp from "sharp"

export interface FakeRun {
  readonly dir: string
  readonly iterations: number
  readonly sampleEvery: number
  readonly evaluationEvery: number
}

export const iterationLine = (i: number, shift = 0) => ({
  iteration: i,
  epoch: Math.floor((i - 1) / 10),
  energy: { observed: -1000 * i + shift, drafted: 50 * Math.sin(i) + shift, revised: -900 * i + shift },
  descriptorLoss: Math.cos(i) * 10 + shift,
  generatorLoss: 1 / i + shift,
  reconstructionError: 0.5 / i,
  memory: { tensors: 60 + (i % 3), rssMb: 400 + i },
  ms: { load: 0.5, draft: 10 + i, revise: 100 + i, updateDescriptor: 20, teach: 30, iteration: 161 + 2 * i },
})

export const evaluationLine = (i: number) => ({
  iteration: i,
  evaluation: {
    count: 100,
    frechetDistance: 1000 / i,
    inceptionScore: 1 + i / 100,
    classHistogram: Array.from({ length: 10 }, (_, c) => (c === i % 10 ? 55 : 5)),
    classEntropy: 1.5,
    copyFraction: 0,
    medianNearestTrainDistance: 8,
    langevin: 0,
    ms: 300,
  },
})

/** A grey grid with a pattern that depends on the iteration. */
export const gridPng = (iteration: number, size = 56): Promise<Buffer> => {
  const pixels = Buffer.alloc(size * size)
  for (let k = 0; k < pixels.length; k++) pixels[k] = (k * 7 + iteration * 13) % 256
  return sharp(pixels, { raw: { width: size, height: size, channels: 1 } })
    .png()
    .toBuffer()
}

export const fakeRun = async (
  o: {
    iterations?: number
    sampleEvery?: number
    evaluationEvery?: number
    final?: boolean
    config?: Record<string, unknown>
  } = {},
): Promise<FakeRun> => {
  const iterations = o.iterations ?? 20
  const sampleEvery = o.sampleEvery ?? 5
  const evaluationEvery = o.evaluationEvery ?? 10
  const dir = mkdtempSync(join(tmpdir(), "coopnets-report-"))
  const config = {
    name: "fake",
    seed: 7,
    data: { source: "mnist", split: "train", limit: 64 },
    stages: { chains: "generator", revise: "langevin", updateDescriptor: "adam", teach: "mcmc" },
    training: { iterations, batchSize: 8, chains: 4 },
    output: { sampleEvery, checkpointEvery: 0, logEvery: 1, keepCheckpoints: 3 },
    ...o.config,
  }
  writeFileSync(join(dir, "config.json"), `${JSON.stringify(config, null, 2)}\n`)
  writeFileSync(
    join(dir, "run.json"),
    `${JSON.stringify(
      {
        source: "config/fake.json",
        backend: { name: "cpu", attempts: [{ name: "tensorflow", ok: false, reason: "not built" }] },
        tfjs: "4.22.0",
        node: "v22.0.0",
        started: "2026-11-24T07:00:00.000Z",
      },
      null,
      2,
    )}\n`,
  )
  const lines: Array<string> = []
  mkdirSync(join(dir, "samples"))
  for (let i = 1; i <= iterations; i++) {
    lines.push(JSON.stringify(iterationLine(i)))
    if (evaluationEvery > 0 && i % evaluationEvery === 0) lines.push(JSON.stringify(evaluationLine(i)))
    if (i % sampleEvery === 0 || i === iterations) {
      const stamp = String(i).padStart(6, "0")
      writeFileSync(join(dir, "samples", `drafts-${stamp}.png`), await gridPng(i))
      writeFileSync(join(dir, "samples", `revised-${stamp}.png`), await gridPng(i + 1000))
    }
  }
  writeFileSync(join(dir, "metrics.jsonl"), `${lines.join("\n")}\n`)
  if (o.final !== false) {
    mkdirSync(join(dir, "checkpoints", "final"), { recursive: true })
    writeFileSync(
      join(dir, "checkpoints", "final", "checkpoint.json"),
      JSON.stringify({ format: "coopnets-checkpoint", iteration: iterations }),
    )
  }
  return { dir, iterations, sampleEvery, evaluationEvery }
}
