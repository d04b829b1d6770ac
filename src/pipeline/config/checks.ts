/**
 * Cross-field checks of a decoded pipeline spec that its schema cannot
 * express, made before any work starts: the run name, the batch against the
 * data, the architecture against the data's image shape, the stage variants
 * against each other, and the training-loop evaluation against the data.
 * Every problem names the file and the fields, and what to change.
 */
import { Effect } from "effect"
import { architectures, isVideoShape, textureUpsampling } from "../../models/nets.js"
import { ConfigError } from "../errors.js"
import { imageShapeOf, netSpecsOf } from "./shapes.js"
import type { PipelineSpec } from "./spec.js"
import { stageConflicts } from "./stage-checks.js"

/** A run name that stays one directory below runs/ (no "/", "..", or leading "."). */
const SAFE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/

const shape = (s: ReadonlyArray<number>) => s.join("x")

/** The architecture fits the data: widths listed, image sizes it can make and read. */
const architectureProblem = (spec: PipelineSpec): string | undefined => {
  const name = spec.model.arch
  const arch = architectures[name]
  const widths: { readonly descriptor: number; readonly generator?: number } = arch.widths ?? {
    descriptor: 3,
    generator: 3,
  }
  for (const net of ["descriptor", "generator"] as const) {
    const listed = spec.model[`${net}Channels`].length
    if (widths[net] !== undefined && listed !== widths[net])
      return `model.${net}Channels lists ${listed} width${listed === 1 ? "" : "s"} but model.arch "${name}" needs ${widths[net]}; list ${widths[net]} layer widths.`
  }
  const image = imageShapeOf(spec)
  const video = isVideoShape(image)
  if (video !== (arch.video === true))
    return video
      ? `data (source "${spec.data.source}") gives ${shape(image)} videos but model.arch "${name}" takes images; use model.arch "dynamicTexture" for videos.`
      : `model.arch "${name}" takes videos but data (source "${spec.data.source}") gives ${shape(image)} images; use data.source "video" (an animated GIF, a folder of frames or a video file).`
  const unfit = arch.unfit?.(image)
  if (unfit !== undefined)
    return `model.arch "${name}" cannot take data of ${shape(image)}: ${unfit}. Change data.frames / data.size.`
  if (video && spec.backend === "wasm")
    return 'backend "wasm" cannot run video nets: its 3-D convolution kernels give wrong results for strides above 1. Use backend "tensorflow" (native), "cpu" or "auto".'
  if (arch.fullyConvolutional) {
    const factor = textureUpsampling(spec.model)
    if (image[0] % factor !== 0)
      return `data.size (${image[0]}) must be a multiple of ${factor} for model.arch "${name}" with ${spec.model.generatorChannels.length} generator widths (each of its ${spec.model.generatorChannels.length + 1} upsampling layers doubles the side); use e.g. ${Math.max(1, Math.round(image[0] / factor)) * factor}.`
  }
  const nets = netSpecsOf(spec, image)
  const last = nets.generator.layers[nets.generator.layers.length - 1]
  const made =
    last === undefined || (last.kind !== "convTranspose" && last.kind !== "convTranspose3d")
      ? []
      : [...last.outSize, last.filters]
  if (shape(made) !== shape(image) || shape(nets.descriptor.inputShape) !== shape(image))
    return `model.arch "${name}" makes and reads ${shape(arch.imageShape)} images but data (source "${spec.data.source}") gives ${shape(image)}; choose the architecture that fits the data (mnist: 28x28x1, cifar32: 32x32, object64: 64x64, texture: any multiple of 32, dynamicTexture: videos).`
  return undefined
}

const stagesProblem = (spec: PipelineSpec): string | undefined => {
  const conflicts = stageConflicts(spec)
  const [only] = conflicts
  if (only === undefined) return undefined
  return conflicts.length === 1
    ? `${only}.`
    : `${conflicts.length} conflicting stage settings\n${conflicts.map((c) => `  - ${c}`).join("\n")}\nFix these fields and run again.`
}

/** The training-loop evaluation judges 28x28 single-channel images with the MNIST classifier: other runs are refused. */
const evaluationProblem = (spec: PipelineSpec): string | undefined => {
  const every = spec.evaluation?.every ?? 0
  const image = shape(imageShapeOf(spec))
  return every > 0 && image !== "28x28x1"
    ? `evaluation.every is ${every} but the training-loop evaluation uses the MNIST classifier, which reads 28x28 single-channel images, and this run's images are ${image}. Set evaluation.every to 0, and evaluate the checkpoints afterwards with \`node dist/run.js evaluate <run-dir> --features model.json --reference <folder|npy>\`.`
    : undefined
}

const problemOf = (spec: PipelineSpec): string | undefined => {
  if (!SAFE_NAME.test(spec.name))
    return `name ${JSON.stringify(spec.name)} cannot name a run directory (runs/<name>): use letters, digits, ".", "_" and "-" only, starting with a letter or digit, so that outputs stay inside runs/.`
  if (spec.data.source === "mnist" && spec.training.batchSize > spec.data.limit)
    return `training.batchSize (${spec.training.batchSize}) is larger than data.limit (${spec.data.limit}); lower the batch size or use more data.`
  return architectureProblem(spec) ?? stagesProblem(spec) ?? evaluationProblem(spec)
}

/** Fails with the first kind of problem the spec has (all of its stage conflicts at once), or passes it on. */
export const checkSpec = (spec: PipelineSpec, source: string): Effect.Effect<PipelineSpec, ConfigError> => {
  const problem = problemOf(spec)
  return problem === undefined
    ? Effect.succeed(spec)
    : Effect.fail(new ConfigError({ message: `${source}: ${problem}` }))
}
