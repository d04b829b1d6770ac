/**
 * Architectures of the official code (jianwen-xie/CoopNets model/model.py for MNIST and scenes,
 * zilongzheng/CoopNets for objects, FANG-Xiaolin/pytorch-CoopNets for CIFAR-10).
 * Widths are options so tests can run the same topology at a tiny size.
 */
import type {
  Activation,
  ConcatLabelsLayer,
  ConvLayer,
  ConvTransposeLayer,
  Layer,
  NetSpec,
  Padding,
} from "./layers.js"
import type { Conv3dLayer, ConvTranspose3dLayer, Padding3d, Triple } from "./layers3d.js"

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
  /** Widths of the descriptor's conv layers (MNIST official: 64, 128, 256); how many: `Architecture.widths`. */
  readonly descriptorChannels: ReadonlyArray<number>
  /** Units of the descriptor's last ("fc") layer; f(X) is their sum (official: 100). */
  readonly descriptorUnits: number
  /** Latent dimension (official: 100); for a spatial latent map, its channels. */
  readonly zDim: number
  /** Widths of the generator's hidden transposed convs (MNIST official: 512, 256, 128). */
  readonly generatorChannels: ReadonlyArray<number>
}

/** Height, width, channels of one image. */
export type ImageShape = readonly [number, number, number]

/** Frames, height, width, channels of one video. */
export type VideoShape = readonly [number, number, number, number]

/** One observed example: an image, or a video (spatial-temporal nets). */
export type SampleShape = ImageShape | VideoShape

export const isVideoShape = (shape: SampleShape): shape is VideoShape => shape.length === 4

export interface Architecture {
  /** The shape of the official configuration (and the only one a fixed-size net accepts). */
  readonly imageShape: SampleShape
  /**
   * `image`: the shape the data supplies (default `imageShape`); fully convolutional and
   * video nets adapt to it. Method syntax: an image architecture is only ever given images.
   */
  descriptor(o: ModelOptions, image?: SampleShape): NetSpec
  generator(o: ModelOptions, image?: SampleShape): NetSpec
  /** How many widths `descriptorChannels` / `generatorChannels` must list (default 3 / 3; no `generator`: any). */
  readonly widths?: { readonly descriptor: number; readonly generator?: number }
  /** Any image size works (texture nets): sampling may ask for images larger than the training crops. */
  readonly fullyConvolutional?: boolean
  /** Spatial-temporal nets of videos [frames, height, width, channels]. */
  readonly video?: boolean
  /** Why the data's shape cannot be taken, or undefined when it can (nets that adapt to the data). */
  readonly unfit?: (shape: SampleShape) => string | undefined
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

/**
 * z as 1x1xzDim; a 4x4 VALID transposed conv to 4x4, then 5x5 stride-2 SAME
 * transposed convs doubling the side, batch norm and leaky ReLU after each
 * hidden layer, tanh at the `side`x`side`x`channels` output.
 */
const upsamplingGenerator = (o: ModelOptions, side: number, channels: number): NetSpec => ({
  inputShape: [1, 1, o.zDim],
  layers: [
    ...o.generatorChannels.map((width, i) =>
      i === 0
        ? convTranspose("deconv1", 4, 1, "valid", width, 4, true, "leakyRelu")
        : convTranspose(`deconv${i + 1}`, 5, 2, "same", width, 4 * 2 ** i, true, "leakyRelu"),
    ),
    convTranspose(`deconv${o.generatorChannels.length + 1}`, 5, 2, "same", channels, side, false, "tanh"),
  ],
})

/**
 * The scene/object descriptor (jianwen-xie/CoopNets `scene`, zilongzheng/CoopNets `object`) at side S: 5x5 s2 → S/2,
 * 3x3 s2 → S/4, 3x3 s1 → S/4 (leaky ReLU), then an (S/4)x(S/4) VALID conv to 1x1xunits.
 */
const sceneDescriptor = (o: ModelOptions, side: number, channels: number): NetSpec => ({
  inputShape: [side, side, channels],
  layers: [
    conv("conv1", 5, 2, "same", o.descriptorChannels[0] as number, "leakyRelu"),
    conv("conv2", 3, 2, "same", o.descriptorChannels[1] as number, "leakyRelu"),
    conv("conv3", 3, 1, "same", o.descriptorChannels[2] as number, "leakyRelu"),
    conv("fc", side / 4, 1, "valid", o.descriptorUnits, "none"),
  ],
})

/**
 * Objects and scenes, 64x64 (jianwen-xie/CoopNets `scene` / zilongzheng/CoopNets `object`).
 * Descriptor: 5x5 s2 → 32, 3x3 s2 → 16, 3x3 s1 → 16 (leaky ReLU), then a 16x16
 * VALID conv to 1x1xunits. Generator: 1 → 4 → 8 → 16 → 32 → 64 (official
 * widths 512, 256, 128, 64). Colour or grey: the output has the data's channels.
 */
export const object64: Architecture = {
  imageShape: [64, 64, 3],
  widths: { descriptor: 3, generator: 4 },
  descriptor: (o, image = [64, 64, 3]) => sceneDescriptor(o, 64, image[2]),
  generator: (o, image = [64, 64, 3]) => upsamplingGenerator(o, 64, image[2]),
}

/**
 * CIFAR-10, 32x32x3 (the FANG-Xiaolin/pytorch-CoopNets port, with TF-SAME padding).
 * Descriptor: 5x5 s2 → 16, 3x3 s2 → 8, 3x3 s1 → 8 (leaky ReLU), an 8x8 VALID
 * conv to 1x1xunits. Generator: 1 → 4 → 8 → 16 → 32 (official widths 256, 128, 64).
 */
export const cifar32: Architecture = {
  imageShape: [32, 32, 3],
  widths: { descriptor: 3, generator: 3 },
  descriptor: (o, image = [32, 32, 3]) => sceneDescriptor(o, 32, image[2]),
  generator: (o, image = [32, 32, 3]) => upsamplingGenerator(o, 32, image[2]),
}

/** Each of the texture generator's layers doubles the side: the latent map is the image side / 2^layers. */
export const textureUpsampling = (o: ModelOptions): number => 2 ** (o.generatorChannels.length + 1)

/** The official texture descriptor: 15x15 s3, 9x9 s1, 7x7 s1 convs with ReLU, no fc layer. */
const textureDescriptor = (
  o: ModelOptions,
  image: SampleShape,
  activation: Activation = "relu",
): NetSpec => ({
  inputShape: [...image],
  layers: [
    conv("conv1", 15, 3, "same", o.descriptorChannels[0] as number, activation),
    conv("conv2", 9, 1, "same", o.descriptorChannels[1] as number, activation),
    conv("conv3", 7, 1, "same", o.descriptorChannels[2] as number, activation),
  ],
})

type Upsampler = "transposed5" | "resize3" | "resize3wrap"

/**
 * Latent map (h/2^L)x(w/2^L)xzDim → L doubling layers → h x w x c, batch norm
 * and leaky ReLU after each hidden layer, tanh at the last. `transposed5`: 5x5
 * stride-2 transposed convolutions (the official draft); `resize3`:
 * nearest-neighbour x2 then a 3x3 stride-1 convolution (a stride-1 transposed
 * convolution: the same thing with its kernel flipped), which cannot make the
 * checkerboard of a stride-2 kernel whose size the stride does not divide
 * (Odena, Dumoulin & Olah, "Deconvolution and checkerboard artifacts", Distill 2016);
 * `resize3wrap`: the same with the 3x3 convolutions padded periodically (the maps on a torus).
 */
const textureGenerator = (o: ModelOptions, image: SampleShape, how: Upsampler): NetSpec => {
  const factor = textureUpsampling(o)
  const [h, w, c] = image
  if (h % factor !== 0 || w % factor !== 0)
    throw new Error(`texture generator: image ${h}x${w} is not a multiple of ${factor}`)
  const size = (scale: number): readonly [number, number] => [(h / factor) * scale, (w / factor) * scale]
  const widths = [...o.generatorChannels, c]
  const layers = widths.flatMap((width, i): ReadonlyArray<Layer> => {
    const last = i === widths.length - 1
    const activation = last ? "tanh" : "leakyRelu"
    const name = `deconv${i + 1}`
    if (how === "transposed5")
      return [
        { ...convTranspose(name, 5, 2, "same", width, 0, !last, activation), outSize: size(2 ** (i + 1)) },
      ]
    const before = i === 0 ? o.zDim : (widths[i - 1] as number)
    const layer = {
      ...convTranspose(name, 3, 1, "same", width, 0, !last, activation),
      outSize: size(2 ** (i + 1)),
    }
    return [
      { kind: "upsample", name: `up${i + 1}`, factor: 2, filters: before },
      how === "resize3wrap" ? { ...layer, wrap: true } : layer,
    ]
  })
  return { inputShape: [h / factor, w / factor, o.zDim], layers }
}

/**
 * Texture synthesis from one image (Exp 1), fully convolutional: one set of
 * weights serves every image size. Descriptor: the official texture net
 * (the generative ConvNet texture model, Xie et al. 2016, as CoopNets' texture
 * experiment uses it) — 15x15 s3, 9x9 s1, 7x7 s1 convs
 * (official widths 100, 70, 30), no fc layer: f(X) sums the last map over
 * positions and channels — with leaky ReLU (slope 0.2) instead of ReLU, so
 * that no unit of the last map can die (a descriptor whose last ReLUs are all
 * off has f ≡ 0: Langevin then only shrinks the chains to grey). Generator: z
 * is a (h/2^L)x(w/2^L)xzDim latent map; L resize-convolution layers each
 * double the side (no checkerboard), tanh at the last.
 */
export const texture: Architecture = {
  imageShape: [64, 64, 1],
  widths: { descriptor: 3 },
  fullyConvolutional: true,
  descriptor: (o, image = [64, 64, 1]) => textureDescriptor(o, image, "leakyRelu"),
  generator: (o, image = [64, 64, 1]) => textureGenerator(o, image, "resize3"),
}

/**
 * The texture nets as the official draft has them: ReLU descriptor, 5x5
 * stride-2 transposed convolutions in the generator (official widths 512,
 * 256, 128, 64, so L = 5: a 7x7x1 map gives 224x224). Kept for comparison.
 */
export const textureOfficial: Architecture = {
  ...texture,
  descriptor: (o, image = [64, 64, 1]) => textureDescriptor(o, image, "relu"),
  generator: (o, image = [64, 64, 1]) => textureGenerator(o, image, "transposed5"),
}

/**
 * The texture nets with a periodic generator: its resize-convolutions pad
 * circularly instead of with zeros, so g(z) is a stationary function of the
 * latent map — every output position sees the same kind of neighbourhood at
 * every layer, and the batch-norm statistics of a larger map are those of a
 * smaller one. A generator with zero padding learns, on training crops that
 * its receptive field spans, to use the border; at twice the size the interior
 * is a context it never saw. Same parameters as `texture` (checkpoints load in
 * either); the descriptor is `texture`'s (the observed crops are not periodic).
 */
export const texturePeriodic: Architecture = {
  ...texture,
  generator: (o, image = [64, 64, 1]) => textureGenerator(o, image, "resize3wrap"),
}

/** Experimental alias of `texture` (runs of this session). */
export const textureUpLeaky: Architecture = texture

/** Classes of a conditional net (MNIST digits). */
export const CLASSES = 10

const concatLabels = (name: string, channels: number): ConcatLabelsLayer => ({
  kind: "concatLabels",
  name,
  classes: CLASSES,
  filters: channels + CLASSES,
})

/**
 * Class-conditional MNIST 28x28x1 (jianwen-xie/Conditional-CoopNets, model_mnist.py), one-hot labels in both nets.
 * Descriptor: 5x5 s2 conv → 14, 3x3 s2 → 7 (leaky ReLU), the labels tiled to
 * 7x7x10 appended to the channels, 3x3 s1 → 7, then a 7x7 VALID conv to
 * 1x1xunits. Generator: concat(z, one-hot) as 1x1, 4x4 transposed convs 1→4
 * (VALID) →7→14 (SAME) with batch norm and ReLU, →28 with tanh (official
 * widths 256, 128, 64). Every weight starts N(0, 0.01), as in that code.
 */
export const mnistConditional: Architecture = {
  imageShape: [28, 28, 1],
  descriptor: (o) => ({
    inputShape: [28, 28, 1],
    layers: [
      conv("conv1", 5, 2, "same", o.descriptorChannels[0] as number, "leakyRelu"),
      conv("conv2", 3, 2, "same", o.descriptorChannels[1] as number, "leakyRelu"),
      concatLabels("labels", o.descriptorChannels[1] as number),
      conv("conv3", 3, 1, "same", o.descriptorChannels[2] as number, "leakyRelu"),
      conv("fc", 7, 1, "valid", o.descriptorUnits, "none"),
    ],
  }),
  generator: (o) => ({
    inputShape: [1, 1, o.zDim],
    layers: [
      concatLabels("labels", o.zDim),
      ...[
        convTranspose("deconv1", 4, 1, "valid", o.generatorChannels[0] as number, 4, true, "relu"),
        convTranspose("deconv2", 4, 2, "same", o.generatorChannels[1] as number, 7, true, "relu"),
        convTranspose("deconv3", 4, 2, "same", o.generatorChannels[2] as number, 14, true, "relu"),
        convTranspose("deconv4", 4, 2, "same", 1, 28, false, "tanh"),
      ].map((layer) => ({ ...layer, initStd: CONV_INIT_STD })),
    ],
  }),
}

/** Official initialisation of the spatial-temporal code (src/ops.py): conv3d N(0, 0.001), convT3d N(0, 0.005). */
export const CONV3D_INIT_STD = 0.001

const conv3d = (
  name: string,
  kernel: Triple,
  stride: Triple,
  padding: Padding3d,
  filters: number,
  activation: Activation,
): Conv3dLayer => ({
  kind: "conv3d",
  name,
  kernel,
  stride,
  padding,
  filters,
  activation,
  initStd: CONV3D_INIT_STD,
})

const convTranspose3d = (
  name: string,
  kernel: Triple,
  stride: Triple,
  padding: "same" | "valid",
  filters: number,
  outSize: Triple,
  batchNorm: boolean,
  activation: Activation,
): ConvTranspose3dLayer => ({
  kind: "convTranspose3d",
  name,
  kernel,
  stride,
  padding,
  filters,
  outSize,
  batchNorm,
  activation,
  initStd: CONV_TRANSPOSE_INIT_STD,
})

/**
 * Frames of the latent z of the FC_S generator for `frames` output frames: the second
 * transposed conv (temporal kernel 5, stride 2, VALID) makes frames/2 from
 * ⌊(frames/2 − 5)/2⌋ + 1, the first (temporal kernel 5, VALID) adds 4. 64 frames: 10.
 */
export const videoLatentFrames = (frames: number): number => Math.floor((frames / 2 - 5) / 2) + 1 - 4

/**
 * Dynamic textures (PAMI 2018 Experiment 7; github.com/jianwen-xie/Spatial-Temporal-CoopNets,
 * src/CoopNets_video.py), on T frames of S×S pixels (official: 64 frames of 128×128×3).
 *
 * Descriptor `FC_S` ("spatially fully connected": only temporal stationarity): conv3d
 * 5×5×5 s2 SAME → [T/2, S/2, S/2] (ReLU; official width 120); conv3d (5, S/2, S/2) s(2,1,1)
 * with 2 zero frames each side → [T/4, 1, 1] (ReLU; 30); conv3d (5,1,1) s(2,1,1), 2 zero
 * frames each side → [T/8, 1, 1, units] (official 10). f(X) sums that last map.
 *
 * Generator `FC_S_<S>`: z is [videoLatentFrames(T), 1, 1, zDim] (official [10, 1, 1, 5]);
 * convT3d (5,1,1) VALID → [zT + 4, 1, 1] (256); convT3d (5, S/4, S/4) s(2,1,1) VALID →
 * [T/2, S/4, S/4] (128); convT3d 5×5×5 s2 SAME → [T, S/2, S/2] (64); batch norm (no
 * scale) and ReLU after each; convT3d (2,5,5) s(1,2,2) SAME → [T, S, S, C], tanh.
 *
 * The same topology at a CPU scale is this architecture at a smaller shape with narrower
 * widths (`cpuVideoOptions`, `CPU_VIDEO_SHAPE`).
 */
export const dynamicTexture: Architecture = {
  imageShape: [64, 128, 128, 3],
  widths: { descriptor: 2, generator: 3 },
  video: true,
  unfit: (shape) => {
    if (!isVideoShape(shape))
      return `it takes videos [frames, height, width, channels], not ${shape.join("x")} images`
    const [t, h, w] = shape
    if (h !== w) return `frames must be square, got ${h}x${w}`
    if (h % 4 !== 0) return `the frame side must be a multiple of 4, got ${h}`
    if (t % 2 !== 0 || videoLatentFrames(t) < 1)
      return `the number of frames must be even and at least 26, got ${t}`
    return undefined
  },
  descriptor: (o, video = [64, 128, 128, 3]) => {
    const [t, s, , c] = video as VideoShape
    return {
      inputShape: [t, s, s, c],
      layers: [
        conv3d("conv1", [5, 5, 5], [2, 2, 2], "same", o.descriptorChannels[0] as number, "relu"),
        conv3d("conv2", [5, s / 2, s / 2], [2, 1, 1], [2, 0, 0], o.descriptorChannels[1] as number, "relu"),
        conv3d("fc", [5, 1, 1], [2, 1, 1], [2, 0, 0], o.descriptorUnits, "none"),
      ],
    }
  },
  generator: (o, video = [64, 128, 128, 3]) => {
    const [t, s, , c] = video as VideoShape
    const zt = videoLatentFrames(t)
    const [g1, g2, g3] = o.generatorChannels as [number, number, number]
    return {
      inputShape: [zt, 1, 1, o.zDim],
      layers: [
        convTranspose3d("deconv1", [5, 1, 1], [1, 1, 1], "valid", g1, [zt + 4, 1, 1], true, "relu"),
        convTranspose3d(
          "deconv2",
          [5, s / 4, s / 4],
          [2, 1, 1],
          "valid",
          g2,
          [t / 2, s / 4, s / 4],
          true,
          "relu",
        ),
        convTranspose3d("deconv3", [5, 5, 5], [2, 2, 2], "same", g3, [t, s / 2, s / 2], true, "relu"),
        convTranspose3d("deconv4", [2, 5, 5], [1, 2, 2], "same", c, [t, s, s], false, "tanh"),
      ],
    }
  },
}

/** The official widths of FC_S / FC_S_128 (src/CoopNets_video.py) and latent channels (train_coop_video.py). */
export const officialVideoOptions: ModelOptions = {
  descriptorChannels: [120, 30],
  descriptorUnits: 10,
  zDim: 5,
  generatorChannels: [256, 128, 64],
}

/** The CPU-scale dynamic-texture nets: the official topology on 32 frames of 64×64, narrower. */
export const CPU_VIDEO_SHAPE: VideoShape = [32, 64, 64, 3]
export const cpuVideoOptions: ModelOptions = {
  descriptorChannels: [32, 16],
  descriptorUnits: 10,
  zDim: 5,
  generatorChannels: [64, 32, 16],
}

export const architectures = {
  mnist,
  mnistConditional,
  object64,
  cifar32,
  texture,
  textureOfficial,
  texturePeriodic,
  textureUpLeaky,
  dynamicTexture,
} as const satisfies Record<string, Architecture>
export type ArchitectureName = keyof typeof architectures
