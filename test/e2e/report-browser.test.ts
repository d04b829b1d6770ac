/**
 * The reports in a real headless Chromium (scripts/report-browser-check.mjs):
 * no console errors, no request leaving the file, every chart with all its
 * points, every image decoded, the scrubber working. Skipped, with a line
 * saying why, when Debian's chromium is not installed (apt-get install chromium).
 */
import { spawnSync } from "node:child_process"
import { existsSync, readFileSync, writeFileSync } from "node:fs"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { RunReporter, writeComparisonReport } from "../../src/pipeline/report/report.js"
import { fakeRun } from "../report-support.js"

const chromium = process.env.CHROMIUM ?? "/usr/bin/chromium"
const hasChromium = existsSync(chromium)
if (!hasChromium)
  console.warn(
    `report-browser.test.ts: no Chromium at ${chromium} (apt-get install chromium): the browser tests are SKIPPED`,
  )

const check = (...pages: Array<string>) =>
  spawnSync(process.execPath, ["scripts/report-browser-check.mjs", ...pages, "--chromium", chromium], {
    encoding: "utf8",
  })

describe.skipIf(!hasChromium)("reports in headless Chromium", () => {
  it("a run's report and a comparison report pass; a screenshot is saved", async () => {
    const a = await fakeRun({ iterations: 30, sampleEvery: 5, evaluationEvery: 10 })
    const b = await fakeRun({ iterations: 20, sampleEvery: 10, evaluationEvery: 0 })
    const live = (await new RunReporter(a.dir).write(true)).file
    const comparison = join(a.dir, "comparison.html")
    await writeComparisonReport([a.dir, b.dir], comparison)
    const shot = join(a.dir, "shot.png")
    const result = check(`${live}=${shot}`, comparison, "--min-charts", "8", "--min-images", "4")
    expect(result.stdout).toMatch(
      /report\.html: 13 charts with all \d+ points drawn, 12 images loaded, scrubber ok \(6 frames\), live \(reloads\)/,
    )
    expect(result.stdout).toMatch(
      /comparison\.html: 13 charts with all \d+ points drawn, 4 images loaded, scrubber none, not live/,
    )
    expect(result.status).toBe(0)
    expect(readFileSync(shot).subarray(1, 4).toString()).toBe("PNG")
  })

  it("fails on a missing point, a broken image, a script error and a request outside the file", async () => {
    const a = await fakeRun({ iterations: 12, sampleEvery: 6, evaluationEvery: 0 })
    const file = (await new RunReporter(a.dir).write(false)).file
    const html = readFileSync(file, "utf8")
    const broken = html
      .replace(/(aria-roledescription="line mark" d="M[^L]+)L[-\d.,]+/, "$1") // one vertex fewer
      .replace(
        /src="data:image\/png;base64,[A-Za-z0-9+/]{20}/,
        'src="data:image/png;base64,AAAAAAAAAAAAAAAAAAAA',
      )
      .replace(
        "</body>",
        '<script>undefinedFunction()</script><img src="http://127.0.0.1:9/x.png" alt="remote"></body>',
      )
    const bad = join(a.dir, "broken.html")
    writeFileSync(bad, broken)
    const result = check(bad, "--min-images", "1")
    expect(result.status).toBe(1)
    expect(result.stdout).toMatch(/points drawn, 12 expected/)
    expect(result.stdout).toContain("image not loaded: drafts")
    expect(result.stdout).toContain("exception: undefinedFunction is not defined")
    expect(result.stdout).toContain("request outside the file: http://127.0.0.1:9/x.png")
  })
})
