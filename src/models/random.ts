/**
 * Counter-free, splittable randomness. Every random draw in a run comes from a
 * key derived from the seed and labels (stage name, iteration, parameter name),
 * so a draw never depends on how many draws happened before it: runs are
 * reproducible across backends and resumable from any iteration.
 */
import * as tf from "@tensorflow/tfjs-core"

/** A 32-bit key naming one independent random stream. */
export type Key = number

/** murmur3's 32-bit finaliser: a bijective avalanche mix. */
const fmix32 = (h0: number): number => {
  let h = h0 >>> 0
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  h ^= h >>> 16
  return h >>> 0
}

const hashString = (s: string): number => {
  let h = 0x811c9dc5
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193)
  return h >>> 0
}

export const rootKey = (seed: number): Key => fmix32((seed >>> 0) ^ 0x9e3779b9)

/** Derives the key of a sub-stream, e.g. `foldIn(root, "revise", iteration)`. */
export const foldIn = (key: Key, ...labels: ReadonlyArray<string | number>): Key =>
  labels.reduce<number>(
    (k, label) =>
      fmix32(
        Math.imul(k ^ 0x27d4eb2f, 0x165667b1) + (typeof label === "number" ? label >>> 0 : hashString(label)),
      ),
    key,
  )

/** xoshiro128** seeded from a key through splitmix32; returns uniforms in [0, 1). */
const uniformSource = (key: Key): (() => number) => {
  let x = key >>> 0
  const splitmix = (): number => {
    x = (x + 0x9e3779b9) >>> 0
    let z = x
    z = Math.imul(z ^ (z >>> 16), 0x21f0aaad)
    z = Math.imul(z ^ (z >>> 15), 0x735a2d97)
    return (z ^ (z >>> 15)) >>> 0
  }
  let a = splitmix()
  let b = splitmix()
  let c = splitmix()
  let d = splitmix()
  return () => {
    const r = Math.imul(((Math.imul(b, 5) << 7) | (Math.imul(b, 5) >>> 25)) >>> 0, 9) >>> 0
    const t = b << 9
    c ^= a
    d ^= b
    b ^= c
    a ^= d
    c ^= t
    d = (d << 11) | (d >>> 21)
    return (r >>> 8) / 16777216
  }
}

export const uniforms = (key: Key, n: number): Float32Array => {
  const next = uniformSource(key)
  const out = new Float32Array(n)
  for (let i = 0; i < n; i++) out[i] = next()
  return out
}

/** Standard normals by Box–Muller, two per pair of uniforms. */
export const normals = (key: Key, n: number): Float32Array => {
  const next = uniformSource(key)
  const out = new Float32Array(n)
  for (let i = 0; i < n; i += 2) {
    const u1 = 1 - next() // (0, 1]: log stays finite
    const u2 = next()
    const r = Math.sqrt(-2 * Math.log(u1))
    out[i] = r * Math.cos(2 * Math.PI * u2)
    if (i + 1 < n) out[i + 1] = r * Math.sin(2 * Math.PI * u2)
  }
  return out
}

export const normalTensor = (key: Key, shape: ReadonlyArray<number>, std = 1): tf.Tensor => {
  const values = normals(
    key,
    shape.reduce((a, b) => a * b, 1),
  )
  if (std !== 1) for (let i = 0; i < values.length; i++) values[i] = (values[i] as number) * std
  return tf.tensor(values, [...shape], "float32")
}

/** A uniformly random permutation of 0..n-1 (Fisher–Yates). */
export const permutation = (key: Key, n: number): Int32Array => {
  const next = uniformSource(key)
  const out = new Int32Array(n)
  for (let i = 0; i < n; i++) out[i] = i
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1))
    const t = out[i] as number
    out[i] = out[j] as number
    out[j] = t
  }
  return out
}
