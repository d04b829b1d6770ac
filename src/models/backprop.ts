/**
 * A generator's forward pass that keeps what its backward pass needs, and that
 * backward pass, so that teaching reuses the draft's forward pass: the generator
 * does not change between drafting X̃ = g(z) and teaching (only the descriptor
 * learns in between), and teaching regresses g(z) with the same z onto X̂. The
 * draft keeps each layer's input, batch-norm parts and activations; teaching
 * runs the backward pass alone, one generator forward pass fewer per iteration.
 *
 * For nets of transposed convolutions and label concatenations (every
 * generator). The kept forward pass runs the same ops as `forward` (the same
 * output, bit for bit) and the backward pass the same kernels as tfjs's
 * gradients of `forward` (test/unit/backprop.test.ts).
 */
import * as tf from "@tensorflow/tfjs-core"
import { type Activation, activate, activationBackward } from "./activations.js"
import { batchNormBackward, batchNormParts } from "./batch-norm.js"
import { conv2dTranspose, conv2dTransposeBackward } from "./conv.js"
import { concatLabels, type Layer, type NetSpec, type Params, param } from "./layers.js"

interface KeptLayer {
  readonly input: tf.Tensor4D
  /** batch norm: the centred transposed-convolution output and 1/√(var + ε) */
  readonly centred?: tf.Tensor4D
  readonly r?: tf.Tensor1D
  /** the activation's input and output */
  readonly preActivation?: tf.Tensor4D
  readonly output: tf.Tensor4D
}

/** The forward pass of a net with what its backward pass needs. The caller owns every tensor (`disposeKept`). */
export interface KeptForward {
  readonly output: tf.Tensor4D
  readonly layers: ReadonlyArray<KeptLayer>
}

const unsupported = (layer: Layer): never => {
  throw new Error(`backprop: layer ${layer.name} (${layer.kind}) is not a generator layer`)
}

/** Whether forwardKeeping/backward cover the net (transposed convolutions and label concatenation: the image generators). */
export const canKeepForward = (spec: NetSpec): boolean =>
  spec.layers.every((layer) => layer.kind === "convTranspose" || layer.kind === "concatLabels")

/** `forward(spec, params, x, labels)` keeping each layer's parts. */
export const forwardKeeping = (
  spec: NetSpec,
  params: Params,
  x: tf.Tensor,
  labels?: tf.Tensor,
): KeptForward =>
  tf.tidy(() => {
    let h = tf.reshape(x, [x.shape[0] as number, ...spec.inputShape]) as unknown as tf.Tensor4D
    const layers: KeptLayer[] = []
    for (const layer of spec.layers) {
      if (layer.kind === "concatLabels") {
        const output = concatLabels(h, layer, labels)
        layers.push({ input: h, output })
        h = output
        continue
      }
      if (layer.kind !== "convTranspose") return unsupported(layer)
      const w = param(params, `${layer.name}/w`) as tf.Tensor as tf.Tensor4D
      const y = conv2dTranspose(h, w, layer.outSize, layer.stride, layer.padding)
      const kept = layer.batchNorm
        ? batchNormParts(y, param(params, `${layer.name}/beta`))
        : { value: tf.add(y, param(params, `${layer.name}/b`)) as tf.Tensor4D }
      const output = activate(kept.value, layer.activation)
      layers.push({ input: h, ...kept, preActivation: kept.value, output })
      h = output
    }
    return { output: h, layers } as unknown as tf.TensorContainer
  }) as unknown as KeptForward

export const disposeKept = (kept: KeptForward): void => {
  tf.dispose(kept.output)
  for (const l of kept.layers)
    tf.dispose([l.input, l.centred, l.r, l.preActivation, l.output].filter((t) => t !== undefined))
}

/**
 * Gradients of every parameter, keyed by variable name and in the order of
 * `params` (as `tf.variableGrads` gives them), from ∂loss/∂output. The caller
 * owns them.
 */
export const backward = (
  spec: NetSpec,
  params: Params,
  kept: KeptForward,
  dOutput: tf.Tensor,
): tf.NamedTensorMap =>
  tf.tidy(() => {
    const grads: tf.NamedTensorMap = {}
    const firstWithParams = spec.layers.findIndex((l) => l.kind !== "concatLabels")
    let d = dOutput as tf.Tensor4D
    for (let i = spec.layers.length - 1; i >= firstWithParams; i--) {
      const layer = spec.layers[i] as Layer
      const k = kept.layers[i] as KeptLayer
      if (layer.kind === "concatLabels") {
        d = tf.slice(d, [0, 0, 0, 0], [...k.input.shape]) // the labels take no gradient
        continue
      }
      if (layer.kind !== "convTranspose") return unsupported(layer)
      d = activationBackward(d, k.preActivation as tf.Tensor4D, k.output, layer.activation as Activation)
      if (layer.batchNorm) {
        const { dx, dBeta } = batchNormBackward(d, k.centred as tf.Tensor4D, k.r as tf.Tensor1D)
        grads[param(params, `${layer.name}/beta`).name] = dBeta
        d = dx
      } else grads[param(params, `${layer.name}/b`).name] = tf.sum(d, [0, 1, 2])
      const w = param(params, `${layer.name}/w`)
      const { dx, dw } = conv2dTransposeBackward(
        k.input,
        w as tf.Tensor as tf.Tensor4D,
        d,
        layer.stride,
        layer.padding,
        i > firstWithParams,
      )
      grads[w.name] = dw
      if (dx !== undefined) d = dx
    }
    // in the order of the parameters, as tf.variableGrads gives them: tfjs's optimisers pair
    // gradients with their slots by position
    const ordered: tf.NamedTensorMap = {}
    for (const v of params.values())
      if (grads[v.name] !== undefined) ordered[v.name] = grads[v.name] as tf.Tensor
    return ordered
  })
