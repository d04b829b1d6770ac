/**
 * Which nets a spec builds and what shapes flow through them. The image shape
 * comes from the data (MNIST 28x28x1, CIFAR-10 32x32x3, a folder or a texture
 * at its configured size and channels); the architecture must produce it.
 */
import { Effect } from "effect"
import type { NetSpec } from "../../models/layers.js"
import { architectures, type ImageShape, textureUpsampling } from "../../models/nets.js"
import { ConfigError } from "../errors.js"
import { imageShapeOfData } from "./data-spec.js"
import type { PipelineSpec } from "./spec.js"

export const imageShapeOf = (spec: PipelineSpec): ImageShape => imageShapeOfData(spec.data)

/** Descriptor and generator specs for images of `image` (default: the data's shape). */
export const netSpecsOf = (
  spec: PipelineSpec,
  image: ImageShape = imageShapeOf(spec),
): { readonly descriptor: NetSpec; readonly generator: NetSpec } => {
  const arch = architectures[spec.model.arch]
  return { descriptor: arch.descriptor(spec.model, image), generator: arch.generator(spec.model, image) }
}

/** Values in one latent draw: zDim, or the whole latent map of a fully convolutional generator. */
export const latentSizeOf = (spec: PipelineSpec, image: ImageShape = imageShapeOf(spec)): number =>
  netSpecsOf(spec, image).generator.inputShape.reduce((a, b) => a * b, 1)

const shape = (s: ReadonlyArray<number>) => s.join("x")

/** The architecture fits the data: widths listed, image sizes it can make and read. */
export const checkArchitecture = (
  spec: PipelineSpec,
  source: string,
): Effect.Effect<PipelineSpec, ConfigError> => {
  const name = spec.model.arch
  const arch = architectures[name]
  const widths: { readonly descriptor: number; readonly generator?: number } = arch.widths ?? {
    descriptor: 3,
    generator: 3,
  }
  const fail = (problem: string) => Effect.fail(new ConfigError({ message: `${source}: ${problem}` }))
  for (const net of ["descriptor", "generator"] as const) {
    const listed = spec.model[`${net}Channels`].length
    if (widths[net] !== undefined && listed !== widths[net])
      return fail(
        `model.${net}Channels lists ${listed} width${listed === 1 ? "" : "s"} but model.arch "${name}" needs ${widths[net]}; list ${widths[net]} layer widths.`,
      )
  }
  const image = imageShapeOf(spec)
  if (arch.fullyConvolutional) {
    const factor = textureUpsampling(spec.model)
    if (image[0] % factor !== 0)
      return fail(
        `data.size (${image[0]}) must be a multiple of ${factor} for model.arch "${name}" with ${spec.model.generatorChannels.length} generator widths (each of its ${spec.model.generatorChannels.length + 1} transposed convs doubles the side); use e.g. ${Math.max(1, Math.round(image[0] / factor)) * factor}.`,
      )
  }
  const nets = netSpecsOf(spec, image)
  const last = nets.generator.layers[nets.generator.layers.length - 1]
  const made = last === undefined || last.kind !== "convTranspose" ? [] : [...last.outSize, last.filters]
  if (shape(made) !== shape(image) || shape(nets.descriptor.inputShape) !== shape(image))
    return fail(
      `model.arch "${name}" makes and reads ${shape(arch.imageShape)} images but data (source "${spec.data.source}") gives ${shape(image)}; choose the architecture that fits the data (mnist: 28x28x1, cifar32: 32x32, object64: 64x64, texture: any multiple of 32).`,
    )
  return Effect.succeed(spec)
}
