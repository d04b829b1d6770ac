/**
 * How well hidden pixels were recovered, on images in [0, 1] (NHWC, flat).
 * Masks are one value per pixel (1 visible, 0 hidden), shared by the channels.
 *
 *   MAE (hidden)  mean |X̂ − X| over the hidden pixels
 *   MAE (whole)   mean |X̂ − X| over every pixel
 *   PSNR          10·log10(1 / MSE) over the whole image (peak 1), per image;
 *                 an exact image (MSE 0) counts as MAX_PSNR
 *
 * Each is computed per image, then averaged over the images.
 */

/** PSNR of an exact reconstruction (MSE floored at 1e-10). */
export const MAX_PSNR = 100

export interface CompletionScores {
  readonly hiddenMae: number
  readonly wholeMae: number
  readonly psnr: number
}

/** [-1, 1] → [0, 1], clipped (the range the metrics are defined on). */
export const toUnit = (values: Float32Array): Float32Array =>
  values.map((v) => Math.min(1, Math.max(0, (v + 1) / 2)))

export const psnrOf = (mse: number): number => Math.min(MAX_PSNR, 10 * Math.log10(1 / Math.max(mse, 1e-10)))

/** Scores of each image: `truth` and `recovered` [n, h, w, c] in [0, 1], `masks` [n, h, w]. */
export const scoreImages = (
  truth: Float32Array,
  recovered: Float32Array,
  masks: Float32Array,
  images: number,
  channels: number,
): ReadonlyArray<CompletionScores> => {
  if (truth.length !== masks.length * channels || recovered.length !== truth.length || masks.length % images)
    throw new RangeError(
      `scoreImages: ${truth.length} true and ${recovered.length} recovered values for ${images} images of ${masks.length / images} pixels × ${channels} channels`,
    )
  const perImage = masks.length / images
  const scores: Array<CompletionScores> = []
  for (let i = 0; i < images; i++) {
    let hiddenAbs = 0
    let hidden = 0
    let wholeAbs = 0
    let squared = 0
    for (let p = i * perImage; p < (i + 1) * perImage; p++)
      for (let c = 0; c < channels; c++) {
        const d = (recovered[p * channels + c] as number) - (truth[p * channels + c] as number)
        wholeAbs += Math.abs(d)
        squared += d * d
        if (masks[p] === 0) {
          hiddenAbs += Math.abs(d)
          hidden++
        }
      }
    const values = perImage * channels
    scores.push({
      hiddenMae: hidden === 0 ? 0 : hiddenAbs / hidden,
      wholeMae: wholeAbs / values,
      psnr: psnrOf(squared / values),
    })
  }
  return scores
}

/** The mean of each score over the images. */
export const meanScores = (scores: ReadonlyArray<CompletionScores>): CompletionScores => {
  const mean = (pick: (s: CompletionScores) => number) =>
    scores.reduce((a, s) => a + pick(s), 0) / Math.max(1, scores.length)
  return { hiddenMae: mean((s) => s.hiddenMae), wholeMae: mean((s) => s.wholeMae), psnr: mean((s) => s.psnr) }
}
