/** The stage variant of every slot a spec names, built with its options, in the scheduler's order. */
import { Effect } from "effect"
import type { Drafted, Observed, Revised, Taught, Updated } from "../../stages/records.js"
import { variantNamed } from "../../stages/registry.js"
import type { Slot, SlotRecords, Stage } from "../../stages/stage.js"
import type { PipelineSpec } from "../config/spec.js"
import { optionsFor } from "../config/stage-options.js"

export interface Stages {
  readonly draft: Stage<Observed, Drafted>
  /** the chains slot's second half: persistent chains store the revised samples; the others keep nothing */
  readonly writeBack: Stage<Revised, Revised>
  readonly revise: Stage<Drafted, Revised>
  readonly updateDescriptor: Stage<Revised, Updated>
  readonly teach: Stage<Updated, Taught>
}

const build = <S extends Slot>(spec: PipelineSpec, slot: S) => {
  const variant = variantNamed(slot, spec.stages[slot])
  const options = optionsFor(spec, variant)
  return {
    stage: variant.make(options) as Stage<SlotRecords[S][0], SlotRecords[S][1]>,
    writeBack: variant.writeBack?.(options),
  }
}

export const stagesOf = (spec: PipelineSpec): Stages => {
  const chains = build(spec, "chains")
  return {
    draft: chains.stage,
    writeBack: chains.writeBack ?? ((record) => Effect.succeed(record)),
    revise: build(spec, "revise").stage,
    updateDescriptor: build(spec, "updateDescriptor").stage,
    teach: build(spec, "teach").stage,
  }
}
