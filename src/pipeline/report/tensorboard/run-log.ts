/**
 * A run's TensorBoard log, `<run>/tensorboard/events.out.tfevents.*`: every
 * metrics line as scalars (step = iteration), the sample grids as images,
 * the resolved config and run record as text. `TensorBoardLog` gives the
 * bytes to append (the run's writer appends them, off the compute path);
 * `writeTensorBoardOfRun` writes the whole log of an existing run directory
 * at once (runs made before event files existed).
 *
 *   tensorboard --logdir runs/<name>/tensorboard
 */
import { readFile } from "node:fs/promises"
import { hostname } from "node:os"
import { join } from "node:path"
import { writeFileAtomic } from "../../run-dir/atomic-file.js"
import type { EvaluationLine, IterationLine } from "../../run-dir/metrics.js"
import { imageSize } from "../inline-images.js"
import { RunReader } from "../run-dir.js"
import {
  eventFileName,
  fileVersionRecord,
  type ImageSummary,
  imageRecord,
  scalarsRecord,
  sessionStartRecord,
  textRecord,
} from "./event-file.js"
import { evaluationScalars, iterationScalars, sampleTag } from "./tags.js"

export const TENSORBOARD_DIR = "tensorboard"

/** Channels of a PNG from its IHDR colour type (grey, RGB, palette, grey + alpha, RGBA); 3 for GIF. */
export const imageChannels = (bytes: Uint8Array): number => {
  if (bytes[0] !== 0x89) return 3
  return ({ 0: 1, 2: 3, 3: 3, 4: 2, 6: 4 } as Record<number, number>)[bytes[25] ?? 2] ?? 3
}

/** The image summary of an encoded grid (null when the bytes are not a PNG or GIF). */
export const imageSummaryOf = (encoded: Uint8Array): ImageSummary | null => {
  const size = imageSize(encoded)
  return size ? { encoded, ...size, channels: imageChannels(encoded) } : null
}

const fenced = (title: string, json: unknown): string =>
  `**${title}**\n\n\`\`\`json\n${JSON.stringify(json, null, 2)}\n\`\`\``

const concat = (parts: ReadonlyArray<Uint8Array>): Uint8Array => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let at = 0
  for (const p of parts) {
    out.set(p, at)
    at += p.length
  }
  return out
}

export interface LogStart {
  /** the first iteration this process writes (1 for a new run; N + 1 when resumed after iteration N) */
  readonly firstIteration: number
  readonly config?: unknown
  readonly run?: unknown
}

/**
 * The event file of one training process. It opens with a session start at
 * its first iteration, so that when the run was resumed TensorBoard forgets
 * what the killed process wrote after its last checkpoint (those iterations
 * are trained again).
 */
export class TensorBoardLog {
  readonly file: string

  constructor(
    runDir: string,
    private readonly clock: () => Date = () => new Date(),
    host = hostname(),
  ) {
    this.file = join(runDir, TENSORBOARD_DIR, eventFileName(clock(), host, process.pid))
  }

  /** The first bytes of the file: version, session start, config and run record as text. */
  start(o: LogStart): Uint8Array {
    const at = this.clock()
    return concat([
      fileVersionRecord(at),
      // a resume, even of a run killed before its first checkpoint (firstIteration 1), replaces what came after
      sessionStartRecord(o.firstIteration, at),
      ...(o.config === undefined
        ? []
        : [textRecord(o.firstIteration, at, "config", fenced("config.json", o.config))]),
      ...(o.run === undefined ? [] : [textRecord(o.firstIteration, at, "run", fenced("run.json", o.run))]),
    ])
  }

  iteration(line: IterationLine): Uint8Array {
    return scalarsRecord(line.iteration, this.clock(), iterationScalars(line))
  }

  evaluation(line: EvaluationLine): Uint8Array {
    return scalarsRecord(line.iteration, this.clock(), evaluationScalars(line))
  }

  /** A sample grid (`kind` drafts, revised, …) of `iteration`; empty when the bytes are not an image. */
  image(iteration: number, kind: string, encoded: Uint8Array): Uint8Array {
    const summary = imageSummaryOf(encoded)
    return summary ? imageRecord(iteration, this.clock(), sampleTag(kind), summary) : new Uint8Array(0)
  }
}

/**
 * Writes the TensorBoard log of a run directory from its files, unless it
 * already has event files (the live log of the run itself). Returns the file
 * written, or null.
 */
export const writeTensorBoardOfRun = async (runDir: string): Promise<string | null> => {
  const snapshot = await new RunReader(runDir).read()
  if (snapshot.eventFiles.length > 0) return null
  const log = new TensorBoardLog(runDir)
  const parts: Array<Uint8Array> = [
    log.start({
      firstIteration: 1,
      ...(snapshot.config ? { config: snapshot.config } : {}),
      ...(snapshot.run ? { run: snapshot.run } : {}),
    }),
  ]
  const evaluations = new Map(snapshot.metrics.evaluations.map((e) => [e.iteration, e]))
  const grids = new Map<number, Array<{ kind: string; file: string }>>()
  for (const g of snapshot.grids) grids.set(g.iteration, [...(grids.get(g.iteration) ?? []), g])
  for (const line of snapshot.metrics.iterations) {
    parts.push(log.iteration(line))
    const evaluation = evaluations.get(line.iteration)
    if (evaluation) parts.push(log.evaluation(evaluation))
    for (const g of grids.get(line.iteration) ?? [])
      parts.push(log.image(line.iteration, g.kind, new Uint8Array(await readFile(g.file))))
  }
  await writeFileAtomic(log.file, concat(parts))
  return log.file
}
