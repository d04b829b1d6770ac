/**
 * Stage implementations by the name a pipeline.json gives them. An ablation
 * is a new file and a line here, never a branch inside another stage.
 */

import { conditionalChains } from "./chains-conditional.js"
import { noiseChains } from "./chains-noise.js"
import { keepPersistentChains, startPersistentChains } from "./chains-persistent.js"
import { draftFromGenerator } from "./draft.js"
import type { Revised } from "./records.js"
import { langevinRevision } from "./revise.js"
import { noRevision } from "./revise-none.js"
import type { Stage, StageOptions } from "./stage.js"
import { mcmcTeach, noTeach } from "./teach.js"
import { abpTeach } from "./teach-abp.js"
import { adamDescriptorUpdate } from "./update-descriptor.js"
import { noDescriptorUpdate } from "./update-descriptor-none.js"
import { keepNothing } from "./write-back.js"

export const registry = {
  chains: {
    generator: draftFromGenerator,
    persistent: startPersistentChains,
    noise: noiseChains,
    conditional: conditionalChains,
  },
  revise: { langevin: langevinRevision, none: noRevision },
  updateDescriptor: { adam: adamDescriptorUpdate, none: noDescriptorUpdate },
  teach: { mcmc: mcmcTeach, none: noTeach, abp: abpTeach },
} as const

/**
 * The chains slot's write-back, run by the scheduler right after revision:
 * persistent chains store the revised samples, the others keep nothing.
 */
export const chainsWriteBack = {
  generator: keepNothing,
  persistent: keepPersistentChains,
  noise: keepNothing,
  conditional: keepNothing,
} as const satisfies Record<keyof typeof registry.chains, (o: StageOptions) => Stage<Revised, Revised>>

type Names<K extends keyof typeof registry> = Array<keyof (typeof registry)[K] & string>

const namesOf = <K extends keyof typeof registry>(slot: K): Names<K> =>
  Object.keys(registry[slot]) as Names<K>

export const stageNames = {
  chains: namesOf("chains"),
  revise: namesOf("revise"),
  updateDescriptor: namesOf("updateDescriptor"),
  teach: namesOf("teach"),
}
