/**
 * Keeping a run's report.html current while it trains, at a bounded cost.
 *
 * `update()` is called every `output.sampleEvery` iterations (after the
 * writer has put that iteration's files on disk) and returns at once: the
 * report is rebuilt by the worker thread. At most one rebuild is in flight;
 * requests that come meanwhile are folded into one. After a rebuild that took
 * t ms the next one starts no sooner than `budget`·t ms later, so rebuilding
 * never takes more than about 1/budget of one core, however often grids are
 * written (the benchmark writes them every iteration). The first rebuild
 * counts too, though it carries one-off costs (compiling the chart code): the
 * report appears at the first grids, and the next rebuild waits its turn.
 * `finish()` waits for the rebuild in flight and writes the final report.
 */
import type { Written } from "./report.js"
import type { ReportWorker } from "./report-worker.js"

export interface LiveReportStats {
  /** rebuilds written (the final one included) */
  readonly written: number
  /** requests folded into a later rebuild */
  readonly folded: number
  /** wall time of the rebuilds in the worker, ms */
  readonly totalMs: number
  readonly maxMs: number
  /** size of the last report written */
  readonly bytes: number
  readonly failures: ReadonlyArray<string>
}

export const DEFAULT_BUDGET = 20

export class LiveReport {
  private inFlight: Promise<void> | null = null
  private wanted = false
  private notBefore = 0
  private stats_ = { written: 0, folded: 0, totalMs: 0, maxMs: 0, bytes: 0, failures: [] as Array<string> }

  constructor(
    private readonly worker: ReportWorker,
    readonly dir: string,
    private readonly budget = DEFAULT_BUDGET,
    private readonly now: () => number = () => performance.now(),
  ) {}

  get stats(): LiveReportStats {
    return { ...this.stats_, failures: [...this.stats_.failures] }
  }

  private record(w: Written): void {
    this.stats_.written++
    this.stats_.totalMs += w.ms
    this.stats_.maxMs = Math.max(this.stats_.maxMs, w.ms)
    this.stats_.bytes = w.bytes
  }

  private start(): void {
    this.wanted = false
    const started = this.now()
    this.inFlight = this.worker.request({ kind: "run", dir: this.dir, live: true }).then(
      (w) => {
        this.record(w)
        this.notBefore = this.now() + this.budget * (this.now() - started)
        this.inFlight = null
        if (this.wanted && this.now() >= this.notBefore) this.start()
      },
      (e: Error) => {
        this.stats_.failures.push(e.message)
        this.notBefore = this.now() + this.budget * (this.now() - started)
        this.inFlight = null
      },
    )
  }

  /** Asks for a rebuild with what is on disk now; returns at once. */
  update(): void {
    if (this.inFlight !== null || this.now() < this.notBefore) {
      if (this.wanted) this.stats_.folded++
      this.wanted = true
      return
    }
    this.start()
  }

  /** Waits for the rebuild in flight, then writes the final (not live) report. */
  async finish(): Promise<Written> {
    while (this.inFlight !== null) await this.inFlight
    this.wanted = false
    const w = await this.worker.request({ kind: "run", dir: this.dir, live: false })
    this.record(w)
    return w
  }
}
