import { describe, expect, it } from "vitest"
import { applyThreadDefaults } from "../../src/pipeline/backend/threads.js"

describe("TensorFlow's thread settings", () => {
  it("default to one intra-op thread per core and one inter-op thread", () => {
    const env: NodeJS.ProcessEnv = {}
    expect(applyThreadDefaults(env, 6)).toEqual({ intraOp: 6, interOp: 1 })
    expect(env).toEqual({ TF_NUM_INTRAOP_THREADS: "6", TF_NUM_INTEROP_THREADS: "1" })
  })
  it("leave what the environment already says", () => {
    const env: NodeJS.ProcessEnv = { TF_NUM_INTRAOP_THREADS: "3", TF_NUM_INTEROP_THREADS: "2" }
    expect(applyThreadDefaults(env, 6)).toEqual({ intraOp: 3, interOp: 2 })
    expect(env.TF_NUM_INTRAOP_THREADS).toBe("3")
  })
})
