/**
 * Loader contracts for the image sources (folder, CIFAR-10 binary batches,
 * texture exemplar): sizes, value ranges, skipped and fatal files with their
 * exact messages; and the spec checks that tie an architecture to its data.
 * Every file is written by the test itself.
 */
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { NodeServices } from "@effect/platform-node"
import { Effect, Schema } from "effect"
import sharp from "sharp"
import { beforeAll, describe, expect, it } from "vitest"
import { checkSpec } from "../../src/pipeline/config/checks.js"
import { FolderData, TextureData } from "../../src/pipeline/config/data-spec.js"
import { decodeSpec } from "../../src/pipeline/config/spec.js"
import { CIFAR_RECORD, loadCifar10 } from "../../src/pipeline/data/cifar10.js"
import { loadDataset } from "../../src/pipeline/data/dataset.js"
import { decodeImage, minMaxScale } from "../../src/pipeline/data/decode.js"
import { loadFolder } from "../../src/pipeline/data/folder.js"
import { loadTexture } from "../../src/pipeline/data/texture.js"

const run = <A, E>(effect: Effect.Effect<A, E, NodeServices.NodeServices>) =>
  Effect.runPromise(effect.pipe(Effect.provide(NodeServices.layer)))
const failure = <A, E extends { message: string }>(effect: Effect.Effect<A, E, NodeServices.NodeServices>) =>
  run(effect.pipe(Effect.flip)).then((e) => e.message)

const scratch = () => mkdtempSync(join(tmpdir(), "coopnets-data-"))

/** A w×h image whose pixels vary (a diagonal ramp in each channel) so min-max scaling is visible. */
const ramp = (w: number, h: number, format: "png" | "jpeg" | "webp", channels: 1 | 3 = 3) => {
  const pixels = Buffer.alloc(w * h * channels)
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++)
      for (let c = 0; c < channels; c++) pixels[(y * w + x) * channels + c] = 40 + ((x + y + c * 7) % 120)
  return sharp(pixels, { raw: { width: w, height: h, channels } })
    .toFormat(format, format === "png" ? {} : { quality: 100 })
    .toBuffer()
}

/** Each source's fields at their defaults (the folder's path is required: a placeholder). */
const dataDefaults = {
  folder: Schema.decodeUnknownSync(FolderData)({ source: "folder", path: "unset" }),
  texture: Schema.decodeUnknownSync(TextureData)({ source: "texture" }),
}

const folder = (path: string, over: Partial<typeof dataDefaults.folder> = {}) => ({
  ...dataDefaults.folder,
  path,
  size: 8,
  ...over,
})

const rangeOf = (v: Float32Array) => [Math.min(...v), Math.max(...v)]

describe("folder loader", () => {
  let dir: string
  beforeAll(async () => {
    dir = scratch()
    mkdirSync(join(dir, "nested", "deeper"), { recursive: true })
    writeFileSync(join(dir, "a.png"), await ramp(20, 12, "png"))
    writeFileSync(join(dir, "nested", "b.jpg"), await ramp(9, 30, "jpeg"))
    writeFileSync(join(dir, "nested", "deeper", "c.webp"), await ramp(16, 16, "webp", 1))
    writeFileSync(join(dir, "nested", "broken.jpg"), Buffer.from("this is not a JPEG"))
    writeFileSync(join(dir, "notes.txt"), "ignored: not an image extension")
  })

  it("finds images recursively, resizes them to size x size and scales each to exactly [-1, 1]", async () => {
    const warnings: Array<string> = []
    const data = await run(loadFolder(folder(dir), (w) => warnings.push(w)))
    expect(data.count).toBe(3)
    expect(data.shape).toEqual([8, 8, 3])
    expect(data.images.length).toBe(3 * 8 * 8 * 3)
    for (let i = 0; i < 3; i++) expect(rangeOf(data.images.subarray(i * 192, (i + 1) * 192))).toEqual([-1, 1])
    expect(warnings).toEqual([
      `data.path: skipped 1 of 4 files that cannot be decoded as images: ${join(dir, "nested", "broken.jpg")} (Input file contains unsupported image format). Fix or remove them, or set data.strict to true to stop on such files.`,
    ])
  })

  it("decodes grey when asked and scales linearly with normalize: linear", async () => {
    const data = await run(loadFolder(folder(dir, { channels: 1, normalize: "linear" }), () => {}))
    expect(data.shape).toEqual([8, 8, 1])
    const [lo, hi] = rangeOf(data.images)
    // ramp values lie in [40, 160): x / 127.5 − 1 keeps them well inside (−1, 1)
    expect(lo).toBeGreaterThan(-0.75)
    expect(hi).toBeLessThan(0.3)
  })

  it("with data.strict stops before training on the first unreadable file, by name", async () => {
    expect(await failure(loadFolder(folder(dir, { strict: true }), () => {}))).toBe(
      `data.path: ${join(dir, "nested", "broken.jpg")} (Input file contains unsupported image format) cannot be decoded as an image. Fix or remove it, or set data.strict to false to skip unreadable files.`,
    )
  })

  it("names a missing folder and a folder without images", async () => {
    expect(await failure(loadFolder(folder(join(dir, "missing")), () => {}))).toBe(
      `data.path: ${join(dir, "missing")} is not a readable folder. Set data.path to a folder of JPEG, PNG or WebP images (searched recursively).`,
    )
    const empty = scratch()
    writeFileSync(join(empty, "readme.txt"), "no images here")
    expect(await failure(loadFolder(folder(empty), () => {}))).toBe(
      `data.path: ${empty} holds no .jpg, .jpeg, .png or .webp files (searched recursively). Point data.path at a folder of images.`,
    )
  })

  it("refuses a batch larger than the readable images", async () => {
    expect(await failure(loadDataset(folder(dir), { seed: 1, batchSize: 5, warn: () => {} }))).toBe(
      'data (source "folder") gives 3 images but training.batchSize is 5; lower training.batchSize to at most 3 or add data.',
    )
  })
})

/** CIFAR-10 binary records: label byte, then the R, G and B planes; pixel (y, x) of channel c is 10c + y + x. */
const cifarBytes = (labels: ReadonlyArray<number>) => {
  const bytes = new Uint8Array(labels.length * CIFAR_RECORD)
  labels.forEach((label, r) => {
    bytes[r * CIFAR_RECORD] = label
    for (let c = 0; c < 3; c++)
      for (let y = 0; y < 32; y++)
        for (let x = 0; x < 32; x++) bytes[r * CIFAR_RECORD + 1 + c * 1024 + y * 32 + x] = 10 * c + y + x + r
  })
  return bytes
}

describe("CIFAR-10 loader", () => {
  let dir: string
  beforeAll(() => {
    dir = scratch()
    mkdirSync(join(dir, "cifar-10-batches-bin"))
    writeFileSync(join(dir, "cifar-10-batches-bin", "data_batch_1.bin"), cifarBytes([3, 7, 0]))
    writeFileSync(join(dir, "cifar-10-batches-bin", "data_batch_2.bin"), cifarBytes([9, 1]))
    writeFileSync(join(dir, "cifar-10-batches-bin", "test_batch.bin"), cifarBytes([5]))
    writeFileSync(join(dir, "short.bin"), cifarBytes([1]).subarray(0, 3000))
  })
  const cifar = (files: ReadonlyArray<string>, limit = 50000) => ({
    source: "cifar10" as const,
    files,
    limit,
  })

  it("parses records into 32x32x3 images in [-1, 1] with their labels, planes interleaved to HWC", async () => {
    const data = await run(loadCifar10(cifar([join(dir, "cifar-10-batches-bin", "data_batch_1.bin")]), 1))
    expect(data.count).toBe(3)
    expect(data.shape).toEqual([32, 32, 3])
    expect([...data.labels]).toEqual([3, 7, 0])
    const at = (r: number, y: number, x: number, c: number) => data.images[((r * 32 + y) * 32 + x) * 3 + c]
    expect(at(0, 0, 0, 0)).toBeCloseTo(0 / 127.5 - 1, 6)
    expect(at(1, 2, 5, 2)).toBeCloseTo((20 + 2 + 5 + 1) / 127.5 - 1, 6)
    expect(at(2, 31, 30, 1)).toBeCloseTo((10 + 31 + 30 + 2) / 127.5 - 1, 6)
  })

  it("takes the data_batch_*.bin files of a folder in order (not test_batch.bin) and a seeded subset with limit", async () => {
    const all = await run(loadCifar10(cifar([join(dir, "cifar-10-batches-bin")]), 1))
    expect([...all.labels]).toEqual([3, 7, 0, 9, 1])
    const some = await run(loadCifar10(cifar([join(dir, "cifar-10-batches-bin")], 2), 1))
    expect(some.count).toBe(2)
    expect(some.images.length).toBe(2 * 3072)
    for (const label of some.labels) expect([3, 7, 0, 9, 1]).toContain(label)
  })

  it("names a file of the wrong length and a missing file", async () => {
    expect(await failure(loadCifar10(cifar([join(dir, "short.bin")]), 1))).toBe(
      `data.files: ${join(dir, "short.bin")} is 3000 bytes, not a whole number of CIFAR-10 records (3073 bytes each: 1 label byte and 3072 pixel bytes; a data_batch_*.bin file holds 10000). Use the files of CIFAR-10's binary version, not the Python or MATLAB one.`,
    )
    expect(await failure(loadCifar10(cifar([join(dir, "nope.bin")]), 1))).toBe(
      `data.files: ${join(dir, "nope.bin")} does not exist or cannot be read. Point data.files at the data_batch_*.bin files of CIFAR-10's binary version (or the folder cifar-10-batches-bin that holds them).`,
    )
  })
})

describe("texture loader", () => {
  let file: string
  beforeAll(async () => {
    file = join(scratch(), "exemplar.png")
    writeFileSync(file, await ramp(24, 20, "png", 1))
  })
  const texture = (over: Partial<typeof dataDefaults.texture> = {}) => ({
    ...dataDefaults.texture,
    path: file,
    size: 8,
    crops: 5,
    channels: 1 as const,
    ...over,
  })

  it("cuts seeded crops that are windows of the min-max scaled exemplar", async () => {
    const data = await run(loadTexture(texture(), 3))
    expect(data.count).toBe(5)
    expect(data.shape).toEqual([8, 8, 1])
    const raw = await decodeImage(file, { channels: 1 })
    const scaled = new Float32Array(raw.pixels.length)
    minMaxScale(raw.pixels, scaled)
    for (let k = 0; k < 5; k++) {
      const crop = data.images.subarray(k * 64, (k + 1) * 64)
      const found = Array.from({ length: 13 * 17 }, (_, i) => [Math.floor(i / 17), i % 17] as const).some(
        ([top, left]) => crop.every((v, j) => v === scaled[(top + Math.floor(j / 8)) * 24 + left + (j % 8)]),
      )
      expect(found).toBe(true)
    }
    const again = await run(loadTexture(texture(), 3))
    expect(again.images).toEqual(data.images)
  })

  it("with crops: 0 trains on the whole exemplar resized, in [-1, 1]", async () => {
    const data = await run(loadTexture(texture({ crops: 0, channels: 3 }), 3))
    expect(data.count).toBe(1)
    expect(data.shape).toEqual([8, 8, 3])
    expect(rangeOf(data.images)).toEqual([-1, 1])
  })

  it("names a crop larger than the exemplar and an unreadable exemplar", async () => {
    expect(await failure(loadTexture(texture({ size: 32 }), 3))).toBe(
      `data.size (32) is larger than the texture exemplar ${file} (24x20 after data.scale 1); lower data.size, raise data.scale, or set data.crops to 0 to train on the whole exemplar resized.`,
    )
    expect(await failure(loadTexture(texture({ path: "nowhere.png" }), 3))).toBe(
      "data.path: the texture exemplar nowhere.png cannot be decoded (Input file is missing: nowhere.png). Point data.path at a JPEG, PNG or WebP image (the shipped one is data/brick.png).",
    )
  })

  it("loads the shipped brick exemplar", async () => {
    const data = await run(loadTexture({ ...dataDefaults.texture, channels: 1, crops: 2, size: 64 }, 1))
    expect(data.shape).toEqual([64, 64, 1])
    expect(data.count).toBe(2)
  })
})

describe("data in pipeline.json", () => {
  const decode = (json: unknown, ...overrides: Array<string>) =>
    run(
      decodeSpec(JSON.stringify(json), "p.json", overrides).pipe(
        Effect.flatMap((s) => checkSpec(s, "p.json")),
      ),
    )
  const decodeError = (json: unknown, ...overrides: Array<string>) =>
    run(
      decodeSpec(JSON.stringify(json), "p.json", overrides).pipe(
        Effect.flatMap((s) => checkSpec(s, "p.json")),
        Effect.flip,
      ),
    ).then((e) => e.message)

  const object64 = {
    arch: "object64",
    descriptorChannels: [64, 128, 256],
    generatorChannels: [512, 256, 128, 64],
  }

  it("fills a source's own defaults, never another source's fields", async () => {
    const spec = await decode({ data: { source: "folder", path: "imgs" }, model: object64 })
    expect(spec.data).toEqual({ ...dataDefaults.folder, path: "imgs" })
    const viaSet = await decode({ model: object64 }, "data.source=folder", "data.path=imgs")
    expect(viaSet.data).toEqual(spec.data)
    const wholeSet = await decode({ model: object64 }, 'data={"source":"folder","path":"imgs"}')
    expect(wholeSet.data).toEqual(spec.data)
  })

  it.each(["texture", "folder-object64", "cifar10"])(
    "config/%s.json decodes and fits its architecture",
    async (name) => {
      const spec = await decode(JSON.parse(readFileSync(`config/${name}.json`, "utf8")))
      expect(spec.name).toBe(name === "folder-object64" ? "object64" : name)
    },
  )

  it("reports an unknown data field with its path", async () => {
    expect(
      await decodeError({ data: { source: "cifar10", files: ["x"], size: 32 }, model: { arch: "cifar32" } }),
    ).toBe(
      "p.json: 1 problem\n  - data.size: unknown field\nFix this field and run again; `node dist/run.js --help` lists every field and its default.",
    )
  })

  it("refuses an architecture that does not fit the data, or the wrong number of widths", async () => {
    expect(await decodeError({ data: { source: "cifar10", files: ["x"] } })).toBe(
      'p.json: model.arch "mnist" makes and reads 28x28x1 images but data (source "cifar10") gives 32x32x3; choose the architecture that fits the data (mnist: 28x28x1, cifar32: 32x32, object64: 64x64, texture: any multiple of 32, dynamicTexture: videos).',
    )
    expect(await decodeError({ data: { source: "folder", path: "x" }, model: { arch: "object64" } })).toBe(
      'p.json: model.generatorChannels lists 3 widths but model.arch "object64" needs 4; list 4 layer widths.',
    )
    expect(
      await decodeError({
        data: { source: "texture", size: 100 },
        model: { arch: "texture", descriptorChannels: [8, 8, 8], generatorChannels: [8, 8, 8, 8] },
      }),
    ).toBe(
      'p.json: data.size (100) must be a multiple of 32 for model.arch "texture" with 4 generator widths (each of its 5 upsampling layers doubles the side); use e.g. 96.',
    )
  })
})
