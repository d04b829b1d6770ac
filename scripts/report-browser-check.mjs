#!/usr/bin/env node
/**
 * Opens report pages in a real headless Chromium (Debian's `chromium`,
 * driven by playwright-core through its executable path; nothing is
 * downloaded) and checks what a person would see:
 *
 *   - no console errors and no uncaught exceptions;
 *   - no request leaves the file (the page is self-contained: no CDN, no fetch;
 *     such requests are recorded and refused, never sent);
 *   - every chart is drawn, and every line has as many vertices as the page
 *     says its series has points (every heatmap as many cells);
 *   - every image decodes (width > 0);
 *   - the sample scrubber switches frames;
 *   - a live page says so and will reload.
 *
 *   node scripts/report-browser-check.mjs runs/x/report.html[=shot.png] [more.html[=shot.png] …]
 *     [--min-charts N] [--min-images N] [--chromium /usr/bin/chromium]
 *
 * Exit 0 when every page passes, 1 otherwise, 2 when Chromium is missing.
 */
import { existsSync, mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join, resolve } from "node:path"
import { pathToFileURL } from "node:url"
import { chromium } from "playwright-core"

const args = process.argv.slice(2)
const option = (name, fallback) => {
  const i = args.indexOf(name)
  if (i < 0) return fallback
  const value = args[i + 1]
  args.splice(i, 2)
  return value
}
const executablePath = option("--chromium", process.env.CHROMIUM ?? "/usr/bin/chromium")
const minCharts = Number(option("--min-charts", "1"))
const minImages = Number(option("--min-images", "1"))
if (args.length === 0) {
  console.error("usage: node scripts/report-browser-check.mjs <report.html>[=<screenshot.png>] …")
  process.exit(2)
}
if (!existsSync(executablePath)) {
  console.error(
    `report-browser-check: no Chromium at ${executablePath} (apt-get install chromium, or --chromium PATH)`,
  )
  process.exit(2)
}

const FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
]

/** Runs in the page: what is drawn against what the page says was plotted. */
const inspect = async () => {
  const charts = [...document.querySelectorAll("figure.chart")].map((fig) => {
    const expected = JSON.parse(fig.dataset.points ?? "{}")
    const svg = fig.querySelector("svg")
    const box = svg?.getBoundingClientRect()
    const problems = []
    if (!svg || !box || box.width < 50 || box.height < 50) problems.push("no visible SVG")
    if (fig.dataset.kind === "heatmap") {
      const cells = [...fig.querySelectorAll(".mark-rect path")].filter(
        (p) => !p.closest(".role-legend"),
      ).length
      if (cells !== expected.cells) problems.push(`${cells} cells drawn, ${expected.cells} expected`)
    } else {
      const drawn = {}
      for (const path of [...fig.querySelectorAll(".mark-line path")].filter(
        (p) => !p.closest(".role-legend"),
      )) {
        const series = /series: (.*)$/.exec(path.getAttribute("aria-label") ?? "")?.[1] ?? "?"
        drawn[series] = (drawn[series] ?? 0) + ((path.getAttribute("d") ?? "").match(/[ML]/g) ?? []).length
      }
      for (const [series, n] of Object.entries(expected))
        if (drawn[series] !== n)
          problems.push(`series "${series}": ${drawn[series] ?? 0} points drawn, ${n} expected`)
      for (const series of Object.keys(drawn))
        if (!(series in expected)) problems.push(`series "${series}" drawn but not expected`)
    }
    const points = Object.values(expected).reduce((a, b) => a + b, 0)
    return { id: fig.id, points, problems }
  })
  const images = await Promise.all(
    [...document.images].map((img) =>
      img.decode().then(
        () => ({ ok: img.naturalWidth > 0, alt: img.alt }),
        () => ({ ok: false, alt: img.alt }),
      ),
    ),
  )
  let scrubber = "none"
  const slider = document.getElementById("scrubber")
  if (slider) {
    const frames = [...document.querySelectorAll(".frame")]
    const visible = () => frames.filter((f) => !f.hidden).map((f) => f.dataset.iteration)
    const lastShown = visible()
    slider.value = "0"
    slider.dispatchEvent(new Event("input"))
    const firstShown = visible()
    slider.value = String(frames.length - 1)
    slider.dispatchEvent(new Event("input"))
    const ok =
      frames.length > 0 &&
      firstShown.length === 1 &&
      firstShown[0] === frames[0].dataset.iteration &&
      lastShown.length === 1 &&
      lastShown[0] === frames.at(-1).dataset.iteration &&
      visible()[0] === lastShown[0]
    scrubber = ok
      ? `ok (${frames.length} frames)`
      : `broken: shown ${JSON.stringify({ lastShown, firstShown })}`
  }
  return {
    charts,
    images,
    scrubber,
    live: document.body.dataset.live === "true",
    reloadMs: Number(document.body.dataset.reloadMs),
    status: document.getElementById("status")?.textContent ?? "",
  }
}

const userDataDir = mkdtempSync(join(tmpdir(), "coopnets-chromium-"))
const context = await chromium.launchPersistentContext(userDataDir, {
  executablePath,
  headless: true,
  args: FLAGS,
  viewport: { width: 1280, height: 900 },
})
// nothing may leave the page's file: other requests are recorded (below) and refused here, never sent
await context.route(
  (u) => u.protocol !== "file:" && u.protocol !== "data:",
  (route) => route.abort("blockedbyclient"),
)
let failed = false
try {
  for (const arg of args) {
    const [file, shot] = arg.split("=")
    const url = pathToFileURL(resolve(file)).href
    const page = await context.newPage()
    const errors = []
    const requests = []
    page.on("console", (m) => {
      if (m.type() === "error") errors.push(`console: ${m.text()}`)
    })
    page.on("pageerror", (e) => errors.push(`exception: ${e.message}`))
    page.on("request", (r) => {
      if (r.url() !== url && !r.url().startsWith("data:")) requests.push(r.url())
    })
    await page.goto(url, { waitUntil: "load" })
    const seen = await page.evaluate(inspect)
    const problems = [
      ...errors,
      ...requests.map((r) => `request outside the file: ${r}`),
      ...seen.charts.flatMap((c) => c.problems.map((p) => `${c.id}: ${p}`)),
      ...seen.images.filter((i) => !i.ok).map((i) => `image not loaded: ${i.alt}`),
    ]
    if (seen.charts.length < minCharts)
      problems.push(`${seen.charts.length} charts, at least ${minCharts} expected`)
    if (seen.images.length < minImages)
      problems.push(`${seen.images.length} images, at least ${minImages} expected`)
    if (seen.scrubber.startsWith("broken")) problems.push(`scrubber ${seen.scrubber}`)
    if (seen.live && !(seen.status.startsWith("Live") && seen.reloadMs >= 5000))
      problems.push(`live page without a live banner or reload interval: ${seen.status}`)
    if (shot) await page.screenshot({ path: shot, fullPage: true })
    const points = seen.charts.reduce((a, c) => a + c.points, 0)
    if (problems.length > 0) {
      failed = true
      console.log(`report-browser-check: ${file}: ${problems.length} problem(s)`)
      for (const p of problems.slice(0, 30)) console.log(`  - ${p}`)
    } else
      console.log(
        `report-browser-check: ${file}: ${seen.charts.length} charts with all ${points} points drawn, ${seen.images.length} images loaded, scrubber ${seen.scrubber}, ${seen.live ? "live (reloads)" : "not live"}, no console errors, no requests${shot ? `; screenshot ${shot}` : ""}`,
      )
    await page.close()
  }
} finally {
  await context.close()
  rmSync(userDataDir, { recursive: true, force: true })
}
process.exit(failed ? 1 : 0)
