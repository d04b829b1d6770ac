/**
 * Where a sweep keeps its files. Each run is an ordinary run directory, so it can be opened,
 * sampled, resumed or evaluated on its own; what belongs to the sweep is under `sweep/`:
 *
 *   runs/<sweep>/
 *     <run id>/                     the run directory (config.json, metrics.jsonl, checkpoints/, …)
 *     sweep/plan.json               the sweep file, its source, and every run: index, id, overrides
 *     sweep/pipelines/<id>.json     each run's resolved pipeline (what a task starts the run from)
 *     sweep/state/<id>.json         the newest attempt: engine, host, pid, SLURM job, start, exit code
 *     sweep/logs/<id>.log           the run's terminal output, every attempt appended
 *     sweep/slurm/array.sbatch      the job-array script (engine slurm), sweep/slurm/jobs.jsonl its submissions
 *     sweep/collect.md, collect.json   the table of `sweep collect`
 *
 * Run ids always end in `_<8 hex digits>` or are those digits, so no run is ever called `sweep`.
 */
import { join } from "node:path"

export interface SweepLayout {
  readonly root: string
  readonly plan: string
  readonly pipelines: string
  readonly state: string
  readonly logs: string
  readonly slurm: string
  readonly runDir: (id: string) => string
  readonly pipeline: (id: string) => string
  readonly stateFile: (id: string) => string
  readonly logFile: (id: string) => string
}

export const PLAN_FILE = "plan.json"

export const sweepLayout = (root: string): SweepLayout => {
  const own = join(root, "sweep")
  return {
    root,
    plan: join(own, PLAN_FILE),
    pipelines: join(own, "pipelines"),
    state: join(own, "state"),
    logs: join(own, "logs"),
    slurm: join(own, "slurm"),
    runDir: (id) => join(root, id),
    pipeline: (id) => join(own, "pipelines", `${id}.json`),
    stateFile: (id) => join(own, "state", `${id}.json`),
    logFile: (id) => join(own, "logs", `${id}.log`),
  }
}
