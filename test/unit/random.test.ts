import { describe, expect, it } from "vitest"
import { foldIn, normals, permutation, rootKey, uniforms } from "../../src/models/random.js"

describe("keyed randomness", () => {
  it("gives the same numbers for the same key and different numbers for another", () => {
    const k = foldIn(rootKey(7), "revise", 3)
    expect(normals(k, 100)).toEqual(normals(k, 100))
    expect(normals(foldIn(rootKey(7), "revise", 4), 100)).not.toEqual(normals(k, 100))
    expect(foldIn(rootKey(7), "draft", 3)).not.toBe(k)
    expect(rootKey(1)).not.toBe(rootKey(2))
  })

  it("draws uniforms in [0, 1) and standard normals with the right moments", () => {
    const u = uniforms(rootKey(1), 100_000)
    expect(Math.min(...u)).toBeGreaterThanOrEqual(0)
    expect(Math.max(...u)).toBeLessThan(1)
    const z = normals(rootKey(2), 200_000)
    const mean = z.reduce((a, b) => a + b, 0) / z.length
    const variance = z.reduce((a, b) => a + (b - mean) ** 2, 0) / z.length
    expect(Math.abs(mean)).toBeLessThan(0.01)
    expect(Math.abs(variance - 1)).toBeLessThan(0.02)
    expect(z.every(Number.isFinite)).toBe(true)
  })

  it("permutes 0..n-1 exactly once each, deterministically", () => {
    const p = permutation(rootKey(3), 1000)
    expect([...p].sort((a, b) => a - b)).toEqual([...Array(1000).keys()])
    expect(p).toEqual(permutation(rootKey(3), 1000))
    expect(p).not.toEqual(permutation(rootKey(4), 1000))
  })
})
