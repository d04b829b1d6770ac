import { describe, expect, it } from "vitest"
import { closest, editDistance } from "../../src/pipeline/config/did-you-mean.js"

describe("did you mean", () => {
  it("counts insertions, deletions and substitutions", () => {
    expect(editDistance("trainning", "training")).toBe(1)
    expect(editDistance("stpSize", "stepSize")).toBe(1)
    expect(editDistance("kitten", "sitting")).toBe(3)
    expect(editDistance("", "abc")).toBe(3)
  })

  it("suggests the nearest known name within a few edits, and nothing when none is near", () => {
    const known = ["steps", "stepSize", "refSigma", "noise"]
    expect(closest("stpSize", known)).toBe("stepSize")
    expect(closest("StepSize", known)).toBe("stepSize")
    expect(closest("refsigma", known)).toBe("refSigma")
    expect(closest("colour", known)).toBeUndefined()
    expect(closest("trainning", ["name", "seed", "training", "output"])).toBe("training")
  })
})
