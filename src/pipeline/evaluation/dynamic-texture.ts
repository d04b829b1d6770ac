/**
 * The dynamic-texture measure of a trained video run (src/models/video-quality.ts): N clips
 * sampled from its checkpoint against the observed clip it was trained on, and the floor —
 * the same numbers for other windows of the observed clip (every frame the clip has is decoded
 * for it: data.path must still be readable).
 */
import { Effect } from "effect"
import { isVideoShape } from "../../models/nets.js"
import {
  type ClipShape,
  scoreClips,
  type VideoQualityOptions,
  type VideoReport,
  videoFloor,
  videoQualityDefaults,
  videoReference,
} from "../../models/video-quality.js"
import { imageShapeOf } from "../config/shapes.js"
import type { BackendChoice } from "../config/spec.js"
import { observedClip } from "../data/video.js"
import { DataError } from "../errors.js"
import { drawSamples } from "../nets/draw.js"
import { type TrainedRun, withTrainedModels } from "../nets/trained.js"

/** Clips sampled from a checkpoint when --n is not given. */
export const DEFAULT_VIDEO_SAMPLES = 8

export interface VideoEvaluation {
  readonly observed: {
    readonly path: string
    /** frames the clip gives (from data.start, every data.every-th) */
    readonly available: number
    /** the window the nets were trained on and that every clip is compared with: frames 0 … T − 1 */
    readonly shape: ClipShape
  }
  readonly options: VideoQualityOptions
  readonly samples: VideoReport
  /** other windows of the observed clip against the first; null when the clip has no frames beyond it */
  readonly floor: { readonly starts: ReadonlyArray<number>; readonly report: VideoReport } | null
}

const toUnit = (values: Float32Array): Float32Array =>
  values.map((v) => (Math.min(1, Math.max(-1, v)) + 1) / 2)

export interface VideoEvaluationOptions {
  readonly count: number
  readonly langevinSteps: number
  readonly seed: number
  readonly backend?: typeof BackendChoice.Type | undefined
  readonly quiet?: boolean | undefined
}

/** Samples `count` clips from `run` and scores them and the floor against its observed clip. */
export const evaluateVideoRun = (run: TrainedRun, o: VideoEvaluationOptions) =>
  Effect.gen(function* () {
    const shape = imageShapeOf(run.spec)
    if (!isVideoShape(shape) || run.spec.data.source !== "video")
      return yield* new DataError({ message: `${run.checkpoint.dir} holds no video nets.` })
    const data = run.spec.data
    const all = yield* observedClip(data, shape, "all")
    if (all === undefined)
      return yield* new DataError({
        message: `data.path: ${data.path}, the clip ${run.checkpoint.dir} was trained on, cannot be read here; the dynamic-texture measure compares the samples with it. Put the clip back at that path.`,
      })
    // sampling selects the backend that the measure's tensors then run on
    const samples = yield* withTrainedModels(run, o.backend, o.quiet, (models) =>
      drawSamples(models, run.spec, o.count, o.langevinSteps, o.seed),
    )
    const frame = shape[1] * shape[2] * shape[3]
    const observed = toUnit(all.frames)
    const reference = videoReference(observed.subarray(0, shape[0] * frame), shape, videoQualityDefaults)
    const floor = videoFloor(reference, observed, all.shape[0]) ?? null
    const evaluation: VideoEvaluation = {
      observed: { path: data.path, available: all.shape[0], shape },
      options: reference.options,
      samples: scoreClips(reference, toUnit(samples), o.count, shape),
      floor,
    }
    return evaluation
  })

const f3 = (x: number) => x.toFixed(3)
const f4 = (x: number) => x.toFixed(4)

/** The Markdown lines of evaluation.md for a video run. */
export const videoMarkdown = (v: VideoEvaluation, what: string): ReadonlyArray<string> => {
  const row = (name: string, n: number, r: VideoReport) =>
    `| ${name} | ${n} | ${f4(r.mean.differenceSwd)} ± ${f4(r.spread.differenceSwd)} | ${f4(r.mean.transitionSwd)} ± ${f4(r.spread.transitionSwd)} | ${f3(r.mean.motionRatio)} ± ${f3(r.spread.motionRatio)} | ${f4(r.mean.frameSwd)} ± ${f4(r.spread.frameSwd)} |`
  const [t, h, w, c] = v.observed.shape
  const lines = [
    `Dynamic-texture measure against the observed clip (${v.observed.path}, frames 0-${t - 1} of the ${v.observed.available} it gives, ${h}x${w}x${c}):`,
    "",
    "| clips | n | difference SWD ↓ | transition SWD ↓ | motion ratio (1 = as lively) | frame SWD ↓ |",
    "| --- | ---: | ---: | ---: | ---: | ---: |",
    row(what, v.samples.perClip.length, v.samples),
  ]
  if (v.floor !== null)
    lines.push(
      row(
        `floor: observed windows at frames ${v.floor.starts.join(", ")}`,
        v.floor.starts.length,
        v.floor.report,
      ),
    )
  lines.push(
    "",
    `- difference SWD: sliced Wasserstein distance (W1, ${v.options.projections} seeded directions, ${v.options.quantiles} quantiles) between the ${v.options.patchSize}x${v.options.patchSize} patches of the frame-to-frame differences of a clip and of the observed clip; pixels in [0, 1]. Mean ± spread over clips.`,
    "- transition SWD: the same between patches of (frame, difference) pairs: it also sees the direction of motion.",
    "- motion ratio: mean |frame difference| of a clip over the observed clip's (0: frozen, above 1: flicker).",
    "- frame SWD: the same sliced distance between the patches of the frames themselves.",
    v.floor === null
      ? "- no floor: the clip has no frames beyond the trained window (decode more frames of it to get one)."
      : `- floor: other windows of the observed clip, ${t} frames each, scored the same way (windows half a window apart; the first overlaps the trained window by half, which flatters the floor).`,
    "",
  )
  return lines
}
