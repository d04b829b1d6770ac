/**
 * report.html and the comparison report, built from run directories: what
 * they show, that they are self-contained, that rewrites read only what is
 * new, that a rewrite is atomic (a process killed while writing leaves the
 * previous complete report), and how live rewrites are scheduled.
 */
import { spawn } from "node:child_process"
import { appendFileSync, existsSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs"
import { join, resolve } from "node:path"
import sharp from "sharp"
import { describe, expect, it } from "vitest"
import { differingFields } from "../../src/pipeline/report/comparison-report.js"
import { ImageCache, imageSize } from "../../src/pipeline/report/inline-images.js"
import { LiveReport } from "../../src/pipeline/report/live-report.js"
import { medianIterationMs } from "../../src/pipeline/report/metrics.js"
import { RunReporter, type Written, writeComparisonReport } from "../../src/pipeline/report/report.js"
import { startReportWorker } from "../../src/pipeline/report/report-worker.js"
import { RunReader } from "../../src/pipeline/report/run-dir.js"
import { labelsOf } from "../../src/pipeline/report/run-labels.js"
import { framesOf, thinFrames } from "../../src/pipeline/report/run-report.js"
import { parseMetrics } from "../../src/pipeline/run-dir/metrics.js"
import { evaluationLine, fakeRun, gridPng, iterationLine } from "../report-support.js"

/** The point counts each chart says it drew, by chart id. */
const chartPoints = (html: string): Record<string, Record<string, number>> =>
  Object.fromEntries(
    [...html.matchAll(/id="chart-([^"]+)" data-kind="[a-z]+" data-points="([^"]+)"/g)].map((m) => [
      m[1],
      JSON.parse((m[2] as string).replace(/&quot;/g, '"')),
    ]),
  )

describe("metrics.jsonl", () => {
  it("sorts iteration, evaluation and event lines, skips a cut-off last line and counts malformed ones", () => {
    const text = [
      JSON.stringify(iterationLine(1)),
      JSON.stringify(evaluationLine(1)),
      JSON.stringify({ iteration: 2, recovery: { stage: "revise", stepSize: 0.001 } }),
      "not json",
      JSON.stringify(iterationLine(2)),
      '{"iteration":3,"epo',
    ].join("\n")
    const { metrics, consumed } = parseMetrics(text)
    expect(metrics.iterations.map((l) => l.iteration)).toEqual([1, 2])
    expect(metrics.evaluations.map((l) => l.iteration)).toEqual([1])
    expect(metrics.events).toEqual([
      { iteration: 2, kind: "recovery", fields: { recovery: { stage: "revise", stepSize: 0.001 } } },
    ])
    expect(metrics.malformed).toBe(1)
    expect(text.slice(consumed)).toBe('{"iteration":3,"epo')
  })

  it("takes the median time per iteration without the first iteration", () => {
    const lines = [5000, 100, 300, 200].map((ms, i) => ({ ...iterationLine(i + 1), ms: { iteration: ms } }))
    expect(medianIterationMs(lines)).toBe(200)
    expect(medianIterationMs(lines.slice(0, 3))).toBe(200)
  })
})

describe("RunReader", () => {
  it("reads on from where it stopped, and from the start when metrics.jsonl is replaced", async () => {
    const run = await fakeRun({ iterations: 4, evaluationEvery: 0 })
    const reader = new RunReader(run.dir)
    expect((await reader.read()).metrics.iterations.length).toBe(4)
    // half a line, then the rest of it: counted once it is whole
    const five = JSON.stringify(iterationLine(5))
    appendFileSync(join(run.dir, "metrics.jsonl"), five.slice(0, 20))
    expect((await reader.read()).metrics.iterations.length).toBe(4)
    appendFileSync(join(run.dir, "metrics.jsonl"), `${five.slice(20)}\n`)
    const after = await reader.read()
    expect(after.metrics.iterations.map((l) => l.iteration)).toEqual([1, 2, 3, 4, 5])
    // a resumed run rewrites the file (new inode) with fewer lines
    const rewritten = join(run.dir, "metrics.jsonl.new")
    writeFileSync(
      rewritten,
      `${JSON.stringify(iterationLine(1, 7))}\n${JSON.stringify(iterationLine(2, 7))}\n`,
    )
    renameSync(rewritten, join(run.dir, "metrics.jsonl"))
    const rewound = await reader.read()
    expect(rewound.metrics.iterations.map((l) => [l.iteration, l.energy.drafted])).toEqual([
      [1, iterationLine(1, 7).energy.drafted],
      [2, iterationLine(2, 7).energy.drafted],
    ])
  })

  it("lists grids by iteration and kind, checkpoints with their iterations, and names what is missing", async () => {
    const run = await fakeRun({ iterations: 12, sampleEvery: 5 })
    const s = await new RunReader(run.dir).read()
    expect(s.grids.map((g) => `${g.kind}@${g.iteration}`)).toEqual([
      "drafts@5",
      "revised@5",
      "drafts@10",
      "revised@10",
      "drafts@12",
      "revised@12",
    ])
    expect(s.checkpoints).toEqual([{ name: "final", iteration: 12 }])
    expect(s.problems).toEqual([])
    const empty = await new RunReader(join(run.dir, "nothing-here")).read()
    expect(empty.problems).toEqual([
      "config.json is missing",
      "run.json is missing",
      "metrics.jsonl is missing (no iteration has finished yet)",
    ])
  })
})

describe("report.html", () => {
  it("holds every curve with all its points, every grid inline and the facts, and fetches nothing", async () => {
    const run = await fakeRun({ iterations: 20, sampleEvery: 5, evaluationEvery: 10 })
    const written = await new RunReporter(run.dir).write(false)
    const html = readFileSync(written.file, "utf8")
    expect(written.file).toBe(join(run.dir, "report.html"))
    const points = chartPoints(html)
    expect(points.energy).toEqual({ observed: 20, drafted: 20, revised: 20 })
    expect(points.descriptorLoss).toEqual({ "descriptor loss": 20 })
    expect(points.reconstructionError).toEqual({ "reconstruction error": 20 })
    expect(points.ms).toEqual({
      load: 20,
      draft: 20,
      revise: 20,
      updateDescriptor: 20,
      teach: 20,
      iteration: 20,
    })
    expect(points.rss).toEqual({ RSS: 20 })
    expect(points["evaluation-frechetDistance"]).toEqual({ frechetDistance: 2 })
    expect(points["evaluation-classHistogram"]).toEqual({ cells: 20 })
    // counts and timings of an evaluation are not quality curves
    expect(points["evaluation-count"]).toBeUndefined()
    expect(points["evaluation-ms"]).toBeUndefined()
    // every chart is an SVG drawn by Vega, one line per series
    expect(html.match(/<svg /g)?.length).toBe(Object.keys(points).length)
    expect(html.match(/aria-roledescription="line mark"/g)?.length).toBe(
      Object.values(points).reduce((n, p) => n + ("cells" in p ? 0 : Object.keys(p).length), 0),
    )
    // 4 grid iterations × (drafts, revised), as the PNG files' bytes
    const images = [...html.matchAll(/<img src="data:image\/png;base64,([^"]+)"/g)].map((m) =>
      Buffer.from(m[1] as string, "base64"),
    )
    expect(images.length).toBe(8)
    expect(images[0]?.equals(readFileSync(join(run.dir, "samples", "drafts-000005.png")))).toBe(true)
    expect(
      html.match(/class="frame frames" data-iteration="(\d+)"/g)?.map((m) => m.match(/\d+/)?.[0]),
    ).toEqual(["5", "10", "15", "20"])
    // only the newest frame is shown before the script runs
    expect(html).toContain('data-iteration="20">')
    expect(html).toContain('data-iteration="5" hidden>')
    // facts
    expect(html).toContain("20 of 20, epoch 1")
    expect(html).toContain("cpu <span")
    expect(html).toContain("tensorflow: not built")
    expect(html).toContain("<th>seed</th><td>7</td>")
    expect(html).toContain("final (iteration 20)")
    expect(html).toContain("Finished")
    expect(html).toContain('data-live="false"')
    // self-contained: nothing to fetch
    expect(html).not.toMatch(/\b(src|href)="(https?:)?\/\//)
    expect(html).not.toMatch(/<link\b|@import|url\(http/)
  })

  it("says it is live and reloads while the run goes on; says when a run stopped early", async () => {
    const run = await fakeRun({ iterations: 8, sampleEvery: 4, final: false })
    const html = readFileSync((await new RunReporter(run.dir).write(true)).file, "utf8")
    expect(html).toContain('data-live="true"')
    expect(html).toMatch(/Live: iteration 8 of 8\. This page reloads itself every \d+ s/)
    // reload about once per new grid: 4 iterations × the median 177 ms, at least 5 s
    expect(html).toContain('data-reload-ms="5000"')
    const stopped = readFileSync((await new RunReporter(run.dir).write(false)).file, "utf8")
    expect(stopped).toContain("stopped after iteration 8 (no final checkpoint")
  })

  it("tells from run.json how a run ended: finished, stopped by a signal, diverged; and each resume", async () => {
    const run = await fakeRun({ iterations: 6, sampleEvery: 3 })
    const record = JSON.parse(readFileSync(join(run.dir, "run.json"), "utf8"))
    const withEnd = async (ended: object) => {
      writeFileSync(
        join(run.dir, "run.json"),
        JSON.stringify({ ...record, resumed: [{ at: "2026-11-24T08:00:00.000Z", from: 4 }], ended }),
      )
      return readFileSync((await new RunReporter(run.dir).write(false)).file, "utf8")
    }
    const finished = await withEnd({ at: "2026-11-24T09:00:00.000Z", status: "finished", iterations: 6 })
    expect(finished).toContain("<th>status</th><td>finished at 2026-11-24T09:00:00.000Z</td>")
    expect(finished).toContain("<th>resumed</th><td>2026-11-24T08:00:00.000Z from iteration 4</td>")
    const stopped = await withEnd({
      at: "2026-11-24T09:00:00.000Z",
      status: "stopped",
      iterations: 6,
      signal: "SIGINT",
    })
    expect(stopped).toContain("stopped by SIGINT after iteration 6")
    expect(stopped).toContain(`node dist/run.js --resume ${run.dir}`)
    expect(stopped).toContain('class="banner done">Stopped: 6 iteration(s)')
    const diverged = await withEnd({
      at: "2026-11-24T09:00:00.000Z",
      status: "diverged",
      iterations: 6,
      message: 'Training diverged in iteration 7, stage "revise"',
    })
    expect(diverged).toContain(
      'class="banner problem">Diverged after iteration 6: Training diverged in iteration 7, stage &quot;revise&quot;',
    )
  })

  it("shows the exemplar of a texture run beside the syntheses", async () => {
    const run = await fakeRun({
      iterations: 4,
      sampleEvery: 2,
      config: {
        data: {
          source: "texture",
          path: resolve("data/brick.png"),
          size: 64,
          crops: 16,
          scale: 0.25,
          channels: 1,
        },
      },
    })
    const html = readFileSync((await new RunReporter(run.dir).write(false)).file, "utf8")
    expect(html).toContain("exemplar (training scale)")
    const exemplar = html.match(/<img src="data:image\/png;base64,([^"]+)"[^>]*alt="exemplar/)
    expect(exemplar).not.toBeNull()
    // data/brick.png is 512x512: at data.scale 0.25 the crops are cut from 128x128
    expect(imageSize(Buffer.from(exemplar?.[1] as string, "base64"))).toEqual({ width: 128, height: 128 })
  })

  it("plays a video run's animated GIF grids in place", async () => {
    const run = await fakeRun({ iterations: 4, sampleEvery: 2 })
    /** a 3-frame 40x30 animation (frames stacked vertically, as sharp takes them) */
    const gif = async (seed: number) => {
      const pixels = Buffer.alloc(40 * 30 * 3 * 3)
      for (let k = 0; k < pixels.length; k++) pixels[k] = (k * 5 + seed * 31) % 256
      return sharp(pixels, { raw: { width: 40, height: 90, channels: 3, pageHeight: 30 } })
        .gif({ loop: 0, delay: 100 })
        .toBuffer()
    }
    for (const i of [2, 4]) {
      rmSync(join(run.dir, "samples", `revised-00000${i}.png`))
      writeFileSync(join(run.dir, "samples", `revised-00000${i}.gif`), await gif(i))
    }
    expect((await sharp(join(run.dir, "samples", "revised-000004.gif")).metadata()).pages).toBe(3)
    const html = readFileSync((await new RunReporter(run.dir).write(false)).file, "utf8")
    const gifs = [...html.matchAll(/<img src="data:image\/gif;base64,([^"]+)" width="(\d+)" height="(\d+)"/g)]
    expect(gifs.length).toBe(2)
    // the whole animation, byte for byte, shown at the size of one frame (zoomed)
    expect(
      Buffer.from(gifs[1]?.[1] as string, "base64").equals(
        readFileSync(join(run.dir, "samples", "revised-000004.gif")),
      ),
    ).toBe(true)
    expect(imageSize(Buffer.from(gifs[1]?.[1] as string, "base64"))).toEqual({ width: 40, height: 30 })
  })

  it("thins long runs' frames evenly, keeping the first and the newest", () => {
    const all = Array.from({ length: 600 }, (_, i) => (i + 1) * 5)
    const kept = thinFrames(all, 120)
    expect(kept.length).toBe(120)
    expect(kept[0]).toBe(5)
    expect(kept.at(-1)).toBe(3000)
    expect(thinFrames([1, 2, 3], 120)).toEqual([1, 2, 3])
  })

  it("shows fewer frames when their images would make the page too heavy", async () => {
    const run = await fakeRun({ iterations: 40, sampleEvery: 2, evaluationEvery: 0 })
    const grids = (await new RunReader(run.dir).read()).grids
    const all = await framesOf(grids, new ImageCache())
    expect(all.map((f) => f.iteration)).toEqual(Array.from({ length: 20 }, (_, i) => 2 * (i + 1)))
    // 20 frames of 2 images: room for about 5 of them
    const perFrame = all[0]?.images.reduce((n, [, image]) => n + image.bytes, 0) as number
    const few = await framesOf(grids, new ImageCache(), 60, 5.5 * perFrame)
    expect(few.length).toBe(5)
    expect([few[0]?.iteration, few.at(-1)?.iteration]).toEqual([2, 40])
  })

  it("averages very long curves in buckets and says so", async () => {
    const run = await fakeRun({ iterations: 2500, sampleEvery: 2500, evaluationEvery: 0 })
    const html = readFileSync((await new RunReporter(run.dir).write(false)).file, "utf8")
    expect(chartPoints(html).energy).toEqual({ observed: 834, drafted: 834, revised: 834 })
    expect(html).toContain("each point is the mean of 3 consecutive values")
  })

  it("is replaced atomically: a writer killed halfway through writing leaves the previous complete report", async () => {
    const run = await fakeRun({ iterations: 30, sampleEvery: 3, evaluationEvery: 10 })
    await new RunReporter(run.dir).write(false)
    const before = readFileSync(join(run.dir, "report.html"))
    // a child process rewrites the report with more lines; its write stops halfway (the preloaded
    // fixture) and it is killed there
    appendFileSync(join(run.dir, "metrics.jsonl"), `${JSON.stringify(iterationLine(31))}\n`)
    const script = `import { RunReporter } from ${JSON.stringify(resolve("dist/pipeline/report/report.js"))}
await new RunReporter(${JSON.stringify(run.dir)}).write(true)`
    const child = spawn(
      process.execPath,
      ["--import", resolve("test/fixtures/tear-report-write.mjs"), "--input-type=module", "-e", script],
      { stdio: ["ignore", "pipe", "inherit"] },
    )
    const torn = await new Promise<string>((done) =>
      child.stdout.on("data", (d: Buffer) => done(d.toString())),
    )
    child.kill("SIGKILL")
    await new Promise((r) => child.on("exit", r))
    // the half-written bytes went to a temporary file; report.html is the previous one, byte for byte
    expect(torn).toMatch(/^torn .*report\.html\.tmp-\d+\n$/)
    const tornFile = torn.slice(5).trim()
    expect(readFileSync(tornFile).length).toBeLessThan(before.length)
    expect(readFileSync(join(run.dir, "report.html")).equals(before)).toBe(true)
    // the next rewrite replaces it with the new iteration
    await new RunReporter(run.dir).write(false)
    expect(chartPoints(readFileSync(join(run.dir, "report.html"), "utf8")).energy).toEqual({
      observed: 31,
      drafted: 31,
      revised: 31,
    })
  })
})

describe("comparison report", () => {
  it("overlays the runs' curves, shows their final grids side by side and the config fields that differ", async () => {
    const a = await fakeRun({ iterations: 10, sampleEvery: 5, evaluationEvery: 5 })
    const b = await fakeRun({
      iterations: 6,
      sampleEvery: 3,
      evaluationEvery: 0,
      config: { seed: 8, langevin: { steps: 3 } },
    })
    const file = join(a.dir, "..", `comparison-${process.pid}.html`)
    await writeComparisonReport([a.dir, b.dir], file)
    const html = readFileSync(file, "utf8")
    const [la, lb] = labelsOf([a.dir, b.dir]) as [string, string]
    const points = chartPoints(html)
    expect(points.revised).toEqual({ [la]: 10, [lb]: 6 })
    expect(points.observed).toEqual({ [la]: 10, [lb]: 6 })
    expect(points.ms).toEqual({ [la]: 10, [lb]: 6 })
    // only run a has evaluations
    expect(points["evaluation-frechetDistance"]).toEqual({ [la]: 2 })
    // final grids: a at 10, b at 6, drafts and revised each
    expect(html).toContain(`<b>${la}</b>, iteration 10`)
    expect(html).toContain(`<b>${lb}</b>, iteration 6`)
    expect(html.match(/<img /g)?.length).toBe(4)
    expect(html).toContain("<code>seed</code>")
    expect(html).toContain("<code>langevin.steps</code>")
    expect(html).toContain("<code>training.iterations</code>")
    expect(html).not.toContain("<code>name</code>")
  })

  it("labels runs by directory name, by relative path when two share a name; finds differing fields", () => {
    expect(labelsOf(["/r/a", "/r/b"])).toEqual(["a", "b"])
    expect(labelsOf(["/r/x/run", "/r/y/run"])).toEqual(["x/run", "y/run"])
    expect(
      differingFields([
        { name: "a", t: { i: 1, j: [1, 2] } },
        { name: "b", t: { i: 1, j: [1, 3] }, k: 0 },
      ]),
    ).toEqual(["k", "t.j"])
  })
})

describe("live rewrites", () => {
  /** A worker whose answers the test releases, with a clock it moves. */
  const fakeWorker = () => {
    const requests: Array<{ live: boolean; done: (w: Written) => void }> = []
    const worker = {
      mode: "inline" as const,
      close: async () => {},
      request: (r: { kind: string; live?: boolean }) =>
        new Promise<Written>((done) => requests.push({ live: r.live ?? false, done })),
    }
    return { worker, requests }
  }

  it("keeps one rebuild in flight, folds requests, waits budget × the last rebuild's time, then writes the final report", async () => {
    let clock = 0
    const { worker, requests } = fakeWorker()
    const live = new LiveReport(worker, "/run", 20, () => clock)
    const settle = () => new Promise((r) => setTimeout(r, 0))
    live.update()
    expect(requests.length).toBe(1)
    live.update()
    live.update()
    live.update()
    expect(requests.length).toBe(1)
    // the first rebuild took 500 ms: counted like every other, the next one not before 500 + 20·500
    clock = 500
    requests[0]?.done({ file: "r", bytes: 10, ms: 500 })
    await settle()
    expect(requests.length).toBe(1)
    clock = 10_499
    live.update()
    expect(requests.length).toBe(1)
    clock = 10_500
    live.update()
    expect(requests.length).toBe(2)
    // the second took 100 ms: the next one not before 10,600 + 20·100
    clock = 10_600
    requests[1]?.done({ file: "r", bytes: 10, ms: 100 })
    await settle()
    live.update()
    expect(requests.length).toBe(2)
    clock = 12_599
    live.update()
    expect(requests.length).toBe(2)
    clock = 12_600
    live.update()
    expect(requests.length).toBe(3)
    expect(requests[2]?.live).toBe(true)
    const finished = live.finish()
    requests[2]?.done({ file: "r", bytes: 20, ms: 50 })
    await settle()
    expect(requests.length).toBe(4)
    expect(requests[3]?.live).toBe(false)
    requests[3]?.done({ file: "r", bytes: 30, ms: 70 })
    await finished
    expect(live.stats).toMatchObject({ written: 4, totalMs: 720, maxMs: 500, bytes: 30, failures: [] })
    expect(live.stats.folded).toBe(4)
  })

  it("rebuilds in a worker thread (the compiled worker), off this thread", async () => {
    const run = await fakeRun({ iterations: 6, sampleEvery: 3 })
    const worker = await startReportWorker()
    try {
      expect(worker.mode).toBe("worker")
      const written = await worker.request({ kind: "run", dir: run.dir, live: true })
      expect(written.file).toBe(join(run.dir, "report.html"))
      expect(readFileSync(written.file, "utf8")).toContain('data-live="true"')
      // the worker keeps its reader: a new grid appears in the next rebuild
      writeFileSync(join(run.dir, "samples", "drafts-000009.png"), await gridPng(9))
      appendFileSync(
        join(run.dir, "metrics.jsonl"),
        `${[7, 8, 9].map((i) => JSON.stringify(iterationLine(i))).join("\n")}\n`,
      )
      await worker.request({ kind: "run", dir: run.dir, live: false })
      const html = readFileSync(written.file, "utf8")
      expect(chartPoints(html).energy).toEqual({ observed: 9, drafted: 9, revised: 9 })
      expect(html).toContain('data-iteration="9"')
      // a failure comes back as a rejection (here: the parent of the file is a file)
      await expect(
        worker.request({ kind: "comparison", dirs: [run.dir], file: join(run.dir, "config.json", "x.html") }),
      ).rejects.toThrow(/EEXIST|ENOTDIR/)
    } finally {
      await worker.close()
    }
    expect(existsSync(join(run.dir, "report.html"))).toBe(true)
  })
})
