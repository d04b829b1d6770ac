/**
 * Weights in the tfjs weights-manifest layout: one little-endian float32
 * buffer plus `{ name, shape, dtype }` specs, readable by
 * `tf.io.decodeWeights(buffer, specs)` as well as by `unpack` here.
 */
import type * as tf from "@tensorflow/tfjs-core"

export interface WeightSpec {
  readonly name: string
  readonly shape: ReadonlyArray<number>
  readonly dtype: "float32"
}

export interface Snapshot {
  readonly specs: ReadonlyArray<WeightSpec>
  readonly data: Uint8Array
}

/** Copies named tensors' values now (later updates of the variables do not affect it). */
export const snapshot = (
  named: ReadonlyArray<{ readonly name: string; readonly tensor: tf.Tensor }>,
): Snapshot => {
  const total = named.reduce((n, { tensor }) => n + tensor.size, 0)
  const values = new Float32Array(total)
  let offset = 0
  for (const { tensor } of named) {
    values.set(tensor.dataSync() as Float32Array, offset)
    offset += tensor.size
  }
  return {
    specs: named.map(({ name, tensor }) => ({ name, shape: [...tensor.shape], dtype: "float32" as const })),
    data: new Uint8Array(values.buffer),
  }
}

/** Splits a snapshot back into named value arrays; fails if the bytes do not match the specs. */
export const unpack = (
  s: Snapshot,
): ReadonlyMap<string, { readonly shape: ReadonlyArray<number>; readonly values: Float32Array }> => {
  const expected = s.specs.reduce((n, spec) => n + spec.shape.reduce((a, b) => a * b, 1), 0) * 4
  if (s.data.byteLength !== expected)
    throw new Error(`weights hold ${s.data.byteLength} bytes but the manifest describes ${expected}`)
  const copy = new Float32Array(s.data.slice().buffer)
  const out = new Map<string, { shape: ReadonlyArray<number>; values: Float32Array }>()
  let offset = 0
  for (const spec of s.specs) {
    const size = spec.shape.reduce((a, b) => a * b, 1)
    out.set(spec.name, { shape: spec.shape, values: copy.subarray(offset, offset + size) })
    offset += size
  }
  return out
}
