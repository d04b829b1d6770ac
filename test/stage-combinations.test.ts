/** Stage combinations: every conflict is rejected when the spec is checked, naming the fields; every shipped config passes. */
import { readFileSync } from "node:fs"
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { checkSpec, decodeSpec } from "../src/pipeline/config/spec.js"

const check = (value: unknown) =>
  Effect.runPromise(
    decodeSpec(JSON.stringify(value), "p.json").pipe(
      Effect.flatMap((s) => checkSpec(s, "p.json")),
      Effect.match({
        onFailure: (e) => ({ error: e.message }),
        onSuccess: (spec) => ({ stages: spec.stages }),
      }),
    ),
  )

const stages = (over: Record<string, string>) => ({
  name: "x",
  stages: { chains: "generator", revise: "langevin", updateDescriptor: "adam", teach: "mcmc", ...over },
})

describe("stage combinations", () => {
  it("reject teaching without the z that drafted the chains", async () => {
    expect(await check(stages({ chains: "noise" }))).toEqual({
      error: `p.json: stages.teach "mcmc" conflicts with stages.chains "noise": teaching regresses g(z) onto the revised samples with the z that drafted them, and noise chains have no z; use stages.teach "none" (the descriptor alone) or stages.chains "generator".`,
    })
    expect(await check(stages({ chains: "persistent" }))).toEqual({
      error: `p.json: stages.teach "mcmc" conflicts with stages.chains "persistent" and persistent.reinitFrom "noise": teaching needs the z that drafted each chain; use persistent.reinitFrom "generator" or stages.teach "none".`,
    })
    expect(
      await check({ ...stages({ chains: "persistent" }), persistent: { reinitFrom: "generator" } }),
    ).toEqual({
      stages: { chains: "persistent", revise: "langevin", updateDescriptor: "adam", teach: "mcmc" },
    })
  })

  it("reject the generator alone with descriptor stages, other chains or no z inference, all at once", async () => {
    expect(await check(stages({ chains: "noise", teach: "abp" }))).toEqual({
      error: `p.json: 3 conflicting stage settings
  - stages.teach "abp" (the generator alone) conflicts with stages.revise "langevin" and stages.updateDescriptor "adam": alternating back-propagation trains no descriptor; set both to "none"
  - stages.teach "abp" conflicts with stages.chains "noise": the generator alone shows its own drafts g(z); use stages.chains "generator"
  - stages.teach "abp" needs latentLangevin.steps > 0 (the Langevin steps that infer z for each observed image), got 0; set it to e.g. 30
Fix these fields and run again.`,
    })
  })

  it('reject descriptor stages set to "none" outside the generator alone', async () => {
    expect(await check(stages({ revise: "none" }))).toEqual({
      error: `p.json: stages.revise "none" and stages.updateDescriptor "adam" conflict with stages.teach "mcmc": "none" for the descriptor's stages is only for stages.teach "abp" (the generator alone); use "langevin" and "adam".`,
    })
  })

  it("reject conditional nets without conditional chains and the reverse, unpaired chains and unlabelled data", async () => {
    expect(await check({ name: "x", model: { arch: "mnistConditional" } })).toEqual({
      error: `p.json: model.arch "mnistConditional" conflicts with stages.chains "generator": conditional nets need the one-hot labels that chains "conditional" carry; use stages.chains "conditional".`,
    })
    expect(await check(stages({ chains: "conditional" }))).toEqual({
      error: `p.json: 2 conflicting stage settings
  - stages.chains "conditional" conflicts with model.arch "mnist": only model.arch "mnistConditional" reads class labels; use it
  - stages.chains "conditional" pairs chain j with the label of observed image j, so training.chains (144) must equal training.batchSize (100)
Fix these fields and run again.`,
    })
  })

  it.each([
    "mnist",
    "mnist-quick",
    "mnist-persistent",
    "mnist-descriptor-alone",
    "mnist-generator-alone",
    "mnist-no-teaching",
    "mnist-zrevision",
    "mnist-conditional",
  ])("config/%s.json passes", async (name) => {
    const r = await check(JSON.parse(readFileSync(`config/${name}.json`, "utf8")))
    expect("stages" in r).toBe(true)
  })
})
