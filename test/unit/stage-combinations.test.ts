/** Stage combinations: every conflict is rejected when the spec is checked, naming the fields; every shipped config passes. */
import { readFileSync } from "node:fs"
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { checkSpec } from "../../src/pipeline/config/checks.js"
import { decodeSpec } from "../../src/pipeline/config/spec.js"

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
      error: `p.json: stages.teach "mcmc" needs chains that carry the z that drafted them (it regresses g(z) onto the revised samples), which stages.chains "noise" does not provide; use stages.chains "generator", "persistent" (with persistent.reinitFrom "generator") or "conditional".`,
    })
    expect(await check(stages({ chains: "persistent" }))).toEqual({
      error: `p.json: stages.teach "mcmc" needs chains that carry the z that drafted them (it regresses g(z) onto the revised samples), which stages.chains "persistent" does not provide; use stages.chains "generator", "persistent" (with persistent.reinitFrom "generator") or "conditional".`,
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
  - stages.teach "abp" needs chains drafted afresh by the generator, g(z), every iteration (the generator alone shows its own drafts g(z)), which stages.chains "noise" does not provide; use stages.chains "generator"
  - stages.teach "abp" conflicts with stages.revise "langevin" and stages.updateDescriptor "adam": alternating back-propagation trains no descriptor; use stages.revise "none" and stages.updateDescriptor "none"
  - stages.teach "abp" needs latentLangevin.steps > 0 (the Langevin steps that infer z for each observed image), got 0; set it to e.g. 30
Fix these fields and run again.`,
    })
  })

  it('reject descriptor stages set to "none" outside the generator alone', async () => {
    expect(await check(stages({ revise: "none" }))).toEqual({
      error: `p.json: 2 conflicting stage settings
  - stages.updateDescriptor "adam" needs chains revised by the descriptor (the descriptor learns by contrasting the observed images with the chains it revised), which stages.revise "none" does not provide; use stages.revise "langevin"
  - stages.teach "mcmc" needs chains revised by the descriptor (the generator learns from what the descriptor's revision added), which stages.revise "none" does not provide; use stages.revise "langevin"
Fix these fields and run again.`,
    })
  })

  it("reject conditional nets without conditional chains and the reverse, unpaired chains and unlabelled data", async () => {
    expect(await check({ name: "x", model: { arch: "mnistConditional" } })).toEqual({
      error: `p.json: model.arch "mnistConditional" reads class labels, which stages.chains "generator" does not provide; use stages.chains "conditional".`,
    })
    expect(await check(stages({ chains: "conditional" }))).toEqual({
      error: `p.json: 2 conflicting stage settings
  - stages.chains "conditional" pairs chain j with the label of observed image j, so training.chains (144) must equal training.batchSize (100)
  - stages.chains "conditional" pairs the chains with class labels, which model.arch "mnist" does not read; use model.arch "mnistConditional"
Fix these fields and run again.`,
    })
  })

  it("reject z steps the teaching variant would ignore, and z-revision without steps", async () => {
    expect(await check({ ...stages({}), latentLangevin: { steps: 10 } })).toEqual({
      error: `p.json: stages.teach "mcmc" does not revise z, but latentLangevin.steps is 10; use stages.teach "zrevision" to revise z under q(z|X̂) before teaching, or set latentLangevin.steps to 0.`,
    })
    expect(await check(stages({ teach: "zrevision" }))).toEqual({
      error: `p.json: stages.teach "zrevision" needs latentLangevin.steps > 0 (the Langevin steps revising z); set it to e.g. 10.`,
    })
  })

  it.each([
    "mnist",
    "mnist-quick",
    "mnist-long",
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
