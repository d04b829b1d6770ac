/**
 * Which stage implementations can run together. Each stage slot is chosen by
 * name in pipeline.json; some choices need what another slot provides (teaching
 * needs the z that drafted the chains; the generator alone trains no
 * descriptor). Every conflict is reported at once, naming the fields.
 */
import { Effect } from "effect"
import { ConfigError } from "../errors.js"
import type { PipelineSpec } from "./spec.js"

/** The conflicts of a decoded spec, one sentence each (empty: the stages fit together). */
export const stageConflicts = (spec: PipelineSpec): ReadonlyArray<string> => {
  const { chains, revise, updateDescriptor, teach } = spec.stages
  const out: Array<string> = []
  const chainsWithoutZ =
    chains === "noise" || (chains === "persistent" && spec.persistent.reinitFrom === "noise")
  if (teach === "mcmc" && chainsWithoutZ)
    out.push(
      chains === "noise"
        ? `stages.teach "mcmc" conflicts with stages.chains "noise": teaching regresses g(z) onto the revised samples with the z that drafted them, and noise chains have no z; use stages.teach "none" (the descriptor alone) or stages.chains "generator"`
        : `stages.teach "mcmc" conflicts with stages.chains "persistent" and persistent.reinitFrom "noise": teaching needs the z that drafted each chain; use persistent.reinitFrom "generator" or stages.teach "none"`,
    )
  if (teach === "abp") {
    if (revise !== "none" || updateDescriptor !== "none")
      out.push(
        `stages.teach "abp" (the generator alone) conflicts with stages.revise "${revise}" and stages.updateDescriptor "${updateDescriptor}": alternating back-propagation trains no descriptor; set both to "none"`,
      )
    if (chains !== "generator")
      out.push(
        `stages.teach "abp" conflicts with stages.chains "${chains}": the generator alone shows its own drafts g(z); use stages.chains "generator"`,
      )
    if (spec.latentLangevin.steps === 0)
      out.push(
        `stages.teach "abp" needs latentLangevin.steps > 0 (the Langevin steps that infer z for each observed image), got 0; set it to e.g. 30`,
      )
  } else if (revise === "none" || updateDescriptor === "none")
    out.push(
      `stages.revise "${revise}" and stages.updateDescriptor "${updateDescriptor}" conflict with stages.teach "${teach}": "none" for the descriptor's stages is only for stages.teach "abp" (the generator alone); use "langevin" and "adam"`,
    )
  const conditionalNets = spec.model.arch === "mnistConditional"
  if (conditionalNets !== (chains === "conditional"))
    out.push(
      conditionalNets
        ? `model.arch "mnistConditional" conflicts with stages.chains "${chains}": conditional nets need the one-hot labels that chains "conditional" carry; use stages.chains "conditional"`
        : `stages.chains "conditional" conflicts with model.arch "${spec.model.arch}": only model.arch "mnistConditional" reads class labels; use it`,
    )
  if (chains === "conditional") {
    if (spec.training.chains !== spec.training.batchSize)
      out.push(
        `stages.chains "conditional" pairs chain j with the label of observed image j, so training.chains (${spec.training.chains}) must equal training.batchSize (${spec.training.batchSize})`,
      )
    if (spec.data.source !== "mnist")
      out.push(
        `stages.chains "conditional" needs class labels, which data.source "mnist" provides and data.source "${spec.data.source}" does not`,
      )
  }
  return out
}

/** Fails with every conflict of the spec's stages, or passes the spec on. */
export const checkStages = (spec: PipelineSpec, source: string): Effect.Effect<PipelineSpec, ConfigError> => {
  const conflicts = stageConflicts(spec)
  if (conflicts.length === 0) return Effect.succeed(spec)
  const [only] = conflicts
  return Effect.fail(
    new ConfigError({
      message:
        conflicts.length === 1
          ? `${source}: ${only}.`
          : `${source}: ${conflicts.length} conflicting stage settings\n${conflicts.map((c) => `  - ${c}`).join("\n")}\nFix these fields and run again.`,
    }),
  )
}
