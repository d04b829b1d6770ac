/**
 * JSON configuration files (pipeline.json, completion.json): the user's
 * fields with `--set` overrides on top, decoded with effect/Schema, which
 * fills in every default. Every problem is reported at once with its JSON path
 * and the value given; unknown fields are errors with a "did you mean".
 */
import { Effect, Schema, SchemaIssue } from "effect"
import { ConfigError } from "../errors.js"
import { closest } from "./did-you-mean.js"
import { keysAt } from "./schema-fields.js"

type Json = null | boolean | number | string | ReadonlyArray<Json> | { readonly [key: string]: Json }

const isObject = (u: unknown): u is Record<string, unknown> =>
  typeof u === "object" && u !== null && !Array.isArray(u)

/** The key that picks a member of a union of structs (data.source, images.source, masks' kind). */
const DISCRIMINATORS = ["source", "kind"]

/**
 * Lays `over` onto `base`: objects merge key by key, everything else replaces.
 * An object that names another `source` than the one it lands on replaces it
 * whole, so the fields of the old source do not linger.
 */
export const layer = (base: unknown, over: unknown): unknown => {
  if (!isObject(base) || !isObject(over)) return over
  if (DISCRIMINATORS.some((d) => d in over && d in base && over[d] !== base[d])) return over
  const out: Record<string, unknown> = { ...base }
  for (const [k, v] of Object.entries(over)) out[k] = k in base ? layer(base[k], v) : v
  return out
}

/** `a.b.c=value`: value is parsed as JSON when it parses, else taken as a string. */
export const parseOverride = (
  assignment: string,
): { readonly path: ReadonlyArray<string>; readonly value: Json } => {
  const eq = assignment.indexOf("=")
  if (eq <= 0) throw new Error(`--set expects path.to.field=value, got "${assignment}"`)
  const path = assignment.slice(0, eq).split(".")
  const raw = assignment.slice(eq + 1)
  let value: Json
  try {
    value = JSON.parse(raw) as Json
  } catch {
    value = raw
  }
  return { path, value }
}

const nest = (path: ReadonlyArray<string>, value: Json): Json =>
  path.reduceRight<Json>((inner, key) => ({ [key]: inner }), value)

type PathSegment = PropertyKey | { readonly key: PropertyKey }

const keyOf = (p: PathSegment | undefined): PropertyKey | undefined => (typeof p === "object" ? p.key : p)

const formatPath = (path: ReadonlyArray<PathSegment>): string =>
  path.length === 0 ? "(top level)" : path.map((p) => String(keyOf(p))).join(".")

const valueAt = (root: unknown, path: ReadonlyArray<PathSegment>): unknown =>
  path.reduce<unknown>((node, p) => {
    const key = keyOf(p) as PropertyKey
    return isObject(node) || Array.isArray(node) ? (node as Record<PropertyKey, unknown>)[key] : undefined
  }, root)

const standardFormatter = SchemaIssue.makeFormatterStandardSchemaV1()

export interface LayeredOptions {
  /** what the file holds, e.g. "pipeline fields" */
  readonly what: string
  /** a minimal valid file, shown when the top level is not an object */
  readonly example: string
}

/** Decodes `text` (the file `source`) with `overrides` (`--set a.b=v`) on top; the schema fills the defaults. */
export const decodeLayered = <S extends Schema.Top>(
  schema: S,
  text: string,
  source: string,
  overrides: ReadonlyArray<string>,
  o: LayeredOptions,
): Effect.Effect<S["Type"], ConfigError, S["DecodingServices"]> =>
  Effect.gen(function* () {
    let user: unknown
    try {
      user = JSON.parse(text)
    } catch (e) {
      return yield* new ConfigError({
        message: `${source} is not valid JSON: ${(e as Error).message}. Fix the syntax (a trailing comma or a missing quote is the usual cause) and run again.`,
      })
    }
    if (!isObject(user))
      return yield* new ConfigError({
        message: `${source} must hold a JSON object of ${o.what}, e.g. ${o.example}.`,
      })
    let merged: unknown = user
    for (const assignment of overrides) {
      try {
        const { path, value } = parseOverride(assignment)
        merged = layer(merged, nest(path, value))
      } catch (e) {
        return yield* new ConfigError({ message: `${(e as Error).message}.` })
      }
    }
    return yield* Schema.decodeUnknownEffect(schema, { errors: "all", onExcessProperty: "error" })(
      merged,
    ).pipe(
      Effect.mapError((error) => {
        const issues = standardFormatter(error.issue).issues
        const lines = issues.map((i) => {
          const path = i.path ?? []
          if (i.message === "Expected no excess property") {
            const known = keysAt(schema, path.slice(0, -1).map(keyOf) as Array<PropertyKey>, merged)
            const near = closest(String(keyOf(path.at(-1))), known)
            const parent = path.length > 1 ? `${formatPath(path.slice(0, -1))}.` : ""
            return `  - ${formatPath(path)}: unknown field${near === undefined ? "" : `; did you mean ${parent}${near}?`}`
          }
          if (i.message === "Missing key") return `  - ${formatPath(path)}: required, but not given`
          const got = valueAt(merged, path)
          return `  - ${formatPath(path)}: ${i.message}${got === undefined ? "" : `, got ${typeof got === "number" ? String(got) : JSON.stringify(got)}`}`
        })
        const origin = overrides.length > 0 ? `${source} (with --set ${overrides.join(", ")})` : source
        return new ConfigError({
          message: `${origin}: ${issues.length} problem${issues.length === 1 ? "" : "s"}\n${lines.join("\n")}\nFix ${issues.length === 1 ? "this field" : "these fields"} and run again; \`node dist/run.js --help\` lists every field and its default.`,
        })
      }),
    )
  })
