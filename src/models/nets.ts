/**
 * Architectures of the official code (see FACTS.md, section 2 for MNIST).
 * Widths are options so tests can run the same topology at a tiny size.
 */
import type { Activation, ConvLayer, ConvTransposeLayer, NetSpec, Padding } from "./layers.js"

/** Official initialisation: conv weights N(0, 0.01), transposed-conv weights N(0, 0.005), biases 0. */
export const CONV_INIT_STD = 0.01
export const CONV_TRANSPOSE_INIT_STD = 0.005

const conv = (
  name: string,
  kernel: number,
  stride: number,
  padding: Padding,
  filters: number,
  activation: Activation,
): ConvLayer => ({ kind: "conv", name, kernel, stride, padding, filters, activation, initStd: CONV_INIT_STD })

const convTranspose = (
  name: string,
  kernel: number,
  stride: number,
  padding: Padding,
  filters: number,
  outSize: number,
  batchNorm: boolean,
  activation: Activation,
): ConvTransposeLayer => ({
  kind: "convTranspose",
  name,
  kernel,
  stride,
  padding,
  filters,
  outSize: [outSize, outSize],
  batchNorm,
  activation,
  initStd: CONV_TRANSPOSE_INIT_STD,
})

export interface ModelOptions {
  /** Widths of the descriptor's three conv layers (official: 64, 128, 256). */
  readonly descriptorChannels: readonly [number, number, number]
  /** Units of the descriptor's last ("fc") layer; f(X) is their sum (official: 100). */
  readonly descriptorUnits: number
  /** Latent dimension (official: 100). */
  readonly zDim: number
  /** Widths of the generator's first three transposed convs (official: 512, 256, 128). */
  readonly generatorChannels: readonly [number, number, number]
}

export interface Architecture {
  readonly imageShape: readonly [number, number, number]
  readonly descriptor: (o: ModelOptions) => NetSpec
  readonly generator: (o: ModelOptions) => NetSpec
}

/**
 * MNIST 28x28x1. Descriptor: 4x4 s2 convs 28→14→7→4 (TF-SAME: 7→4 pads 1 before,
 * 2 after) with leaky ReLU, then a 4x4 VALID conv to 1x1xunits, no activation.
 * Generator: z as 1x1xzDim; 4x4 transposed convs 1→4 (VALID) →7→14 (SAME) with
 * batch norm and leaky ReLU, →28 with tanh.
 */
export const mnist: Architecture = {
  imageShape: [28, 28, 1],
  descriptor: (o) => ({
    inputShape: [28, 28, 1],
    layers: [
      conv("conv1", 4, 2, "same", o.descriptorChannels[0], "leakyRelu"),
      conv("conv2", 4, 2, "same", o.descriptorChannels[1], "leakyRelu"),
      conv("conv3", 4, 2, "same", o.descriptorChannels[2], "leakyRelu"),
      conv("fc", 4, 1, "valid", o.descriptorUnits, "none"),
    ],
  }),
  generator: (o) => ({
    inputShape: [1, 1, o.zDim],
    layers: [
      convTranspose("deconv1", 4, 1, "valid", o.generatorChannels[0], 4, true, "leakyRelu"),
      convTranspose("deconv2", 4, 2, "same", o.generatorChannels[1], 7, true, "leakyRelu"),
      convTranspose("deconv3", 4, 2, "same", o.generatorChannels[2], 14, true, "leakyRelu"),
      convTranspose("deconv4", 4, 2, "same", 1, 28, false, "tanh"),
    ],
  }),
}

export const architectures = { mnist } as const satisfies Record<string, Architecture>
export type ArchitectureName = keyof typeof architectures
