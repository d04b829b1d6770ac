/**
 * Reads what a run directory holds, for the report:
 *
 *   config.json, run.json          the resolved pipeline; backend, versions, start time
 *   metrics.jsonl                  iteration, evaluation and event lines (./metrics.ts)
 *   samples/<kind>-NNNNNN.<png|gif>  sample grids (GIF: animated, video runs) (kind: drafts, revised, …)
 *   checkpoints/iter-NNNNNN/, final/
 *   tensorboard/events.out.tfevents.*
 *
 * A `RunReader` keeps what it has read: metrics.jsonl is read on from where it
 * stopped while the file only grows (a resumed run rewrites it under a new
 * inode, and then it is read again from the start), and each image is
 * encoded once. Plain Node file calls: the reader also runs in the report's
 * worker thread, outside any Effect runtime.
 */
import { open, readdir, readFile, stat } from "node:fs/promises"
import * as nodePath from "node:path"
import { basename, join } from "node:path"
import { MANIFEST_FILE, runFiles } from "../run-dir/layout.js"
import { emptyMetrics, type Metrics, parseMetrics } from "../run-dir/metrics.js"

export interface Grid {
  readonly iteration: number
  readonly kind: string
  readonly file: string
}

export interface Checkpoint {
  readonly name: string
  /** null for a checkpoint whose checkpoint.json cannot be read */
  readonly iteration: number | null
}

export interface RunSnapshot {
  readonly dir: string
  /** config.json as written (null with a problem when absent or unreadable) */
  readonly config: Record<string, unknown> | null
  readonly run: Record<string, unknown> | null
  readonly metrics: Metrics
  /** when metrics.jsonl was last written */
  readonly metricsWritten: Date | null
  readonly grids: ReadonlyArray<Grid>
  readonly checkpoints: ReadonlyArray<Checkpoint>
  readonly eventFiles: ReadonlyArray<string>
  /** files that are missing or unreadable, in words */
  readonly problems: ReadonlyArray<string>
}

const GRID = /^([a-z][a-z0-9_]*)-(\d{6,})\.(png|gif)$/i
const CHECKPOINT = /^(iter-\d{6,}|final)$/

const readJson = async (
  file: string,
  problems: Array<string>,
  required: boolean,
): Promise<Record<string, unknown> | null> => {
  let text: string
  try {
    text = await readFile(file, "utf8")
  } catch {
    if (required) problems.push(`${basename(file)} is missing`)
    return null
  }
  try {
    const value: unknown = JSON.parse(text)
    if (typeof value === "object" && value !== null && !Array.isArray(value))
      return value as Record<string, unknown>
    problems.push(`${basename(file)} is not a JSON object`)
  } catch (e) {
    problems.push(`${basename(file)} is not valid JSON (${(e as Error).message})`)
  }
  return null
}

const listDir = async (dir: string): Promise<Array<string>> => readdir(dir).catch(() => [] as Array<string>)

export const listGrids = async (dir: string): Promise<Array<Grid>> =>
  (await listDir(runFiles(dir, nodePath).samples))
    .flatMap((name) => {
      const m = GRID.exec(name)
      return m
        ? [
            {
              kind: m[1] as string,
              iteration: Number(m[2]),
              file: join(runFiles(dir, nodePath).samples, name),
            },
          ]
        : []
    })
    .sort((a, b) => a.iteration - b.iteration || a.kind.localeCompare(b.kind))

const listCheckpoints = async (dir: string): Promise<Array<Checkpoint>> => {
  const files = runFiles(dir, nodePath)
  const names = (await listDir(files.checkpoints)).filter((n) => CHECKPOINT.test(n))
  const read = await Promise.all(
    names.map(async (name): Promise<Checkpoint> => {
      if (name.startsWith("iter-")) return { name, iteration: Number(name.slice(5)) }
      // final/: the iteration is in its checkpoint.json (read only the head: the manifest can be long)
      try {
        const handle = await open(join(files.checkpoint(name), MANIFEST_FILE))
        try {
          const { buffer, bytesRead } = await handle.read(Buffer.alloc(4096), 0, 4096, 0)
          const m = /"iteration"\s*:\s*(\d+)/.exec(buffer.subarray(0, bytesRead).toString("utf8"))
          return { name, iteration: m ? Number(m[1]) : null }
        } finally {
          await handle.close()
        }
      } catch {
        return { name, iteration: null }
      }
    }),
  )
  return read.sort((a, b) => (a.iteration ?? Infinity) - (b.iteration ?? Infinity))
}

/** Reads a run directory, again and again, doing only the new work each time. */
export class RunReader {
  private metrics: Metrics = emptyMetrics
  private consumed = 0
  private inode = -1
  private pending = ""

  constructor(readonly dir: string) {}

  private async readMetrics(problems: Array<string>): Promise<Date | null> {
    const file = runFiles(this.dir, nodePath).metrics
    let info: Awaited<ReturnType<typeof stat>>
    try {
      info = await stat(file)
    } catch {
      problems.push("metrics.jsonl is missing (no iteration has finished yet)")
      return null
    }
    if (info.ino !== this.inode || info.size < this.consumed) {
      this.metrics = emptyMetrics
      this.consumed = 0
      this.pending = ""
      this.inode = info.ino
    }
    if (info.size > this.consumed) {
      const handle = await open(file)
      try {
        const length = info.size - this.consumed
        const { buffer, bytesRead } = await handle.read(Buffer.alloc(length), 0, length, this.consumed)
        this.consumed += bytesRead
        const text = this.pending + buffer.subarray(0, bytesRead).toString("utf8")
        const parsed = parseMetrics(text, this.metrics)
        this.metrics = parsed.metrics
        this.pending = text.slice(parsed.consumed)
      } finally {
        await handle.close()
      }
    }
    return info.mtime
  }

  async read(): Promise<RunSnapshot> {
    // one list per source, joined in a fixed order (the reads finish in any order)
    const configProblems: Array<string> = []
    const runProblems: Array<string> = []
    const metricsProblems: Array<string> = []
    const [config, run, metricsWritten, grids, checkpoints, eventFiles] = await Promise.all([
      readJson(runFiles(this.dir, nodePath).config, configProblems, true),
      readJson(runFiles(this.dir, nodePath).record, runProblems, true),
      this.readMetrics(metricsProblems),
      listGrids(this.dir),
      listCheckpoints(this.dir),
      listDir(runFiles(this.dir, nodePath).tensorboard).then((names) =>
        names.filter((n) => n.includes("tfevents")).sort(),
      ),
    ])
    const problems = [...configProblems, ...runProblems, ...metricsProblems]
    if (this.metrics.malformed > 0)
      problems.push(
        `${this.metrics.malformed} line(s) of metrics.jsonl are not JSON objects and were skipped`,
      )
    return {
      dir: this.dir,
      config,
      run,
      metrics: this.metrics,
      metricsWritten,
      grids,
      checkpoints,
      eventFiles,
      problems,
    }
  }
}
