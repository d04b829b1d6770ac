/**
 * Bad input never costs a run: each case below goes through the real command
 * line and must print exactly one error paragraph (no stack trace), exit with
 * the given code, create no output directory, and leave an existing run
 * directory byte for byte as it was.
 */
import { spawn } from "node:child_process"
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { beforeAll, describe, expect, it } from "vitest"
import { stageNames } from "../../src/stages/registry.js"
import { cli as run, testBackend } from "../support.js"

const root = mkdtempSync(join(tmpdir(), "coopnets-bad-"))
/** The output directory in a case's arguments: each case gets its own (concurrent runs pointed at one directory would meet its lock) */
const O = "<out>"
/** stands for the case's own pipeline file in `args` and `error` (cases run concurrently) */
const F = "@PIPELINE@"

const tiny = {
  name: "tiny",
  seed: 3,
  backend: testBackend,
  data: { source: "mnist", split: "train", limit: 64 },
  model: { descriptorChannels: [4, 4, 4], descriptorUnits: 3, zDim: 5, generatorChannels: [6, 4, 4] },
  training: { iterations: 4, batchSize: 8, chains: 6 },
  langevin: { steps: 2 },
  output: { sampleEvery: 2, checkpointEvery: 2, logEvery: 1 },
}

const cli = (args: ReadonlyArray<string>) => run(...args)

/** The same, without blocking, so that cases overlap (most of their time is Node starting up). */
const cliAsync = (args: ReadonlyArray<string>) =>
  new Promise<{ code: number | null; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, ["dist/run.js", ...args], { stdio: ["ignore", "ignore", "pipe"] })
    let stderr = ""
    child.stderr.on("data", (d) => {
      stderr += String(d)
    })
    child.on("close", (code) => resolve({ code, stderr }))
  })

/** This Node's own JSON.parse message (its wording changed between Node versions). */
const parseError = (text: string): string => {
  try {
    JSON.parse(text)
    return ""
  } catch (e) {
    return (e as Error).message
  }
}

/** Every file under `dir` with its bytes (base64), for "unchanged" checks. */
const snapshot = (dir: string): Record<string, string> =>
  Object.fromEntries(
    readdirSync(dir, { recursive: true, withFileTypes: true })
      .filter((e) => e.isFile())
      .map((e) => [join(e.parentPath, e.name), readFileSync(join(e.parentPath, e.name)).toString("base64")]),
  )

/** A run directory `name` under root: a copy of the finished 4-iteration run, then `change` applied. */
const runDir = (name: string, change: (dir: string) => void = () => {}) => {
  const dir = join(root, name)
  cpSync(join(root, "done"), dir, { recursive: true })
  change(dir)
  return dir
}
const unfinished = (dir: string) => {
  // as if killed after iteration 3: checkpoint iter-000002, three metrics lines, no final
  rmSync(join(dir, "checkpoints", "final"), { recursive: true })
  const lines = readFileSync(join(dir, "metrics.jsonl"), "utf8").split("\n").slice(0, 3)
  writeFileSync(join(dir, "metrics.jsonl"), `${lines.join("\n")}\n`)
}
const edit = (file: string, from: string, to: string) =>
  writeFileSync(file, readFileSync(file, "utf8").replace(from, to))

interface Case {
  readonly name: string
  /** pipeline file content (written to the case's own file, F in `args` and `error`) */
  readonly pipeline?: unknown
  /** arguments; F is the pipeline file, O a fresh output directory */
  readonly args: () => ReadonlyArray<string>
  /** the exact error paragraph, without "error: " */
  readonly error: () => string
  readonly code: 1 | 2
  /** an existing directory that must be unchanged afterwards */
  readonly keeps?: () => string
}

const ERR = "Fix this field and run again; `node dist/run.js --help` lists every field and its default."
const one = (line: string) => `${F}: 1 problem\n  - ${line}\n${ERR}`

const fileCase = (name: string, pipeline: unknown, error: () => string, code: 1 | 2 = 2): Case => ({
  name,
  pipeline,
  args: () => [F, "--out", O],
  error,
  code,
})

const dirs: Record<string, string> = {}

const cases: ReadonlyArray<Case> = [
  fileCase(
    "malformed JSON",
    '{"name": "x",}',
    () =>
      `${F} is not valid JSON: ${parseError('{"name": "x",}')}. Fix the syntax (a trailing comma or a missing quote is the usual cause) and run again.`,
  ),
  fileCase(
    "a JSON array instead of an object",
    [1],
    () =>
      `${F} must hold a JSON object of pipeline fields, e.g. {"name": "mnist", "training": {"iterations": 100}}.`,
  ),
  fileCase("a string where a number belongs", { training: { iterations: "ten" } }, () =>
    one('training.iterations: Expected number, got "ten"'),
  ),
  fileCase("a mistyped section", { trainning: { iterations: 5 } }, () =>
    one("trainning: unknown field; did you mean training?"),
  ),
  fileCase("a mistyped nested field", { langevin: { stpSize: 0.1 } }, () =>
    one("langevin.stpSize: unknown field; did you mean langevin.stepSize?"),
  ),
  fileCase("an unknown field with no near name", { colour: 1 }, () => one("colour: unknown field")),
  fileCase("a negative batch size", { training: { batchSize: -3 } }, () =>
    one("training.batchSize: Expected a value greater than 0, got -3"),
  ),
  fileCase("zero iterations", { training: { iterations: 0 } }, () =>
    one("training.iterations: Expected a value greater than 0, got 0"),
  ),
  fileCase("a fractional chain count", { training: { chains: 2.5 } }, () =>
    one("training.chains: Expected a whole number, got 2.5"),
  ),
  fileCase(
    "a batch larger than the dataset",
    { data: { source: "mnist", split: "train", limit: 64 }, training: { batchSize: 100 } },
    () =>
      `${F}: training.batchSize (100) is larger than data.limit (64); lower the batch size or use more data.`,
  ),
  fileCase("a negative Langevin step size", { langevin: { stepSize: -1 } }, () =>
    one("langevin.stepSize: Expected a value greater than 0, got -1"),
  ),
  fileCase("Adam beta1 of 1", { optimizer: { descriptor: { beta1: 1 } } }, () =>
    one("optimizer.descriptor.beta1: Expected a value between 0 and 1 (excluded), got 1"),
  ),
  fileCase("an unknown stage", { stages: { teach: "magic" } }, () =>
    one(`stages.teach: Expected ${stageNames.teach.map((n) => JSON.stringify(n)).join(" | ")}, got "magic"`),
  ),
  fileCase("an unknown backend", { backend: "tpu" }, () =>
    one('backend: Expected "auto" | "tensorflow-gpu" | "tensorflow" | "wasm" | "cpu", got "tpu"'),
  ),
  fileCase(
    "two channel widths instead of three",
    { model: { descriptorChannels: [8, 8] } },
    () =>
      `${F}: model.descriptorChannels lists 2 widths but model.arch "mnist" needs 3; list 3 layer widths.`,
  ),
  fileCase(
    "a run name escaping runs/",
    { name: "../escape" },
    () =>
      `${F}: name "../escape" cannot name a run directory (runs/<name>): use letters, digits, ".", "_" and "-" only, starting with a letter or digit, so that outputs stay inside runs/.`,
  ),
  fileCase(
    "a run name with a slash",
    { name: "a/b" },
    () =>
      `${F}: name "a/b" cannot name a run directory (runs/<name>): use letters, digits, ".", "_" and "-" only, starting with a letter or digit, so that outputs stay inside runs/.`,
  ),
  fileCase("an empty run name", { name: "" }, () =>
    one('name: Expected a value with a length of at least 1, got ""'),
  ),
  fileCase("keeping zero checkpoints", { output: { keepCheckpoints: 0 } }, () =>
    one("output.keepCheckpoints: Expected a value greater than 0, got 0"),
  ),
  fileCase("sampling every 0 iterations", { output: { sampleEvery: 0 } }, () =>
    one("output.sampleEvery: Expected a value greater than 0, got 0"),
  ),
  fileCase(
    "an image size the net cannot take",
    { data: { source: "folder", path: "imgs", size: 30 } },
    () =>
      `${F}: model.arch "mnist" makes and reads 28x28x1 images but data (source "folder") gives 30x30x3; choose the architecture that fits the data (mnist: 28x28x1, cifar32: 32x32, object64: 64x64, texture: any multiple of 32, dynamicTexture: videos).`,
  ),
  fileCase(
    "a missing image folder",
    { ...tiny, data: { source: "folder", path: join(root, "no-such-folder"), size: 28, channels: 1 } },
    () =>
      `data.path: ${join(root, "no-such-folder")} is not a readable folder. Set data.path to a folder of JPEG, PNG or WebP images (searched recursively).`,
    1,
  ),
  fileCase(
    "a corrupt image with data.strict",
    { ...tiny, data: { source: "folder", path: join(root, "images"), size: 28, channels: 1, strict: true } },
    () =>
      `data.path: ${join(root, "images", "corrupt.png")} (Input file contains unsupported image format) cannot be decoded as an image. Fix or remove it, or set data.strict to false to skip unreadable files.`,
    1,
  ),
  fileCase(
    "a CIFAR-10 file of the wrong length",
    { ...tiny, model: { arch: "cifar32" }, data: { source: "cifar10", files: [join(root, "short.bin")] } },
    () =>
      `data.files: ${join(root, "short.bin")} is 100 bytes, not a whole number of CIFAR-10 records (3073 bytes each: 1 label byte and 3072 pixel bytes; a data_batch_*.bin file holds 10000). Use the files of CIFAR-10's binary version, not the Python or MATLAB one.`,
    1,
  ),
  fileCase(
    "a missing CIFAR-10 file",
    { ...tiny, model: { arch: "cifar32" }, data: { source: "cifar10", files: [join(root, "nope.bin")] } },
    () =>
      `data.files: ${join(root, "nope.bin")} does not exist or cannot be read. Point data.files at the data_batch_*.bin files of CIFAR-10's binary version (or the folder cifar-10-batches-bin that holds them).`,
    1,
  ),
  {
    name: "a missing pipeline file",
    args: () => [join(root, "missing.json"), "--out", O],
    error: () =>
      `Cannot read pipeline file ${join(root, "missing.json")}: no such file or not readable. The shipped ones are in config/ (e.g. config/mnist-quick.json).`,
    code: 2,
  },
  {
    name: "a directory given as the pipeline file",
    args: () => [root, "--out", O],
    error: () =>
      `Cannot read pipeline file ${root}: no such file or not readable. The shipped ones are in config/ (e.g. config/mnist-quick.json).`,
    code: 2,
  },
  {
    name: "--set without a value",
    pipeline: tiny,
    args: () => [F, "--set", "langevin.steps", "--out", O],
    error: () => '--set expects path.to.field=value, got "langevin.steps".',
    code: 2,
  },
  {
    name: "--set of a mistyped field",
    pipeline: tiny,
    args: () => [F, "--set", "training.iteratons=5", "--out", O],
    error: () =>
      `${F} (with --set training.iteratons=5): 1 problem\n  - training.iteratons: unknown field; did you mean training.iterations?\n${ERR}`,
    code: 2,
  },
  {
    name: "--set of a wrong type",
    pipeline: tiny,
    args: () => [F, "--set", "langevin.noise=maybe", "--out", O],
    error: () =>
      `${F} (with --set langevin.noise=maybe): 1 problem\n  - langevin.noise: Expected boolean, got "maybe"\n${ERR}`,
    code: 2,
  },
  {
    name: "an unknown option",
    args: () => [F, "--frobnicate"],
    error: () => "Unknown option --frobnicate. See `node dist/run.js --help`.",
    code: 2,
  },
  {
    name: "--out without a directory",
    args: () => [F, "--out"],
    error: () => "--out needs a value. See `node dist/run.js --help`.",
    code: 2,
  },
  {
    name: "two pipeline files",
    args: () => [F, F, "--out", O],
    error: () => "Give exactly one pipeline file, e.g. `node dist/run.js config/mnist-quick.json`.",
    code: 2,
  },
  {
    name: "an existing run directory without --force",
    pipeline: tiny,
    args: () => [F, "--out", dirs.done as string],
    error: () =>
      `Run directory ${dirs.done} already exists and is not empty. Pass --out DIR to write elsewhere, or --force to replace it.`,
    code: 1,
    keeps: () => dirs.done as string,
  },
  {
    name: "--resume of a directory that does not exist",
    args: () => ["--resume", join(root, "none")],
    error: () =>
      `Cannot resume ${join(root, "none")}: no such run directory. Pass the directory a run wrote (e.g. runs/mnist-quick), or start a new run with a pipeline file.`,
    code: 1,
  },
  {
    name: "--resume of a directory without config.json",
    args: () => ["--resume", dirs.empty as string],
    error: () =>
      `Cannot resume ${dirs.empty}: ${join(dirs.empty as string, "config.json")} is missing or unreadable, so this is not a run directory (or the run was killed before it started). Start it again with the pipeline file and --force.`,
    code: 2,
    keeps: () => dirs.empty as string,
  },
  {
    name: "--resume with a corrupt config.json",
    args: () => ["--resume", dirs.badConfig as string],
    error: () =>
      `${join(dirs.badConfig as string, "config.json")} is not valid JSON: Unexpected end of JSON input. Fix the syntax (a trailing comma or a missing quote is the usual cause) and run again.`,
    code: 2,
    keeps: () => dirs.badConfig as string,
  },
  {
    name: "--resume with a truncated weights.bin",
    args: () => ["--resume", dirs.truncated as string],
    error: () => {
      const ckpt = join(dirs.truncated as string, "checkpoints", "iter-000002")
      return `Cannot resume ${dirs.truncated}: ${ckpt}/checkpoint.json: ${ckpt}/weights.bin is truncated or corrupt (weights hold 100 bytes but the manifest describes 23808). Move ${ckpt} away to resume from the checkpoint before it.`
    },
    code: 1,
    keeps: () => dirs.truncated as string,
  },
  {
    name: "--resume with a checkpoint of another run",
    args: () => ["--resume", dirs.otherRun as string],
    error: () =>
      `Cannot resume ${dirs.otherRun}: checkpoint ${join(dirs.otherRun as string, "checkpoints", "iter-000002")} was written by a different pipeline than ${join(dirs.otherRun as string, "config.json")}. Restore the run's own config.json, or start a new run.`,
    code: 1,
    keeps: () => dirs.otherRun as string,
  },
  {
    name: "--resume with a checkpoint of another architecture",
    args: () => ["--resume", dirs.otherArch as string],
    error: () =>
      `${join(dirs.otherArch as string, "checkpoints", "iter-000002")} does not fit this architecture: parameter descriptor/fc/w is [4,4,4,3] there but [4,4,4,5] here. Use the pipeline spec the checkpoint was trained with.`,
    code: 1,
    keeps: () => dirs.otherArch as string,
  },
  {
    name: "--resume with a pipeline file",
    args: () => ["--resume", dirs.unfinished as string, F],
    error: () =>
      `--resume ${dirs.unfinished} continues the run exactly as its config.json describes, so it takes no pipeline file and no --set (the result would no longer be the run you started). To change settings, start a new run: node dist/run.js <pipeline.json> --out DIR.`,
    code: 2,
    keeps: () => dirs.unfinished as string,
  },
  {
    name: "--resume with --set",
    args: () => ["--resume", dirs.unfinished as string, "--set", "seed=2"],
    error: () =>
      `--resume ${dirs.unfinished} continues the run exactly as its config.json describes, so it takes no pipeline file and no --set (the result would no longer be the run you started). To change settings, start a new run: node dist/run.js <pipeline.json> --out DIR.`,
    code: 2,
    keeps: () => dirs.unfinished as string,
  },
  {
    name: "--resume with --force",
    args: () => ["--resume", dirs.unfinished as string, "--force"],
    error: () =>
      `--resume ${dirs.unfinished} writes into that run directory; --out and --force do not apply.`,
    code: 2,
    keeps: () => dirs.unfinished as string,
  },
  {
    name: "--resume of a finished run",
    args: () => ["--resume", dirs.done as string],
    error: () =>
      `Cannot resume ${dirs.done}: the run is complete (4 of 4 iterations, checkpoints/final). To train longer, extend it: node dist/run.js --resume ${dirs.done} --iterations N (N > 4).`,
    code: 2,
    keeps: () => dirs.done as string,
  },
  {
    name: "sample with --n 0",
    args: () => ["sample", dirs.done as string, "--n", "0"],
    error: () => '--n must be a whole number from 1 to 9007199254740991, got "0".',
    code: 2,
    keeps: () => dirs.done as string,
  },
  {
    name: "sample from a checkpoint whose manifest is not JSON",
    args: () => ["sample", join(dirs.badManifest as string, "checkpoints", "final")],
    error: () =>
      `${join(dirs.badManifest as string, "checkpoints", "final", "checkpoint.json")}: is not valid JSON. Pass a run directory (with checkpoints/final) or a checkpoint directory written by \`node dist/run.js\`.`,
    code: 1,
    keeps: () => dirs.badManifest as string,
  },
]

beforeAll(() => {
  writeFileSync(join(root, "tiny.json"), JSON.stringify(tiny))
  const r = cli([join(root, "tiny.json"), "--out", join(root, "done")])
  expect(r.code).toBe(0)
  mkdirSync(join(root, "images"))
  writeFileSync(
    join(root, "images", "corrupt.png"),
    Buffer.from([0, 1, 2, 3, 103, 97, 114, 98, 97, 103, 101]),
  )
  writeFileSync(join(root, "short.bin"), Buffer.alloc(100))
  dirs.done = join(root, "done")
  dirs.empty = join(root, "empty")
  mkdirSync(dirs.empty)
  writeFileSync(join(dirs.empty, "notes.txt"), "not a run\n")
  dirs.unfinished = runDir("unfinished", unfinished)
  dirs.badConfig = runDir("bad-config", (d) => {
    unfinished(d)
    writeFileSync(join(d, "config.json"), '{"name":\n')
  })
  dirs.truncated = runDir("truncated", (d) => {
    unfinished(d)
    const bin = join(d, "checkpoints", "iter-000002", "weights.bin")
    writeFileSync(bin, readFileSync(bin).subarray(0, 100))
  })
  dirs.otherRun = runDir("other-run", (d) => {
    unfinished(d)
    edit(join(d, "checkpoints", "iter-000002", "checkpoint.json"), '"seed": 3', '"seed": 4')
  })
  dirs.otherArch = runDir("other-arch", (d) => {
    unfinished(d)
    edit(
      join(d, "checkpoints", "iter-000002", "checkpoint.json"),
      '"descriptorUnits": 3',
      '"descriptorUnits": 5',
    )
    edit(join(d, "config.json"), '"descriptorUnits": 3', '"descriptorUnits": 5')
  })
  dirs.badManifest = runDir("bad-manifest", (d) =>
    writeFileSync(join(d, "checkpoints", "final", "checkpoint.json"), "{"),
  )
}, 120_000)

describe(`${cases.length} bad inputs through node dist/run.js`, () => {
  for (const [i, c] of cases.entries())
    it.concurrent(c.name, async () => {
      const file = join(root, `case-${i}.json`)
      if (c.pipeline !== undefined)
        writeFileSync(file, typeof c.pipeline === "string" ? c.pipeline : JSON.stringify(c.pipeline))
      const kept = c.keeps?.()
      const before = kept === undefined ? undefined : snapshot(kept)
      const out = join(root, `out-${i}`)
      const r = await cliAsync(c.args().map((a) => a.replaceAll(F, file).replaceAll(O, out)))
      const from = r.stderr.indexOf("error: ")
      // at most a backend line before the error; nothing after it; never a stack trace
      expect(r.stderr.slice(0, Math.max(0, from))).toMatch(/^(backend [^\n]*\n)?$/)
      expect(r.stderr.slice(from)).toBe(`error: ${c.error().replaceAll(F, file)}\n`)
      expect(r.stderr).not.toMatch(/\n\s+at /)
      expect(r.code).toBe(c.code)
      expect(existsSync(out)).toBe(false)
      if (kept !== undefined) expect(snapshot(kept)).toEqual(before)
    }, 180_000)
})
