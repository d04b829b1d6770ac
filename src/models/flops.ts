/**
 * Multiply-accumulates of one cooperative iteration, counted from the layer
 * specs (convolutions only; activations, batch norm and Adam are O(params)).
 * A backward pass costs about one forward pass per gradient it produces:
 * one for ∂/∂input, one for ∂/∂weights.
 */
import type { Layer, NetSpec } from "./layers.js"
import { is3d, macs3d, outSize3d, type Triple } from "./layers3d.js"

const conv = (
  layer: Layer,
  inSize: readonly [number, number],
  cin: number,
): { macs: number; out: [number, number] } => {
  if (layer.kind === "concatLabels") return { macs: 0, out: [...inSize] }
  if (is3d(layer)) throw new Error(`layer ${layer.name}: a 3-D layer in a 2-D net`)
  if (layer.kind === "upsample") return { macs: 0, out: [inSize[0] * layer.factor, inSize[1] * layer.factor] }
  const k = layer.kernel
  if (layer.kind === "convTranspose")
    // every input pixel scatters a k×k×cout patch
    return { macs: inSize[0] * inSize[1] * k * k * cin * layer.filters, out: [...layer.outSize] }
  const out: [number, number] =
    layer.padding === "same"
      ? [Math.ceil(inSize[0] / layer.stride), Math.ceil(inSize[1] / layer.stride)]
      : [Math.floor((inSize[0] - k) / layer.stride) + 1, Math.floor((inSize[1] - k) / layer.stride) + 1]
  return { macs: out[0] * out[1] * k * k * cin * layer.filters, out }
}

/** Forward MACs for one video [frames, height, width, channels] through a net of 3-D layers. */
const forwardMacs3d = (spec: NetSpec): number => {
  const [t, h, w, c] = spec.inputShape as [number, number, number, number]
  let size: Triple = [t, h, w]
  let channels = c
  let total = 0
  for (const layer of spec.layers) {
    if (!is3d(layer)) throw new Error(`layer ${layer.name}: a 2-D layer in a video net`)
    total += macs3d(layer, size, channels)
    size = outSize3d(layer, size)
    channels = layer.filters
  }
  return total
}

/** Forward MACs for one example. */
export const forwardMacs = (spec: NetSpec): number => {
  if (spec.layers.some(is3d)) return forwardMacs3d(spec)
  let size: [number, number] = [spec.inputShape[0] as number, spec.inputShape[1] as number]
  let channels = spec.inputShape[2] as number
  let total = 0
  for (const layer of spec.layers) {
    const { macs, out } = conv(layer, size, channels)
    total += macs
    size = out
    channels = layer.filters
  }
  return total
}

export interface IterationShape {
  readonly batchSize: number
  readonly chains: number
  readonly langevinSteps: number
}

/** MACs per stage of one iteration. */
export const iterationMacs = (
  descriptor: NetSpec,
  generator: NetSpec,
  o: IterationShape,
): {
  readonly draft: number
  readonly revise: number
  readonly updateDescriptor: number
  readonly teach: number
} => {
  const d = forwardMacs(descriptor)
  const g = forwardMacs(generator)
  return {
    draft: o.chains * g,
    revise: o.langevinSteps * o.chains * 2 * d, // forward + ∂f/∂X
    updateDescriptor: (o.batchSize + o.chains) * 3 * d, // forward + ∂/∂input + ∂/∂θ
    teach: o.chains * 3 * g,
  }
}
