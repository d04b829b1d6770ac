/**
 * Which stage variants can run together, derived from what each declares it
 * needs, excludes and provides (src/stages/stage.ts), plus each variant's own
 * checks of its options. Every conflict is reported at once, naming the fields
 * and the variants that would fix it.
 */
import { architectures } from "../../models/nets.js"
import { variantNamed, variantsOf } from "../../stages/registry.js"
import {
  type AnyVariant,
  CAPABILITIES,
  type Capability,
  providesCapability,
  SLOTS,
  type Slot,
} from "../../stages/stage.js"
import { netSpecsOf } from "./shapes.js"
import type { PipelineSpec } from "./spec.js"
import { coreOptionsOf, sectionsFor } from "./stage-options.js"

const quoted = (names: ReadonlyArray<string>): string => {
  const q = names.map((n) => `"${n}"`)
  return q.length <= 1 ? (q[0] ?? "") : `${q.slice(0, -1).join(", ")} or ${q.at(-1)}`
}

/** The variants (of any slot) that can provide `capability`, with the option they need for it. */
const providers = (capability: Capability): ReadonlyArray<{ slot: Slot; text: string }> =>
  SLOTS.flatMap((slot) =>
    variantsOf(slot).flatMap((v) =>
      (v.provides ?? []).flatMap((p) =>
        typeof p === "string"
          ? p === capability
            ? [{ slot, text: `"${v.name}"` }]
            : []
          : p.capability === capability
            ? [{ slot, text: `"${v.name}" (${p.hint})` }]
            : [],
      ),
    ),
  )

const suggestion = (capability: Capability): string => {
  const offers = providers(capability)
  const slots = [...new Set(offers.map((o) => o.slot))]
  return slots
    .map((slot) => {
      const texts = offers.filter((o) => o.slot === slot).map((o) => o.text)
      return `stages.${slot} ${texts.length === 1 ? texts[0] : `${texts.slice(0, -1).join(", ")} or ${texts.at(-1)}`}`
    })
    .join(" or ")
}

const readsLabelsOf = (net: { readonly layers: ReadonlyArray<{ readonly kind: string }> }) =>
  net.layers.some((l) => l.kind === "concatLabels")

/** The architectures whose nets read class labels (each built at its own image size). */
const labelReadingArchitectures = (spec: PipelineSpec): ReadonlyArray<string> =>
  Object.entries(architectures)
    .filter(([, arch]) => {
      try {
        return readsLabelsOf(arch.generator(spec.model, arch.imageShape))
      } catch {
        return false // widths that do not fit this architecture: it is not the one to suggest
      }
    })
    .map(([name]) => name)

/** The conflicts of a decoded spec, one sentence each (empty: the stages fit together). */
export const stageConflicts = (spec: PipelineSpec): ReadonlyArray<string> => {
  const chosen = SLOTS.map((slot) => variantNamed(slot, spec.stages[slot]))
  const optionsOf = (v: AnyVariant) => sectionsFor(spec, v)
  const has = (capability: Capability) => chosen.some((v) => providesCapability(v, capability, optionsOf(v)))
  const givers = (capability: Capability) =>
    chosen.filter((v) => providesCapability(v, capability, optionsOf(v)))
  const name = (v: AnyVariant) => `stages.${v.slot} "${v.name}"`
  const out: Array<string> = []
  for (const v of chosen) {
    for (const need of v.needs ?? [])
      if (!has(need.capability)) {
        const slotsThatCould = new Set(providers(need.capability).map((p) => p.slot))
        const lacking = chosen.filter((c) => slotsThatCould.has(c.slot) && c !== v).map(name)
        out.push(
          `${name(v)} needs ${CAPABILITIES[need.capability]} (${need.why})${lacking.length > 0 ? `, which ${lacking.join(" and ")} ${lacking.length === 1 ? "does" : "do"} not provide` : ""}; use ${suggestion(need.capability)}`,
        )
      }
    const excluded = (v.excludes ?? []).filter((e) => has(e.capability))
    if (excluded.length > 0) {
      const culprits = [...new Set(excluded.flatMap((e) => givers(e.capability)))]
      const fixes = culprits.map((c) => {
        const alternatives = variantsOf(c.slot)
          .filter((a) => !excluded.some((e) => providesCapability(a, e.capability, optionsOf(a))))
          .map((a) => a.name)
        return `stages.${c.slot} ${quoted(alternatives)}`
      })
      out.push(
        `${name(v)} conflicts with ${culprits.map(name).join(" and ")}: ${[...new Set(excluded.map((e) => e.why))].join("; ")}; use ${fixes.join(" and ")}`,
      )
    }
    out.push(
      ...(v.check?.({
        options: { ...coreOptionsOf(spec), ...optionsOf(v) },
        arch: spec.model.arch,
        dataSource: spec.data.source,
      }) ?? []),
    )
  }
  // nets that read class labels need chains that carry them
  const readsLabels = [netSpecsOf(spec).descriptor, netSpecsOf(spec).generator].some(readsLabelsOf)
  if (readsLabels && !has("labels"))
    out.push(
      `model.arch "${spec.model.arch}" reads class labels, which ${name(chosen[0] as AnyVariant)} does not provide; use ${suggestion("labels")}`,
    )
  if (!readsLabels && has("labels"))
    out.push(
      `${givers("labels").map(name).join(" and ")} pairs the chains with class labels, which model.arch "${spec.model.arch}" does not read; use model.arch ${quoted(labelReadingArchitectures(spec))}`,
    )
  return out
}
