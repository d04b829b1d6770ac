/**
 * Writing the reports: `<run>/report.html` (rebuilt as the run goes on, each
 * time from the run directory's files, reading only what is new) and the
 * comparison report of several runs. Both are written atomically.
 */
import { join } from "node:path"
import { writeFileAtomic } from "../run-dir/atomic-file.js"
import { buildComparisonReport } from "./comparison-report.js"
import { ImageCache } from "./inline-images.js"
import { RunReader } from "./run-dir.js"
import { buildRunReport } from "./run-report.js"

export const REPORT_FILE = "report.html"

export interface Written {
  readonly file: string
  readonly bytes: number
  /** time to build and write, ms */
  readonly ms: number
}

/** The report of one run directory, kept between rewrites so that each one reads only what is new. */
export class RunReporter {
  private readonly reader: RunReader
  private readonly images = new ImageCache()

  constructor(readonly dir: string) {
    this.reader = new RunReader(dir)
  }

  async write(live: boolean): Promise<Written> {
    const started = performance.now()
    const html = await buildRunReport(this.reader, this.images, { live })
    const file = join(this.dir, REPORT_FILE)
    await writeFileAtomic(file, html)
    return { file, bytes: Buffer.byteLength(html), ms: performance.now() - started }
  }
}

export const writeComparisonReport = async (dirs: ReadonlyArray<string>, file: string): Promise<Written> => {
  const started = performance.now()
  const html = await buildComparisonReport(dirs)
  await writeFileAtomic(file, html)
  return { file, bytes: Buffer.byteLength(html), ms: performance.now() - started }
}
