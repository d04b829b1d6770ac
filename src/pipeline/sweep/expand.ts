/**
 * A sweep file → its runs: every variant × every grid point × every seed, in that order (the first
 * grid field varies slowest), each with the `--set` assignments that make it and a stable id.
 *
 * The id is `<variant>_<field>-<value>…_s<seed>_<hash>`: the readable part names what varies, the
 * hash is the first 8 hex digits of SHA-256 over the run's overrides merged into one object with
 * sorted keys — so it depends on what the run sets, not on where in the file it was set, on the
 * order of the lists, or on which other runs the sweep holds. Adding a seed or a grid value leaves
 * the ids (and so the directories) of the runs already there unchanged.
 */
import { createHash } from "node:crypto"
import type { Schema } from "effect"
import { layer } from "../config/layered-json.js"
import type { SweepSpec } from "./sweep-spec.js"

type Json = typeof Schema.Json.Type

export interface PlannedRun {
  /** position in the sweep: the SLURM array index */
  readonly index: number
  readonly id: string
  readonly variant: string | undefined
  /** the grid point: field → value */
  readonly point: Readonly<Record<string, Json>>
  readonly seed: number | undefined
  /** `--set` assignments, in order: the sweep's `set`, the variant's, the grid point's, the seed, the name */
  readonly overrides: ReadonlyArray<string>
}

/** Keys sorted at every level: equal values give equal text whatever order their fields were written in. */
export const canonicalJson = (value: unknown): string =>
  JSON.stringify(value, (_, v) =>
    typeof v === "object" && v !== null && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : v,
  )

const nest = (path: string, value: Json): Json =>
  path.split(".").reduceRight<Json>((inner, key) => ({ [key]: inner }), value)

/** The overrides as one object, applied in order (later ones win), as `--set` would apply them. */
const merged = (assignments: ReadonlyArray<readonly [string, Json]>): unknown =>
  assignments.reduce<unknown>((acc, [path, value]) => layer(acc, nest(path, value)), {})

const HASH_DIGITS = 8
const READABLE_MAX = 72

export const hashOf = (assignments: ReadonlyArray<readonly [string, Json]>): string =>
  createHash("sha256")
    .update(canonicalJson(merged(assignments)))
    .digest("hex")
    .slice(0, HASH_DIGITS)

/** A value as a few path-safe characters: 0.002 → "0.002", [8,8,8] → "8x8x8", "noise" → "noise". */
export const valueSlug = (value: Json): string => {
  const raw = Array.isArray(value)
    ? value.map((v) => valueSlug(v)).join("x")
    : typeof value === "object" && value !== null
      ? "obj"
      : String(value)
  return raw.replace(/[^A-Za-z0-9.+-]+/g, "-")
}

const readable = (variant: string | undefined, point: Record<string, Json>, seed: number | undefined) =>
  [
    ...(variant === undefined ? [] : [variant]),
    ...Object.entries(point).map(([field, value]) => `${field.split(".").at(-1)}-${valueSlug(value)}`),
    ...(seed === undefined ? [] : [`s${seed}`]),
  ]
    .join("_")
    .slice(0, READABLE_MAX)
    .replace(/[._-]+$/, "")

/** Every combination of the grid's values, the first field varying slowest. */
export const gridPoints = (
  grid: Readonly<Record<string, ReadonlyArray<Json>>>,
): Array<Record<string, Json>> =>
  Object.entries(grid).reduce<Array<Record<string, Json>>>(
    (points, [field, values]) => points.flatMap((p) => values.map((v) => ({ ...p, [field]: v }))),
    [{}],
  )

const assignment = ([path, value]: readonly [string, Json]): string => `${path}=${JSON.stringify(value)}`

/** The runs of a sweep, in array-index order. Two runs with the same overrides are an error (returned as a message). */
export const expandSweep = (spec: SweepSpec): { runs: Array<PlannedRun> } | { duplicate: string } => {
  const variants: Array<readonly [string | undefined, Readonly<Record<string, Json>>]> =
    Object.keys(spec.variants).length === 0 ? [[undefined, {}]] : Object.entries(spec.variants)
  const seeds: ReadonlyArray<number | undefined> = spec.seeds ?? [undefined]
  const runs: Array<PlannedRun> = []
  const byHash = new Map<string, string>()
  for (const [variant, variantOverrides] of variants)
    for (const point of gridPoints(spec.grid))
      for (const seed of seeds) {
        const assignments: Array<readonly [string, Json]> = [
          ...Object.entries(spec.set),
          ...Object.entries(variantOverrides),
          ...Object.entries(point),
          ...(seed === undefined ? [] : [["seed", seed] as const]),
        ]
        const hash = hashOf(assignments)
        const name = readable(variant, point, seed)
        const id = name === "" ? hash : `${name}_${hash}`
        const twin = byHash.get(hash)
        if (twin !== undefined)
          return {
            duplicate: `runs ${twin} and ${id} set exactly the same fields to the same values (variants with identical overrides?); every run of a sweep must differ`,
          }
        byHash.set(hash, id)
        runs.push({
          index: runs.length,
          id,
          variant,
          point,
          seed,
          overrides: [...assignments.map(assignment), `name=${JSON.stringify(id)}`],
        })
      }
  return { runs }
}
