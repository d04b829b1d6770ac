/**
 * Stage implementations by the name a pipeline.json gives them. An ablation
 * is a new file and a line here, never a branch inside another stage.
 */
import { draftFromGenerator } from "./draft.js"
import { langevinRevision } from "./revise.js"
import { mcmcTeach, noTeach } from "./teach.js"
import { adamDescriptorUpdate } from "./update-descriptor.js"

export const registry = {
  chains: { generator: draftFromGenerator },
  revise: { langevin: langevinRevision },
  updateDescriptor: { adam: adamDescriptorUpdate },
  teach: { mcmc: mcmcTeach, none: noTeach },
} as const

type Names<K extends keyof typeof registry> = Array<keyof (typeof registry)[K] & string>

const namesOf = <K extends keyof typeof registry>(slot: K): Names<K> =>
  Object.keys(registry[slot]) as Names<K>

export const stageNames = {
  chains: namesOf("chains"),
  revise: namesOf("revise"),
  updateDescriptor: namesOf("updateDescriptor"),
  teach: namesOf("teach"),
}
