import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { checkSpec } from "../../src/pipeline/config/checks.js"
import { decodeSpec, specDefaults as defaults } from "../../src/pipeline/config/spec.js"

const decode = (value: unknown, overrides: ReadonlyArray<string> = []) =>
  Effect.runPromise(
    decodeSpec(typeof value === "string" ? value : JSON.stringify(value), "p.json", overrides).pipe(
      Effect.match({ onFailure: (e) => ({ error: e.message }), onSuccess: (spec) => ({ spec }) }),
    ),
  )

describe("pipeline spec", () => {
  it("lays a partial file over the official defaults", async () => {
    const r = await decode({ name: "x", training: { iterations: 5 } })
    expect(r).toEqual({ spec: { ...defaults, name: "x", training: { ...defaults.training, iterations: 5 } } })
  })

  it("applies --set overrides, parsing JSON values", async () => {
    const r = await decode({ name: "x" }, [
      "langevin.steps=3",
      "model.descriptorChannels=[8,8,8]",
      "backend=cpu",
    ])
    expect("spec" in r && r.spec.langevin.steps).toBe(3)
    expect("spec" in r && r.spec.model.descriptorChannels).toEqual([8, 8, 8])
    expect("spec" in r && r.spec.backend).toBe("cpu")
  })

  it("reports every problem at once with its path", async () => {
    const r = await decode({
      name: "x",
      seed: "one",
      stages: { teach: "telepathy" },
      langevin: { stepSize: -0.1 },
      trainning: {},
    })
    expect(r).toEqual({
      error: `p.json: 4 problems
  - trainning: unknown field; did you mean training?
  - seed: Expected number, got "one"
  - stages.teach: Expected "mcmc" | "zrevision" | "none" | "abp", got "telepathy"
  - langevin.stepSize: Expected a value greater than 0, got -0.1
Fix these fields and run again; \`node dist/run.js --help\` lists every field and its default.`,
    })
  })

  it("names the override in errors that come from --set", async () => {
    const r = await decode({ name: "x" }, ["training.batchSize=0"])
    expect(r).toEqual({
      error: `p.json (with --set training.batchSize=0): 1 problem
  - training.batchSize: Expected a value greater than 0, got 0
Fix this field and run again; \`node dist/run.js --help\` lists every field and its default.`,
    })
  })

  it("rejects text that is not JSON, and JSON that is not an object", async () => {
    const bad = await decode('{"name": "x",}')
    expect("error" in bad && bad.error).toMatch(/^p\.json is not valid JSON: .*Fix the syntax/)
    expect(await decode("[1, 2]")).toEqual({
      error:
        'p.json must hold a JSON object of pipeline fields, e.g. {"name": "mnist", "training": {"iterations": 100}}.',
    })
  })

  it("rejects a batch larger than the data", async () => {
    const error = await Effect.runPromise(
      checkSpec({ ...defaults, data: { source: "mnist", split: "train", limit: 50 } }, "p.json").pipe(
        Effect.flip,
      ),
    )
    expect(error.message).toBe(
      "p.json: training.batchSize (100) is larger than data.limit (50); lower the batch size or use more data.",
    )
  })
})
