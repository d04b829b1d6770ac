/**
 * Every stage variant, by slot. A new ablation is a new file and one line here:
 * pipeline.json's stage names and option sections, `--help` and the checks of
 * which variants fit together are all derived from this list.
 */
import { conditionalChains } from "./chains-conditional.js"
import { noiseChains } from "./chains-noise.js"
import { persistentChains } from "./chains-persistent.js"
import { uniformChains } from "./chains-uniform.js"
import { generatorChains } from "./draft.js"
import { langevinRevision } from "./revise.js"
import { noRevision } from "./revise-none.js"
import type { AnyVariant, Slot } from "./stage.js"
import { mcmcTeaching } from "./teach.js"
import { abpTeaching } from "./teach-abp.js"
import { noTeaching } from "./teach-none.js"
import { zRevisionTeaching } from "./teach-zrevision.js"
import { adamDescriptorUpdate } from "./update-descriptor.js"
import { noDescriptorUpdate } from "./update-descriptor-none.js"

export const variants = [
  generatorChains,
  persistentChains,
  noiseChains,
  conditionalChains,
  uniformChains,
  langevinRevision,
  noRevision,
  adamDescriptorUpdate,
  noDescriptorUpdate,
  mcmcTeaching,
  zRevisionTeaching,
  noTeaching,
  abpTeaching,
] as const

type Variant = (typeof variants)[number]
type NamesOf<S extends Slot> = Extract<Variant, { readonly slot: S }>["name"]

/** The variants of one slot, in registry order (the first is the default). */
const all: ReadonlyArray<AnyVariant> = variants

export const variantsOf = <S extends Slot>(slot: S): ReadonlyArray<AnyVariant<S>> =>
  all.filter((v): v is AnyVariant<S> => v.slot === slot)

/** The variant a spec names for `slot`. */
export const variantNamed = <S extends Slot>(slot: S, name: string): AnyVariant<S> => {
  const found = variantsOf(slot).find((v) => v.name === name)
  if (found === undefined) throw new Error(`no stage variant ${slot} "${name}"`)
  return found
}

/** Names per slot, in registry order. */
export const stageNames = {
  chains: variantsOf("chains").map((v) => v.name) as ReadonlyArray<NamesOf<"chains">>,
  revise: variantsOf("revise").map((v) => v.name) as ReadonlyArray<NamesOf<"revise">>,
  updateDescriptor: variantsOf("updateDescriptor").map((v) => v.name) as ReadonlyArray<
    NamesOf<"updateDescriptor">
  >,
  teach: variantsOf("teach").map((v) => v.name) as ReadonlyArray<NamesOf<"teach">>,
}

type UnionToIntersection<U> = (U extends unknown ? (x: U) => void : never) extends (x: infer I) => void
  ? I
  : never

/** Every option section any variant reads, by its key in pipeline.json, in the order they are first declared. */
export const stageSections = Object.assign({}, ...variants.map((v) => v.options)) as UnionToIntersection<
  Variant["options"]
>
