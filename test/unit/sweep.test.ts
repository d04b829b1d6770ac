/**
 * The sweep machinery without training: the sweep file's decoding and checks, the expansion into
 * runs and their ids, the plan (every run's pipeline decoded before anything starts), the SLURM
 * task script (executed by bash against a stand-in for node and scontrol), status and collect on
 * fixture run directories, and the local engine's scheduling with a stand-in training command.
 */
import { execFileSync, spawn } from "node:child_process"
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs"
import { hostname, tmpdir } from "node:os"
import { join } from "node:path"
import { NodeServices } from "@effect/platform-node"
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { decodeSpec } from "../../src/pipeline/config/spec.js"
import {
  collectRuns,
  markdownTables,
  median,
  spread,
  summarizeRun,
} from "../../src/pipeline/sweep/collect.js"
import {
  canonicalJson,
  expandSweep,
  gridPoints,
  type PlannedRun,
  valueSlug,
} from "../../src/pipeline/sweep/expand.js"
import { sweepLayout } from "../../src/pipeline/sweep/layout.js"
import { defaultParallel, runLocal } from "../../src/pipeline/sweep/local.js"
import {
  checkExistingRuns,
  type Plan,
  readPlan,
  resolveSweep,
  writePlan,
} from "../../src/pipeline/sweep/plan.js"
import { lastError, readRunState, reportedIterations } from "../../src/pipeline/sweep/run-state.js"
import { parseJobId, queuedRuns, sbatchScript } from "../../src/pipeline/sweep/slurm.js"
import { decodeSweep, type SweepSpec, slurmSeconds } from "../../src/pipeline/sweep/sweep-spec.js"

const run = <A, E>(effect: Effect.Effect<A, E, NodeServices.NodeServices>) =>
  Effect.runPromise(effect.pipe(Effect.provide(NodeServices.layer)))
const attempt = <A, E extends { message: string }>(effect: Effect.Effect<A, E, NodeServices.NodeServices>) =>
  run(
    effect.pipe(
      Effect.match({ onFailure: (e) => ({ error: e.message }), onSuccess: (value) => ({ value }) }),
    ),
  )

const scratch = () => mkdtempSync(join(tmpdir(), "coopnets-sweep-"))

const decode = (value: unknown, source = "config/s.json") =>
  attempt(decodeSweep(typeof value === "string" ? value : JSON.stringify(value), source))

const spec = async (value: unknown): Promise<SweepSpec> => {
  const r = await decode(value)
  if (!("value" in r)) throw new Error(r.error)
  return r.value
}

const runsOf = async (value: unknown): Promise<Array<PlannedRun>> => {
  const expanded = expandSweep(await spec(value))
  if (!("runs" in expanded)) throw new Error(expanded.duplicate)
  return expanded.runs
}

describe("sweep file", () => {
  it("fills the defaults and names the sweep after its file", async () => {
    expect(await spec({ base: "mnist-quick.json" })).toEqual({
      name: "s",
      base: "mnist-quick.json",
      set: {},
      variants: {},
      grid: {},
      resources: { cpus: 1, memoryMb: 4000, gpus: 0, checkpointBeforeLimit: 120 },
    })
  })

  it("reports every problem with its path", async () => {
    const r = await decode({
      name: "../up",
      base: "b.json",
      grid: { "langevin.steps": [], "bad path": [1] },
      seeds: [1, -2],
      resources: { cpus: 0, time: "soon", gpu: 1 },
    })
    expect("error" in r && r.error.split("\n")).toEqual([
      "config/s.json: 6 problems",
      '  - name: Expected a name of letters, digits, ".", "_" and "-", starting with a letter or digit, got "../up"',
      "  - grid.langevin.steps: Expected a value with a length of at least 1, got []",
      "  - seeds.1: Expected a value greater than or equal to 0, got -2",
      "  - resources.gpu: unknown field; did you mean resources.gpus?",
      "  - resources.cpus: Expected a value greater than 0, got 0",
      '  - resources.time: Expected a SLURM time such as "90", "2:00:00" or "1-12:00:00", got "soon"',
      "Fix these fields and run again; `node dist/run.js --help` lists every field and its default.",
    ])
  })

  it("refuses fields set twice, reserved fields, repeated values and a grace beyond the limit", async () => {
    const r = await decode({
      base: "b.json",
      set: { "langevin.steps": 5, name: "x", "bad path": 1 },
      variants: { a: { "langevin.stepSize": 0.01, seed: 3 } },
      grid: { langevin: [{ steps: 1 }], "training.iterations": [2, 2] },
      seeds: [1, 1],
      resources: { time: "2", checkpointBeforeLimit: 120 },
    })
    expect("error" in r && r.error.split("\n")).toEqual([
      "config/s.json: 8 problems",
      "  - set.name: cannot be set here; the sweep names every run after its id",
      '  - set.bad path: not a pipeline field path; write fields as --set names them, e.g. "training.iterations"',
      '  - variants.a.seed: cannot be set here; list the seeds under "seeds" instead',
      "  - grid.langevin: also set by set.langevin.steps; a field is varied by the grid or fixed, not both",
      "  - grid.langevin: also set by variants.a.langevin.stepSize; a field is varied by the grid or fixed, not both",
      "  - grid.training.iterations: a value is listed twice",
      "  - seeds: a seed is listed twice",
      '  - resources.checkpointBeforeLimit: 120 s is not shorter than resources.time "2"',
      "Fix these fields and run again.",
    ])
  })

  it("reads SLURM time limits", () => {
    expect(["90", "5:30", "2:00:00", "1-12", "1-0:30", "2-01:02:03"].map(slurmSeconds)).toEqual([
      5400, 330, 7200, 129600, 88200, 176523,
    ])
  })
})

describe("expansion", () => {
  const sweep = {
    base: "b.json",
    set: { "training.iterations": 4 },
    variants: { coop: {}, noise: { "stages.chains": "noise", "stages.teach": "none" } },
    grid: { "langevin.steps": [1, 2], "model.descriptorChannels": [[4, 4, 4]] },
    seeds: [7, 8],
  }

  it("makes variants × grid points × seeds, the first grid field varying slowest", async () => {
    const runs = await runsOf(sweep)
    expect(runs.map((r) => [r.index, r.variant, r.point["langevin.steps"], r.seed])).toEqual([
      [0, "coop", 1, 7],
      [1, "coop", 1, 8],
      [2, "coop", 2, 7],
      [3, "coop", 2, 8],
      [4, "noise", 1, 7],
      [5, "noise", 1, 8],
      [6, "noise", 2, 7],
      [7, "noise", 2, 8],
    ])
    expect(runs[5]?.overrides).toEqual([
      "training.iterations=4",
      'stages.chains="noise"',
      'stages.teach="none"',
      "langevin.steps=1",
      "model.descriptorChannels=[4,4,4]",
      "seed=8",
      `name="${runs[5]?.id}"`,
    ])
    expect(runs[5]?.id).toMatch(/^noise_steps-1_descriptorChannels-4x4x4_s8_[0-9a-f]{8}$/)
    expect(gridPoints({})).toEqual([{}])
  })

  it("gives ids that depend on what a run sets, not on the order or the other runs", async () => {
    const ids = (await runsOf(sweep)).map((r) => r.id)
    expect(new Set(ids).size).toBe(8)
    for (const id of ids) expect(id).toMatch(/^[A-Za-z0-9][A-Za-z0-9._-]*$/)
    const reordered = await runsOf({
      base: "other.json",
      seeds: [9, 8, 7],
      grid: { "model.descriptorChannels": [[4, 4, 4]], "langevin.steps": [3, 2, 1] },
      variants: { noise: { "stages.teach": "none", "stages.chains": "noise" }, coop: {} },
      set: { "training.iterations": 4 },
    })
    // the readable part follows the grid's field order; the hash does not depend on it
    const hash = (id: string) => id.slice(-8)
    const inOrder = await runsOf({
      ...sweep,
      grid: { ...sweep.grid, "langevin.steps": [1, 2, 3] },
      seeds: [7, 8, 9],
    })
    expect(reordered).toHaveLength(18)
    expect(new Set(reordered.map((r) => hash(r.id)))).toEqual(new Set(inOrder.map((r) => hash(r.id))))
    expect(inOrder.map((r) => r.id)).toEqual(expect.arrayContaining(ids))
    // one more seed keeps the ids of the runs already there
    const more = await runsOf({ ...sweep, seeds: [7, 8, 9] })
    expect(ids.every((id) => more.some((r) => r.id === id))).toBe(true)
    // a change in what every run sets changes every id
    const longer = await runsOf({ ...sweep, set: { "training.iterations": 5 } })
    expect(longer.some((r) => ids.includes(r.id))).toBe(false)
  })

  it("refuses two runs with the same overrides", async () => {
    const expanded = expandSweep(await spec({ base: "b.json", variants: { a: {}, b: {} } }))
    expect(expanded).toEqual({
      duplicate: expect.stringMatching(
        /^runs a_[0-9a-f]{8} and b_[0-9a-f]{8} set exactly the same fields to the same values/,
      ),
    })
  })

  it("slugs values and canonicalises JSON", () => {
    expect([0.002, [8, 8, 8], "noise", true, { a: 1 }, "a b/c"].map((v) => valueSlug(v))).toEqual([
      "0.002",
      "8x8x8",
      "noise",
      "true",
      "obj",
      "a-b-c",
    ])
    expect(canonicalJson({ b: 1, a: { d: [2, { f: 1, e: 0 }], c: 3 } })).toBe(
      '{"a":{"c":3,"d":[2,{"e":0,"f":1}]},"b":1}',
    )
  })
})

const TINY_BASE = {
  name: "tiny",
  backend: "cpu",
  data: { source: "mnist", split: "train", limit: 64 },
  model: { descriptorChannels: [4, 4, 4], descriptorUnits: 3, zDim: 5, generatorChannels: [6, 4, 4] },
  training: { iterations: 3, batchSize: 8, chains: 6 },
  langevin: { steps: 2 },
  output: { sampleEvery: 2, checkpointEvery: 1, logEvery: 1 },
}

/** A sweep file and its base in a fresh directory. */
const sweepFiles = (sweep: Record<string, unknown>) => {
  const dir = scratch()
  writeFileSync(join(dir, "tiny.json"), JSON.stringify(TINY_BASE))
  const file = join(dir, "grid.json")
  writeFileSync(file, JSON.stringify({ base: "tiny.json", ...sweep }))
  return { dir, file, root: join(dir, "runs", "grid") }
}

describe("plan", () => {
  it("resolves every run's pipeline from the base beside the sweep file", async () => {
    const { file, root } = sweepFiles({ grid: { "langevin.steps": [1, 3] }, seeds: [1, 2] })
    const resolved = await run(resolveSweep(file, root))
    expect(resolved.plan.runs.map((r) => r.iterations)).toEqual([3, 3, 3, 3])
    const [first] = resolved.plan.runs
    const pipeline = resolved.pipelines.get(first?.id ?? "")
    expect(pipeline?.name).toBe(first?.id)
    expect(pipeline?.langevin.steps).toBe(1)
    expect(pipeline?.seed).toBe(1)
    expect(resolved.layout.root).toBe(root)
    // the resolved pipeline decodes to itself: the task starts exactly this run
    const again = await run(decodeSpec(JSON.stringify(pipeline), "p.json"))
    expect(canonicalJson(again)).toBe(canonicalJson(pipeline))
    await run(writePlan(resolved))
    const back = await run(readPlan(resolved.layout.root))
    expect(back.plan).toEqual(JSON.parse(JSON.stringify(resolved.plan)))
    expect(JSON.parse(readFileSync(resolved.layout.pipeline(first?.id ?? ""), "utf8"))).toEqual(pipeline)
  })

  it("checks every run before anything starts, naming the runs a problem spoils", async () => {
    const typo = sweepFiles({
      variants: { ok: {}, abp: { "stages.teach": "abp" } },
      grid: { "langevin.stpes": [1] },
    })
    const r = await attempt(resolveSweep(typo.file))
    expect("error" in r && r.error.split("\n")).toEqual([
      `${typo.file}: 1 problem in the runs it expands to (base ${join(typo.dir, "tiny.json")} with each run's overrides)`,
      expect.stringMatching(
        /^ {2}- langevin\.stpes: unknown field; did you mean langevin\.steps\? \(2 runs: ok_stpes-1_[0-9a-f]{8}, abp_stpes-1_[0-9a-f]{8}\)$/,
      ),
      "Nothing was started. Fix the sweep file (set, variants, grid) or the base pipeline and run again.",
    ])
    const clash = sweepFiles({ variants: { ok: {}, abp: { "stages.teach": "abp" } }, seeds: [1, 2, 3, 4] })
    const c = await attempt(resolveSweep(clash.file))
    const lines = "error" in c ? c.error.split("\n") : []
    expect(lines).toEqual([
      `${clash.file}: 2 problems in the runs it expands to (base ${join(clash.dir, "tiny.json")} with each run's overrides)`,
      expect.stringMatching(
        /^ {2}- stages\.teach "abp" conflicts with stages\.revise "langevin" .* \(4 runs: abp_s1_[0-9a-f]{8}, abp_s2_[0-9a-f]{8}, abp_s3_[0-9a-f]{8}, …\)$/,
      ),
      expect.stringMatching(/^ {2}- stages\.teach "abp" needs latentLangevin\.steps > 0.*\(4 runs: abp_s1_/),
      "Nothing was started. Fix the sweep file (set, variants, grid) or the base pipeline and run again.",
    ])
    expect(c).not.toMatchObject({ error: expect.stringContaining("ok_s") })
  })

  it("refuses a run directory made from another pipeline", async () => {
    const { file, root } = sweepFiles({ seeds: [1, 2] })
    const resolved = await run(resolveSweep(file, root))
    const [a, b] = resolved.plan.runs
    mkdirSync(resolved.layout.runDir(a?.id ?? ""), { recursive: true })
    writeFileSync(
      join(resolved.layout.runDir(a?.id ?? ""), "config.json"),
      JSON.stringify(resolved.pipelines.get(a?.id ?? "")),
    )
    expect(await attempt(checkExistingRuns(resolved))).toEqual({ value: undefined })
    // written by an older version (a section added since, with its default, is missing) or with other notes:
    // the same pipeline
    const { recovery: _, ...older } = resolved.pipelines.get(a?.id ?? "") as Record<string, unknown>
    writeFileSync(
      join(resolved.layout.runDir(a?.id ?? ""), "config.json"),
      JSON.stringify({ ...older, notes: "said otherwise" }),
    )
    expect(await attempt(checkExistingRuns(resolved))).toEqual({ value: undefined })
    mkdirSync(resolved.layout.runDir(b?.id ?? ""), { recursive: true })
    const other = { ...resolved.pipelines.get(b?.id ?? ""), generatorSigma: 0.2 }
    writeFileSync(join(resolved.layout.runDir(b?.id ?? ""), "config.json"), JSON.stringify(other))
    const r = await attempt(checkExistingRuns(resolved))
    expect("error" in r && r.error).toContain(
      `  - ${join(resolved.layout.runDir(b?.id ?? ""), "config.json")}\nNothing was started.`,
    )
  })
})

/** A run directory as training leaves it: metrics lines, checkpoints. */
const fixtureRun = (
  dir: string,
  o: {
    iterations: number
    checkpoints?: ReadonlyArray<number>
    final?: boolean
    evaluations?: ReadonlyArray<number>
    torn?: boolean
  },
) => {
  mkdirSync(join(dir, "checkpoints"), { recursive: true })
  writeFileSync(join(dir, "config.json"), "{}")
  const lines: Array<string> = []
  for (let i = 1; i <= o.iterations; i++) {
    lines.push(
      JSON.stringify({
        iteration: i,
        epoch: 0,
        energy: { observed: -i, drafted: 2 * i, revised: -i - 0.5 },
        descriptorLoss: i / 10,
        generatorLoss: i / 100,
        reconstructionError: 1 / i,
        ms: { revise: 5, iteration: i === 1 ? 1000 : 100 + i },
      }),
    )
    if (o.evaluations?.includes(i))
      lines.push(
        JSON.stringify({
          iteration: i,
          evaluation: {
            count: 50,
            frechetDistance: 100 - i,
            inceptionScore: 1 + i / 10,
            classEntropy: 2,
            copyFraction: 0,
            langevin: 0,
            ms: 9,
          },
        }),
      )
  }
  writeFileSync(join(dir, "metrics.jsonl"), `${lines.join("\n")}\n${o.torn ? '{"iteration": 99, "ene' : ""}`)
  for (const c of o.checkpoints ?? []) {
    mkdirSync(join(dir, "checkpoints", `iter-${String(c).padStart(6, "0")}`))
    writeFileSync(join(dir, "checkpoints", `iter-${String(c).padStart(6, "0")}`, "checkpoint.json"), "{}")
  }
  // a half-written checkpoint (no checkpoint.json) never counts
  mkdirSync(join(dir, "checkpoints", "iter-000999"))
  if (o.final) {
    mkdirSync(join(dir, "checkpoints", "final"))
    writeFileSync(join(dir, "checkpoints", "final", "checkpoint.json"), "{}")
  }
}

const deadPid = (): number => {
  const child = spawn("true")
  const pid = child.pid as number
  execFileSync("sleep", ["0.2"])
  return pid
}

describe("status", () => {
  it("tells done, running, killed, stopped, failed and not started apart from the files", async () => {
    const layout = sweepLayout(scratch())
    const state = (id: string, value: Record<string, unknown>) => {
      mkdirSync(layout.state, { recursive: true })
      writeFileSync(
        layout.stateFile(id),
        JSON.stringify({ engine: "local", host: hostname(), action: "start", started: "t", ...value }),
      )
    }
    fixtureRun(layout.runDir("done"), { iterations: 6, checkpoints: [4], final: true })
    state("done", { pid: 1, exitCode: 0 })
    fixtureRun(layout.runDir("running"), { iterations: 3, checkpoints: [2], torn: true })
    state("running", { pid: process.pid })
    fixtureRun(layout.runDir("killed"), { iterations: 3, checkpoints: [2] })
    state("killed", { pid: deadPid() })
    fixtureRun(layout.runDir("stopped"), { iterations: 5, checkpoints: [2, 5] })
    state("stopped", { pid: 1, exitCode: 143 })
    fixtureRun(layout.runDir("failed"), { iterations: 2 })
    state("failed", { pid: 1, exitCode: 1 })
    mkdirSync(layout.logs, { recursive: true })
    writeFileSync(
      layout.logFile("failed"),
      "[failed] iteration 1\nerror: Training diverged in iteration 3.\n",
    )
    state("elsewhere", { pid: 1, host: "node17", job: "12_3" })
    const states = await run(
      Effect.forEach(["done", "running", "killed", "stopped", "failed", "elsewhere", "fresh"], (id) =>
        readRunState(layout, id, 6),
      ),
    )
    expect(states.map((s) => [s.id, s.status, s.iterations, s.checkpoint ?? null])).toEqual([
      ["done", "done", 6, 6],
      ["running", "running", 3, 2],
      ["killed", "pending", 3, 2],
      ["stopped", "pending", 5, 5],
      ["failed", "failed", 2, null],
      ["elsewhere", "running", 0, null],
      ["fresh", "pending", 0, null],
    ])
    expect(states.map((s) => s.detail)).toEqual([
      "6/6",
      `3/6 (pid ${process.pid} on ${hostname()})`,
      expect.stringMatching(/^3\/6, killed \(pid \d+ on .*is gone\); resumes from iteration 2$/),
      "5/6, stopped by a signal (exit 143); resumes from iteration 5",
      `exit 1 at 2/6: Training diverged in iteration 3. (log ${layout.logFile("failed")})`,
      "0/6 (SLURM job 12_3, pid 1 on node17; not checked from here)",
      "not started",
    ])
  })

  it("reads iterations and errors from text", () => {
    const line = (i: number) => JSON.stringify({ iteration: i, energy: {}, ms: { iteration: 1 } })
    // a torn last line (a killed writer) and an evaluation line do not count
    expect(reportedIterations(`${line(1)}\n${line(2)}\n{"iteration":3,"evaluation":{}}\n{"itera`)).toBe(2)
    expect(lastError("error: first\nx\nerror: second\n")).toBe("second")
    expect(lastError("fine\n")).toBeUndefined()
  })
})

describe("collect", () => {
  const planRun = (id: string, variant: string, seed: number) => ({
    index: 0,
    id,
    variant,
    point: { "langevin.steps": 2 },
    seed,
    overrides: [],
    iterations: 20,
  })

  it("summarises a run: tail means, median time, the newest evaluation", () => {
    const dir = scratch()
    fixtureRun(dir, { iterations: 20, evaluations: [10, 20] })
    const row = summarizeRun(
      planRun("a", "coop", 1),
      "done",
      readFileSync(join(dir, "metrics.jsonl"), "utf8"),
      undefined,
    )
    // iterations 11..20: observed energy -i, mean -15.5; the first iteration's 1000 ms is the median's outlier
    expect(row).toMatchObject({
      iterations: 20,
      energyObserved: -15.5,
      energyDrafted: 31,
      energyRevised: -16,
      descriptorLoss: 1.55,
      msPerIteration: 111.5,
      quality: { source: "training", iteration: 20, count: 50, frechetDistance: 80, inceptionScore: 3 },
    })
    const evaluated = summarizeRun(planRun("a", "coop", 1), "done", "", {
      source: { iteration: 20, count: 1000, langevinSteps: 10 },
      mnist: {
        samples: {
          count: 1000,
          frechetDistance: 12.5,
          inceptionScore: 7,
          classEntropy: 2.2,
          copyFraction: 0.01,
          medianNearestTrainDistance: 5.5,
        },
      },
    })
    expect(evaluated.quality).toEqual({
      source: "evaluate",
      iteration: 20,
      count: 1000,
      langevin: 10,
      frechetDistance: 12.5,
      inceptionScore: 7,
      classEntropy: 2.2,
      copyFraction: 0.01,
      nearestTrainDistance: 5.5,
    })
    expect(evaluated.energyObserved).toBeNull()
  })

  it("groups seeds with mean and sample standard deviation, and writes both tables", async () => {
    const layout = sweepLayout(scratch())
    const plan: Plan = {
      format: "coopnets-sweep-plan/1",
      sweep: "t",
      source: "t.json",
      base: "b.json",
      spec: {} as SweepSpec,
      runs: [planRun("c1", "coop", 1), planRun("c2", "coop", 2), planRun("n1", "noise", 1)],
    }
    fixtureRun(layout.runDir("c1"), { iterations: 20, final: true, evaluations: [20] })
    fixtureRun(layout.runDir("c2"), { iterations: 20, final: true })
    fixtureRun(layout.runDir("n1"), { iterations: 4 })
    mkdirSync(join(layout.runDir("c2"), "evaluation"))
    writeFileSync(
      join(layout.runDir("c2"), "evaluation", "evaluation.json"),
      JSON.stringify({
        source: { iteration: 20, count: 1000 },
        mnist: {
          samples: { count: 1000, frechetDistance: 84, inceptionScore: 2, classEntropy: 2, copyFraction: 0 },
        },
      }),
    )
    const { rows, groups } = await run(collectRuns(plan, layout))
    expect(rows.map((r) => [r.id, r.status, r.iterations, r.quality?.frechetDistance ?? null])).toEqual([
      ["c1", "done", 20, 80],
      ["c2", "done", 20, 84],
      ["n1", "pending", 4, null],
    ])
    expect(groups).toHaveLength(2)
    expect(groups[0]).toMatchObject({
      variant: "coop",
      seeds: [1, 2],
      done: 2,
      frechetDistance: { mean: 82, sd: Math.SQRT2 * 2, n: 2 },
      inceptionScore: { mean: 2.5, n: 2 },
    })
    expect(groups[1]).toMatchObject({ variant: "noise", done: 0, frechetDistance: null })
    const md = markdownTables(rows, groups)
    expect(md).toContain("| coop | langevin.steps=2 | 1, 2 | 2/2 | 82 ± 2.828 | 2.5 ± 0.7071 |")
    expect(md).toContain("| n1 | noise | langevin.steps=2 | 1 | pending | 4/20 |")
  })

  it("computes spreads and medians", () => {
    expect(spread([1, 2, 3, null, Number.NaN])).toEqual({ mean: 2, sd: 1, n: 3 })
    expect(spread([5])).toEqual({ mean: 5, sd: null, n: 1 })
    expect(spread([])).toBeNull()
    expect(median([3, 1, 2, 10])).toBe(2.5)
  })
})

describe("SLURM job-array script", () => {
  const layout = sweepLayout("/work/runs/abl")
  const base = {
    sweep: "abl",
    source: "config/abl.json",
    layout,
    ids: ["coop_s1_0123abcd", "noise_s1_4567ef01"],
    node: "/usr/bin/node",
    runJs: "/work/dist/run.js",
    cwd: "/work",
  }

  it("asks for the sweep's resources, one array index per run", () => {
    const script = sbatchScript({
      ...base,
      resources: {
        cpus: 2,
        memoryMb: 3000,
        gpus: 1,
        checkpointBeforeLimit: 90,
        time: "1:00:00",
        partition: "gpu q",
        maxConcurrent: 3,
      },
    })
    expect(script.split("\n").filter((l) => l.startsWith("#SBATCH"))).toEqual([
      "#SBATCH --job-name=coopnets-abl",
      "#SBATCH --array=0-1%3",
      "#SBATCH --cpus-per-task=2",
      "#SBATCH --mem=3000M",
      "#SBATCH --time=1:00:00",
      "#SBATCH --signal=B:USR1@90",
      "#SBATCH --partition='gpu q'",
      "#SBATCH --gres=gpu:1",
      "#SBATCH --requeue",
      "#SBATCH --open-mode=append",
      "#SBATCH --output='/work/runs/abl/sweep/slurm/%A_%a.out'",
    ])
    expect(script).toContain("RUNS=(\n  coop_s1_0123abcd\n  noise_s1_4567ef01\n)")
    const minimal = sbatchScript({
      ...base,
      resources: { cpus: 1, memoryMb: 4000, gpus: 0, checkpointBeforeLimit: 120 },
    })
    expect(minimal.split("\n").filter((l) => l.startsWith("#SBATCH"))).toEqual([
      "#SBATCH --job-name=coopnets-abl",
      "#SBATCH --array=0-1",
      "#SBATCH --cpus-per-task=1",
      "#SBATCH --mem=4000M",
      "#SBATCH --requeue",
      "#SBATCH --open-mode=append",
      "#SBATCH --output='/work/runs/abl/sweep/slurm/%A_%a.out'",
    ])
    execFileSync("bash", ["-n"], { input: script })
  })

  it("reads which runs SLURM still holds from squeue -r", () => {
    const subs = [
      { job: "14", ids: ["a", "b", "c"] },
      { job: "20", ids: ["d"] },
    ]
    expect(
      [
        ...queuedRuns("14_0 RUNNING\n14_1 COMPLETED\n14_2 PENDING\n20_0 CANCELLED\n99_0 RUNNING\n", subs),
      ].sort(),
    ).toEqual(["a", "c"])
    expect(queuedRuns("", subs).size).toBe(0)
  })

  it("parses sbatch --parsable", () => {
    expect(parseJobId("1234\n")).toBe("1234")
    expect(parseJobId("1234;cluster\n")).toBe("1234")
    expect(parseJobId("sbatch: error: x")).toBeUndefined()
  })

  /**
   * Runs the script's body with bash as SLURM would, with a stand-in `node` that records its
   * arguments, writes a config.json like training does and exits with $FAKE_EXIT (after $FAKE_SLEEP
   * seconds, exiting 143 on SIGTERM), and a stand-in `scontrol` that records its arguments.
   */
  const task = (o: {
    index: number
    exit?: number
    sleep?: number
    signal?: "USR1" | "TERM"
    prepare?: (root: string) => void
    evaluate?: ReadonlyArray<string>
  }) => {
    const dir = scratch()
    const root = join(dir, "runs", "abl")
    const bin = join(dir, "bin")
    mkdirSync(bin)
    const fakeNode = join(bin, "node")
    writeFileSync(
      fakeNode,
      `#!/bin/bash
trap 'echo "node got TERM" >> ${dir}/calls; exit 143' TERM
echo "node $*" >> ${dir}/calls
case $2 in
  --resume) ;;
  evaluate) mkdir -p "$3/evaluation"; echo '{}' > "$3/evaluation/evaluation.json"; exit 0 ;;
  *) mkdir -p "$4"; echo '{}' > "$4/config.json" ;;
esac
for _ in $(seq 1 \${FAKE_SLEEP:-0}0); do sleep 0.1; done
[ "\${FAKE_EXIT:-0}" = 0 ] && [ "$2" != evaluate ] && out=\${4:-$3} && mkdir -p "$out/checkpoints/final" && echo '{}' > "$out/checkpoints/final/checkpoint.json"
exit \${FAKE_EXIT:-0}
`,
    )
    writeFileSync(join(bin, "scontrol"), `#!/bin/bash\necho "scontrol $*" >> ${dir}/calls\n`)
    chmodSync(fakeNode, 0o755)
    chmodSync(join(bin, "scontrol"), 0o755)
    o.prepare?.(root)
    const script = sbatchScript({
      ...base,
      layout: sweepLayout(root),
      node: fakeNode,
      runJs: join(dir, "run.js"),
      cwd: dir,
      resources: { cpus: 3, memoryMb: 4000, gpus: 0, checkpointBeforeLimit: 120 },
      evaluate: o.evaluate,
    })
    writeFileSync(join(dir, "task.sh"), script)
    return new Promise<{
      code: number | null
      calls: Array<string>
      root: string
      log: string
      state: Record<string, unknown>
    }>((resolve) => {
      const child = spawn("bash", [join(dir, "task.sh")], {
        env: {
          PATH: `${bin}:${process.env.PATH}`,
          SLURM_ARRAY_TASK_ID: String(o.index),
          SLURM_ARRAY_JOB_ID: "77",
          SLURM_CPUS_PER_TASK: "3",
          FAKE_EXIT: String(o.exit ?? 0),
          FAKE_SLEEP: String(o.sleep ?? 0),
        },
        stdio: "ignore",
      })
      if (o.signal !== undefined)
        setTimeout(() => {
          child.kill(o.signal === "USR1" ? "SIGUSR1" : "SIGTERM")
          // SLURM signals every process of the task on scancel; the stand-in node is one of them
          if (o.signal === "TERM") {
            const id = base.ids[o.index] as string
            const pid = JSON.parse(readFileSync(join(root, "sweep", "state", `${id}.json`), "utf8")).pid
            process.kill(pid, "SIGTERM")
          }
        }, 600)
      child.on("exit", (code) => {
        const id = base.ids[o.index] as string
        const read = (f: string) => (existsSync(f) ? readFileSync(f, "utf8") : "")
        resolve({
          code,
          calls: read(join(dir, "calls")).trim().split("\n").filter(Boolean),
          root,
          log: read(join(root, "sweep", "logs", `${id}.log`)),
          state: JSON.parse(read(join(root, "sweep", "state", `${id}.json`)) || "{}"),
        })
      })
    })
  }

  it("starts a run that has no directory, from its resolved pipeline", async () => {
    const r = await task({ index: 1 })
    const id = "noise_s1_4567ef01"
    expect(r.code).toBe(0)
    expect(r.calls).toEqual([
      `node ${join(r.root, "..", "..", "run.js")} ${r.root}/sweep/pipelines/${id}.json --out ${r.root}/${id} --force`,
    ])
    expect(r.state).toMatchObject({
      engine: "slurm",
      job: "77_1",
      action: "start",
      exitCode: 0,
      host: hostname(),
    })
    expect(r.log).toMatch(
      /SLURM job 77_1, attempt 1, on .*: run noise_s1_4567ef01\n.*run noise_s1_4567ef01: start ended with exit code 0\n$/,
    )
  })

  it("resumes a run whose directory holds its config.json, and skips a done one", async () => {
    const id = "coop_s1_0123abcd"
    const resumed = await task({
      index: 0,
      exit: 1,
      prepare: (root) => {
        mkdirSync(join(root, id), { recursive: true })
        writeFileSync(join(root, id, "config.json"), "{}")
      },
    })
    expect(resumed.code).toBe(1)
    expect(resumed.calls).toEqual([
      `node ${join(resumed.root, "..", "..", "run.js")} --resume ${resumed.root}/${id}`,
    ])
    expect(resumed.state).toMatchObject({ action: "resume", exitCode: 1 })
    const done = await task({
      index: 0,
      prepare: (root) => {
        mkdirSync(join(root, id, "checkpoints", "final"), { recursive: true })
        writeFileSync(join(root, id, "checkpoints", "final", "checkpoint.json"), "{}")
      },
    })
    expect(done.code).toBe(0)
    expect(done.calls).toEqual([])
    expect(done.log).toContain(`run ${id} is already done`)
  })

  it("evaluates a trained run once, when the sweep asks for it", async () => {
    const id = "noise_s1_4567ef01"
    const r = await task({ index: 1, evaluate: ["--n", "10", "--sampler", "chains"] })
    expect(r.code).toBe(0)
    expect(r.calls).toEqual([
      `node ${join(r.root, "..", "..", "run.js")} ${r.root}/sweep/pipelines/${id}.json --out ${r.root}/${id} --force`,
      `node ${join(r.root, "..", "..", "run.js")} evaluate ${r.root}/${id} --n 10 --sampler chains`,
    ])
    expect(r.state).toMatchObject({ action: "evaluate", exitCode: 0 })
    const trainedOnly = await task({
      index: 1,
      evaluate: ["--n", "10"],
      prepare: (root) => {
        mkdirSync(join(root, id, "checkpoints", "final"), { recursive: true })
        writeFileSync(join(root, id, "checkpoints", "final", "checkpoint.json"), "{}")
      },
    })
    expect(trainedOnly.calls).toEqual([
      `node ${join(trainedOnly.root, "..", "..", "run.js")} evaluate ${trainedOnly.root}/${id} --n 10`,
    ])
  })

  it("waits for the run to checkpoint on SIGTERM and exits with its code, without requeueing", async () => {
    const r = await task({ index: 0, sleep: 5, signal: "TERM" })
    expect(r.code).toBe(143)
    expect(r.calls.slice(1)).toEqual(["node got TERM"])
    expect(r.state).toMatchObject({ exitCode: 143 })
    expect(r.log).toContain("SIGTERM: the run writes a checkpoint and stops")
  })

  it("stops the run and requeues its own task when the time limit is near (USR1)", async () => {
    const r = await task({ index: 1, sleep: 5, signal: "USR1" })
    expect(r.code).toBe(143)
    expect(r.calls.slice(1)).toEqual(["node got TERM", "scontrol requeue 77_1"])
    expect(r.state).toMatchObject({ exitCode: 143 })
  })
})

describe("local engine", () => {
  /** A stand-in training command: records start and end times, fails for ids containing "bad". */
  const fakeNode = (dir: string) => {
    const file = join(dir, "node")
    writeFileSync(
      file,
      `#!/bin/bash
out=""; for a in "$@"; do [ "$prev" = --out ] && out=$a; [ "$prev" = --resume ] && out=$a; prev=$a; done
id=$(basename "$out")
echo "$(date +%s.%N) start $id $TF_NUM_INTRAOP_THREADS $*" >> ${dir}/events
echo "training $id"
sleep 0.5
echo "$(date +%s.%N) end $id" >> ${dir}/events
case $id in *bad*) echo "error: the data is bad"; exit 1;; esac
mkdir -p "$out/checkpoints/final" && echo '{}' > "$out/checkpoints/final/checkpoint.json"
exit 0
`,
    )
    chmodSync(file, 0o755)
    return file
  }

  it("runs at most N at once, resumes started runs, skips done ones, and goes on after a failure", async () => {
    const dir = scratch()
    const layout = sweepLayout(join(dir, "runs", "s"))
    const ids = ["a_1", "bad_2", "c_3", "d_4", "done_5"]
    mkdirSync(layout.runDir("c_3"), { recursive: true })
    writeFileSync(join(layout.runDir("c_3"), "config.json"), "{}")
    mkdirSync(join(layout.runDir("done_5"), "checkpoints", "final"), { recursive: true })
    writeFileSync(join(layout.runDir("done_5"), "checkpoints", "final", "checkpoint.json"), "{}")
    const said: Array<string> = []
    const outcomes = await run(
      runLocal({
        layout,
        ids,
        parallel: 2,
        cpus: 1,
        node: fakeNode(dir),
        runJs: "run.js",
        cwd: dir,
        say: (l) => said.push(l),
      }),
    )
    expect(outcomes.map((o) => [o.id, o.step, o.exitCode])).toEqual([
      ["a_1", "start", 0],
      ["bad_2", "start", 1],
      ["c_3", "resume", 0],
      ["d_4", "start", 0],
      ["done_5", "done", 0],
    ])
    const events = readFileSync(join(dir, "events"), "utf8")
      .trim()
      .split("\n")
      .map((l) => l.split(" "))
    let running = 0
    let most = 0
    for (const e of events.sort((a, b) => Number(a[0]) - Number(b[0]))) {
      running += e[1] === "start" ? 1 : -1
      most = Math.max(most, running)
    }
    expect(most).toBe(2)
    expect(events.filter((e) => e[1] === "start").map((e) => e.slice(2).join(" "))).toEqual(
      expect.arrayContaining([
        `a_1 1 run.js ${layout.pipeline("a_1")} --out ${layout.runDir("a_1")} --force`,
        `c_3 1 run.js --resume ${layout.runDir("c_3")}`,
      ]),
    )
    expect(readFileSync(layout.logFile("bad_2"), "utf8")).toBe("training bad_2\nerror: the data is bad\n")
    const states = await run(Effect.forEach(ids, (id) => readRunState(layout, id)))
    expect(states.map((s) => s.status)).toEqual(["done", "failed", "done", "done", "done"])
    expect(states[1]?.detail).toContain("exit 1 at 0 iterations: the data is bad")
    expect(said).toContain("[bad_2] ended with exit code 1")
  })

  it("evaluates each run once its training is done, and counts it done only then", async () => {
    const dir = scratch()
    const layout = sweepLayout(join(dir, "runs", "s"))
    const file = join(dir, "node")
    writeFileSync(
      file,
      `#!/bin/bash
echo "$*" >> ${dir}/calls
if [ "$2" = evaluate ]; then
  case $3 in *bad*) echo "error: no classifier"; exit 1;; esac
  mkdir -p "$3/evaluation" && echo '{}' > "$3/evaluation/evaluation.json"; exit 0
fi
mkdir -p "$4/checkpoints/final" && echo '{}' > "$4/config.json" && echo '{}' > "$4/checkpoints/final/checkpoint.json"
`,
    )
    chmodSync(file, 0o755)
    const outcomes = await run(
      runLocal({
        layout,
        ids: ["a_1", "bad_2"],
        parallel: 1,
        cpus: 1,
        node: file,
        runJs: "run.js",
        cwd: dir,
        evaluate: ["--n", "5"],
      }),
    )
    expect(outcomes.map((o) => [o.id, o.exitCode])).toEqual([
      ["a_1", 0],
      ["bad_2", 1],
    ])
    expect(readFileSync(join(dir, "calls"), "utf8").trim().split("\n")).toEqual([
      `run.js ${layout.pipeline("a_1")} --out ${layout.runDir("a_1")} --force`,
      `run.js evaluate ${layout.runDir("a_1")} --n 5`,
      `run.js ${layout.pipeline("bad_2")} --out ${layout.runDir("bad_2")} --force`,
      `run.js evaluate ${layout.runDir("bad_2")} --n 5`,
    ])
    const states = await run(
      Effect.forEach(["a_1", "bad_2"], (id) => readRunState(layout, id, undefined, true)),
    )
    expect(states.map((s) => [s.status, s.detail])).toEqual([
      ["done", "0 iterations"],
      [
        "failed",
        `trained; evaluation failed with exit 1 at 0 iterations: no classifier (log ${layout.logFile("bad_2")})`,
      ],
    ])
    // a second pass retries only the evaluation that failed
    writeFileSync(join(dir, "calls"), "")
    await run(
      runLocal({
        layout,
        ids: ["a_1", "bad_2"],
        parallel: 1,
        cpus: 1,
        node: file,
        runJs: "run.js",
        cwd: dir,
        evaluate: ["--n", "5"],
      }),
    )
    expect(readFileSync(join(dir, "calls"), "utf8").trim()).toBe(
      `run.js evaluate ${layout.runDir("bad_2")} --n 5`,
    )
  })

  it("divides the cores among runs", () => {
    expect(defaultParallel(1, 8)).toBe(8)
    expect(defaultParallel(3, 8)).toBe(2)
    expect(defaultParallel(4, 2)).toBe(1)
  })
})
