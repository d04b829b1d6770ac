/**
 * The HTML of the reports: one self-contained page (styles, script and images
 * inline, nothing fetched), readable without its script; the script adds the
 * sample scrubber's motion and, while a run is live, reloads the page.
 */
import type { Chart } from "./charts.js"
import type { InlineImage } from "./inline-images.js"

export const escapeHtml = (s: string): string =>
  s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;")

const STYLE = `
:root { color-scheme: light; --fg: #1d2330; --muted: #5b6475; --line: #e3e6eb; --accent: #2f6fdd; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; color: var(--fg); background: #f6f7f9; }
main { max-width: 1320px; margin: 0 auto; padding: 16px 20px 40px; }
h1 { font-size: 20px; margin: 4px 0 2px; }
h2 { font-size: 16px; margin: 26px 0 10px; }
.sub { color: var(--muted); }
.banner { padding: 8px 12px; border-radius: 6px; margin: 10px 0; font-weight: 500; }
.banner.live { background: #e6f4ea; border: 1px solid #9ad3a8; }
.banner.stale { background: #fff4e0; border: 1px solid #f0c36d; }
.banner.done { background: #eef2fb; border: 1px solid #b9c8ee; }
.banner.problem { background: #fdecea; border: 1px solid #f1a9a0; }
.card { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 12px; }
.charts { display: grid; grid-template-columns: repeat(auto-fill, minmax(390px, 1fr)); gap: 12px; }
.chart { margin: 0; }
.chart svg { width: 100%; height: auto; }
.chart figcaption { font-weight: 600; font-size: 13px; margin-bottom: 4px; }
.chart .note { color: var(--muted); font-size: 12px; margin: 4px 0 0; }
table.facts { border-collapse: collapse; width: 100%; }
table.facts th, table.facts td { text-align: left; vertical-align: top; padding: 4px 10px 4px 0; border-bottom: 1px solid var(--line); }
table.facts th { white-space: nowrap; color: var(--muted); font-weight: 500; width: 1%; }
table.facts td.num, table.facts th.num { text-align: right; }
table.wide { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
table.wide th, table.wide td { padding: 4px 10px; border-bottom: 1px solid var(--line); text-align: right; white-space: nowrap; }
table.wide th:first-child, table.wide td:first-child { text-align: left; }
code, pre { font: 12px/1.4 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
pre { background: #f3f4f6; padding: 10px; border-radius: 6px; overflow: auto; max-height: 480px; }
.samples .controls { display: flex; align-items: center; gap: 10px; margin-bottom: 10px; flex-wrap: wrap; }
.samples input[type=range] { flex: 1; min-width: 200px; }
.samples .frames { display: flex; gap: 16px; flex-wrap: wrap; align-items: flex-start; }
.samples figure { margin: 0; }
.samples figcaption { color: var(--muted); font-size: 12px; margin-top: 4px; }
.samples img, .grids img { image-rendering: pixelated; border: 1px solid var(--line); background: #000; display: block; }
.frame[hidden] { display: none; }
.grids { display: flex; gap: 16px; flex-wrap: wrap; align-items: flex-start; }
.grids figure { margin: 0; }
button { font: inherit; padding: 3px 12px; border: 1px solid #b8bfcc; border-radius: 5px; background: #fff; cursor: pointer; }
ul.events { margin: 0; padding-left: 18px; }
footer { color: var(--muted); font-size: 12px; margin-top: 30px; }
`

/**
 * Scrubber: the slider shows one frame (the grids of one iteration); the
 * choice survives the live reload (sessionStorage), following the newest
 * frame when that was the one shown. Live pages reload after `data-reload-ms`
 * unless nothing has been written for a long time.
 */
const SCRIPT = `
(() => {
  const body = document.body;
  const key = "coopnets-report:" + location.pathname;
  const saved = (() => { try { return JSON.parse(sessionStorage.getItem(key) || "{}"); } catch { return {}; } })();
  const save = (patch) => { try { sessionStorage.setItem(key, JSON.stringify({ ...saved, ...patch })); } catch {} };
  const slider = document.getElementById("scrubber");
  if (slider) {
    const frames = Array.from(document.querySelectorAll(".frame"));
    const label = document.getElementById("scrubber-label");
    const show = (i) => {
      frames.forEach((f, j) => { f.hidden = j !== i; });
      slider.value = String(i);
      label.textContent = "iteration " + frames[i].dataset.iteration + " (" + (i + 1) + " of " + frames.length + ")";
      save({ frame: i === frames.length - 1 ? "latest" : Number(frames[i].dataset.iteration) });
    };
    const start = saved.frame === undefined || saved.frame === "latest"
      ? frames.length - 1
      : Math.max(0, frames.findIndex((f) => Number(f.dataset.iteration) === saved.frame));
    show(start);
    slider.addEventListener("input", () => show(Number(slider.value)));
    const play = document.getElementById("play");
    let timer = null;
    play.addEventListener("click", () => {
      if (timer) { clearInterval(timer); timer = null; play.textContent = "Play"; return; }
      play.textContent = "Pause";
      if (Number(slider.value) === frames.length - 1) show(0);
      timer = setInterval(() => {
        const next = Number(slider.value) + 1;
        if (next >= frames.length) { clearInterval(timer); timer = null; play.textContent = "Play"; return; }
        show(next);
      }, 400);
    });
  }
  if (body.dataset.live === "true") {
    const banner = document.getElementById("status");
    const every = Number(body.dataset.reloadMs);
    const updated = Date.parse(body.dataset.updated);
    const quiet = Date.now() - updated;
    if (quiet > Math.max(20 * every, 10 * 60 * 1000)) {
      banner.className = "banner stale";
      banner.textContent = "Not updated for " + Math.round(quiet / 60000) + " min: the run has probably stopped (killed, or on another machine). This page no longer reloads; open it again to refresh.";
    } else {
      window.addEventListener("scroll", () => save({ scroll: window.scrollY }), { passive: true });
      if (saved.scroll !== undefined) window.scrollTo(0, saved.scroll);
      setTimeout(() => location.reload(), every);
    }
  }
})();
`

export interface PageOptions {
  readonly title: string
  /** reload every `reloadMs` while the run is live */
  readonly live: boolean
  readonly reloadMs: number
  readonly updated: Date
  readonly body: string
}

export const page = (o: PageOptions): string =>
  `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="coopnets report">
<title>${escapeHtml(o.title)}</title>
<style>${STYLE}</style>
</head>
<body data-live="${o.live}" data-reload-ms="${Math.round(o.reloadMs)}" data-updated="${o.updated.toISOString()}">
<main>
${o.body}
<footer>Written by coopnets at ${escapeHtml(o.updated.toISOString())}. Self-contained: this one file holds every chart and image.</footer>
</main>
<script>${SCRIPT}</script>
</body>
</html>
`

/** One chart with the point counts a browser test checks against what is drawn. */
export const chartFigure = (c: Chart): string =>
  `<figure class="card chart" id="chart-${escapeHtml(c.id)}" data-kind="${c.kind}" data-points="${escapeHtml(JSON.stringify(c.points))}"><figcaption>${escapeHtml(c.title)}</figcaption>${c.svg}${c.note ? `<p class="note">${escapeHtml(c.note)}</p>` : ""}</figure>`

export const chartGrid = (charts: ReadonlyArray<Chart>): string =>
  `<div class="charts">${charts.map(chartFigure).join("\n")}</div>`

/** Grids are small (28-pixel digits): shown at an integer zoom up to about `target` pixels wide. */
export const imageTag = (image: InlineImage, alt: string, target = 460): string => {
  const zoom = Math.max(1, Math.min(4, Math.round(target / image.width)))
  return `<img src="${image.uri}" width="${image.width * zoom}" height="${image.height * zoom}" alt="${escapeHtml(alt)}">`
}

export const figure = (image: InlineImage, caption: string, target?: number): string =>
  `<figure>${imageTag(image, caption, target)}<figcaption>${escapeHtml(caption)}</figcaption></figure>`

export interface Frame {
  readonly iteration: number
  /** caption and image of each kind, in display order */
  readonly images: ReadonlyArray<readonly [string, InlineImage]>
}

/** The sample grids over time: a slider across iterations, the grids of the chosen one side by side. */
export const scrubber = (
  frames: ReadonlyArray<Frame>,
  fixed: ReadonlyArray<readonly [string, InlineImage]>,
  note: string,
): string =>
  frames.length === 0
    ? `<p class="sub">No sample grids yet.</p>`
    : `<div class="card samples">
<div class="controls"><button id="play" type="button">Play</button><input id="scrubber" type="range" min="0" max="${frames.length - 1}" value="${frames.length - 1}" aria-label="iteration"><span id="scrubber-label">iteration ${frames[frames.length - 1]?.iteration}</span></div>
<div class="frames">${fixed.map(([caption, image]) => figure(image, caption)).join("")}
${frames
  .map(
    (f, i) =>
      `<div class="frame frames" data-iteration="${f.iteration}"${i === frames.length - 1 ? "" : " hidden"}>${f.images
        .map(([caption, image]) => figure(image, `${caption}, iteration ${f.iteration}`))
        .join("")}</div>`,
  )
  .join("\n")}</div>
${note ? `<p class="sub">${escapeHtml(note)}</p>` : ""}
</div>`

export const factsTable = (rows: ReadonlyArray<readonly [string, string]>): string =>
  `<table class="facts">${rows.map(([k, v]) => `<tr><th>${escapeHtml(k)}</th><td>${v}</td></tr>`).join("")}</table>`
