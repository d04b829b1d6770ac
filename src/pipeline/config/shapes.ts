/**
 * Which nets a spec builds and what shapes flow through them. The image shape
 * comes from the data (MNIST 28x28x1, CIFAR-10 32x32x3, a folder or a texture
 * at its configured size and channels, a video clip as frames x size x size x
 * channels); the architecture must produce it.
 */
import type { NetSpec } from "../../models/layers.js"
import { architectures, type SampleShape } from "../../models/nets.js"
import { imageShapeOfData } from "./data-spec.js"
import type { PipelineSpec } from "./spec.js"

export const imageShapeOf = (spec: PipelineSpec): SampleShape => imageShapeOfData(spec.data)

/** Descriptor and generator specs for images of `image` (default: the data's shape). */
export const netSpecsOf = (
  spec: PipelineSpec,
  image: SampleShape = imageShapeOf(spec),
): { readonly descriptor: NetSpec; readonly generator: NetSpec } => {
  const arch = architectures[spec.model.arch]
  return { descriptor: arch.descriptor(spec.model, image), generator: arch.generator(spec.model, image) }
}

/** Values in one latent draw: zDim, or the whole latent map of a fully convolutional generator. */
export const latentSizeOf = (spec: PipelineSpec, image: SampleShape = imageShapeOf(spec)): number =>
  netSpecsOf(spec, image).generator.inputShape.reduce((a, b) => a * b, 1)
