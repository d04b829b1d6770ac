/**
 * The SLURM engine: one `sbatch` job-array script for the runs to launch (array index i → the
 * i-th of them), submitted with `sbatch --parsable`.
 *
 * Each task starts its run, or resumes it from its newest checkpoint with `--resume`, by the rule
 * of `nextStep` (run-state.ts), so a task that is requeued, preempted or cancelled and submitted
 * again loses at most the iterations since the run's last checkpoint:
 *
 * - `scancel`, `scontrol requeue` and preemption send SIGTERM to every process of the task: the
 *   training process finishes its iteration, writes a checkpoint and exits 143; the task script
 *   traps SIGTERM only to wait for it (SLURM's KillWait, 30 s by default, must cover one
 *   iteration and a checkpoint);
 * - with a time limit, `--signal=B:USR1@N` warns the script N seconds before it; the script asks
 *   the run to checkpoint and stop, then requeues its own task, which resumes when it starts again;
 * - `--requeue` lets SLURM requeue the task after a node failure; `--open-mode=append` keeps the
 *   output of every attempt.
 *
 * The paths in the script are absolute: on a cluster of several hosts the project directory and
 * `runs/` must be on a file system every node mounts (as usual for SLURM).
 */
import { Effect, Result, Stream } from "effect"
import { ChildProcess, CommandLine } from "effect/process"
import { OutputError } from "../errors.js"
import type { SweepLayout } from "./layout.js"
import type { Resources } from "./sweep-spec.js"

export interface SbatchInput {
  readonly sweep: string
  /** the sweep file, named in the script's header */
  readonly source: string
  /** absolute paths */
  readonly layout: SweepLayout
  /** the run ids to launch: array index i runs ids[i] */
  readonly ids: ReadonlyArray<string>
  readonly resources: Resources
  /** absolute paths of the node binary, of dist/run.js and of the project directory */
  readonly node: string
  readonly runJs: string
  readonly cwd: string
  /** the `evaluate` command's arguments after the run directory (the sweep's `evaluate` section); none: no evaluation */
  readonly evaluate?: ReadonlyArray<string> | undefined
}

/** A word quoted for bash (effect's POSIX quoting: plain words stay as they are). */
const q = (word: string): string => Result.getOrThrow(CommandLine.quote(word))

/** The job-array script. Pure: the same input gives the same text. */
export const sbatchScript = (i: SbatchInput): string => {
  const r = i.resources
  const L = i.layout
  const directives = [
    `--job-name=${q(`coopnets-${i.sweep}`)}`,
    `--array=0-${i.ids.length - 1}${r.maxConcurrent === undefined ? "" : `%${r.maxConcurrent}`}`,
    `--cpus-per-task=${r.cpus}`,
    `--mem=${r.memoryMb}M`,
    ...(r.time === undefined ? [] : [`--time=${r.time}`, `--signal=B:USR1@${r.checkpointBeforeLimit}`]),
    ...(r.partition === undefined ? [] : [`--partition=${q(r.partition)}`]),
    ...(r.account === undefined ? [] : [`--account=${q(r.account)}`]),
    ...(r.gpus > 0 ? [`--gres=gpu:${r.gpus}`] : []),
    "--requeue",
    "--open-mode=append",
    `--output=${q(`${L.slurm}/%A_%a.out`)}`,
  ]
  return `#!/bin/bash
# coopnets sweep ${i.sweep} (${i.source}): ${i.ids.length} run${i.ids.length === 1 ? "" : "s"}, one array task each.
# Task i starts run RUNS[i], or resumes it from its newest checkpoint (node dist/run.js --resume DIR).
# With the sweep's "evaluate" section it then evaluates the run (node dist/run.js evaluate DIR ...).
${directives.map((d) => `#SBATCH ${d}`).join("\n")}
set -uo pipefail

RUNS=(
${i.ids.map((id) => `  ${q(id)}`).join("\n")}
)
ROOT=${q(L.root)}
OWN=${q(`${L.root}/sweep`)}
NODE=${q(i.node)}
RUN_JS=${q(i.runJs)}
ID=\${RUNS[$SLURM_ARRAY_TASK_ID]}
DIR=$ROOT/$ID
JOB=\${SLURM_ARRAY_JOB_ID}_\${SLURM_ARRAY_TASK_ID}
STATE=$OWN/state/$ID.json
cd ${q(i.cwd)} || exit 1
mkdir -p "$OWN/logs" "$OWN/state"
exec >>"$OWN/logs/$ID.log" 2>&1
# TensorFlow uses as many threads as the task has cores, not as the node has
export TF_NUM_INTRAOP_THREADS=\${TF_NUM_INTRAOP_THREADS:-\${SLURM_CPUS_PER_TASK:-1}}
export TF_NUM_INTEROP_THREADS=\${TF_NUM_INTEROP_THREADS:-\${SLURM_CPUS_PER_TASK:-1}}
echo "[$(date -Is)] SLURM job $JOB, attempt $((\${SLURM_RESTART_COUNT:-0} + 1)), on $(hostname): run $ID"

# with the sweep's "evaluate" section: its arguments to \`node dist/run.js evaluate DIR\` once training is done
EVALUATE=(${(i.evaluate ?? []).map(q).join(" ")})
trained() { [ -f "$DIR/checkpoints/final/checkpoint.json" ]; }
evaluated() { [ \${#EVALUATE[@]} -eq 0 ] || [ -f "$DIR/evaluation/evaluation.json" ]; }
if trained && evaluated; then
  echo "run $ID is already done"
  exit 0
fi

attempt() { # pid [exit code]: sweep/state/<id>.json, written atomically
  local tmp="$STATE.tmp-$$" ended=""
  [ $# -gt 1 ] && ended=",\\"exitCode\\":$2,\\"finished\\":\\"$(date -Is)\\""
  printf '{"engine":"slurm","host":"%s","pid":%s,"job":"%s","action":"%s","started":"%s"%s}\\n' \\
    "$(hostname)" "$1" "$JOB" "$ACTION" "$STARTED" "$ended" >"$tmp" && mv -f "$tmp" "$STATE"
}

requeue=0
child=
# scancel / requeue / preemption: SLURM sends SIGTERM to the run too, which checkpoints and exits 143; wait for it
trap 'echo "[$(date -Is)] SIGTERM: the run writes a checkpoint and stops"' TERM
# --signal=B:USR1@N: the time limit is near; stop the run at a checkpoint and requeue this task
trap 'requeue=1; echo "[$(date -Is)] time limit near: checkpoint, stop, requeue"; [ -n "$child" ] && kill -TERM "$child" 2>/dev/null' USR1

step() { # ACTION ARGS...: node dist/run.js ARGS in the background, waited for through the traps; sets rc
  ACTION=$1
  shift
  STARTED=$(date -Is)
  "$NODE" "$RUN_JS" "$@" &
  child=$!
  attempt "$child"
  while :; do
    wait "$child"
    rc=$?
    kill -0 "$child" 2>/dev/null || break
  done
  # a trap that interrupted wait just as the run ended: its exit code is still waiting to be collected
  wait "$child" 2>/dev/null && rc=0 || { code=$?; [ "$code" -ne 127 ] && rc=$code; }
  attempt "$child" "$rc"
  echo "[$(date -Is)] run $ID: $ACTION ended with exit code $rc"
}

rc=0
if ! trained; then
  if [ -f "$DIR/config.json" ]; then
    step resume --resume "$DIR"
  else
    step start "$OWN/pipelines/$ID.json" --out "$DIR" --force
  fi
fi
if [ "$rc" -eq 0 ] && [ "$requeue" = 0 ] && ! evaluated; then
  step evaluate evaluate "$DIR" "\${EVALUATE[@]}"
fi
if [ "$requeue" = 1 ] && [ "$rc" -ne 0 ]; then
  scontrol requeue "$JOB"
fi
exit "$rc"
`
}

/** `sbatch --parsable`'s output: `<job id>` or `<job id>;<cluster>`. */
export const parseJobId = (stdout: string): string | undefined => /^(\d+)(;\S+)?\s*$/.exec(stdout.trim())?.[1]

/** Submits the script file; returns the array job's id. */
export const submit = (scriptFile: string) =>
  Effect.scoped(
    Effect.gen(function* () {
      const handle = yield* ChildProcess.make("sbatch", ["--parsable", scriptFile], { stdin: "ignore" })
      const [stdout, stderr, code] = yield* Effect.all(
        [collectText(handle.stdout), collectText(handle.stderr), handle.exitCode],
        { concurrency: "unbounded" },
      )
      const job = parseJobId(stdout)
      if (code !== 0 || job === undefined)
        return yield* new OutputError({
          message: `sbatch ${scriptFile} failed (exit ${code}): ${(stderr || stdout).trim()}. Check the resources in the sweep file (partition, memory, time) against \`sinfo\`; the script is kept for \`sbatch\` by hand.`,
        })
      return job
    }),
  ).pipe(
    Effect.catchTag("PlatformError", (e) =>
      Effect.fail(
        new OutputError({
          message: `Cannot run sbatch (${e.message}): is SLURM installed and on PATH here? On one machine, scripts/slurm-cluster.sh start makes a single-node cluster; otherwise use --engine local.`,
        }),
      ),
    ),
  )

/** A child's output stream as text. */
export const collectText = <E>(stream: Stream.Stream<Uint8Array, E>) =>
  stream.pipe(Stream.decodeText, Stream.mkString)

/** One submission of a sweep (a line of sweep/slurm/jobs.jsonl): array index i ran ids[i]. */
export interface Submission {
  readonly job: string
  readonly ids: ReadonlyArray<string>
}

/** `squeue -h -r -o "%i %T"` lines → the run ids whose tasks are still pending or running. */
export const queuedRuns = (squeueText: string, submissions: ReadonlyArray<Submission>): Set<string> => {
  const queued = new Set<string>()
  for (const line of squeueText.split("\n")) {
    const m = /^(\d+)_(\d+)\s+(\S+)/.exec(line.trim())
    if (m === null || ["COMPLETED", "CANCELLED", "FAILED", "TIMEOUT"].includes(m[3] as string)) continue
    const id = submissions.find((s) => s.job === m[1])?.ids[Number(m[2])]
    if (id !== undefined) queued.add(id)
  }
  return queued
}

/** The runs of these submissions that SLURM still holds (pending, running, requeued); none where squeue is missing. */
export const queuedInSlurm = (submissions: ReadonlyArray<Submission>) =>
  submissions.length === 0
    ? Effect.succeed(new Set<string>())
    : Effect.scoped(
        Effect.gen(function* () {
          const handle = yield* ChildProcess.make(
            "squeue",
            ["-h", "-r", "-o", "%i %T", "-j", submissions.map((s) => s.job).join(",")],
            { stdin: "ignore" },
          )
          const [stdout] = yield* Effect.all([collectText(handle.stdout), handle.exitCode], {
            concurrency: "unbounded",
          })
          return queuedRuns(stdout, submissions)
        }),
      ).pipe(Effect.orElseSucceed(() => new Set<string>()))
