/**
 * Reading a configuration schema back: which fields it has at a path (for
 * "did you mean"), and every field with its default and its `--help` line
 * (from the `default` and `description` annotations `field` puts on them).
 */
import { type Schema, SchemaAST } from "effect"

const isObject = (u: unknown): u is Record<string, unknown> =>
  typeof u === "object" && u !== null && !Array.isArray(u)

/** The member of a union of structs whose `source`/`kind` literal matches `value`'s, if any. */
const memberFor = (union: SchemaAST.Union, value: unknown): SchemaAST.AST | undefined =>
  union.types.find((member) => {
    if (member._tag !== "Objects") return false
    return member.propertySignatures.some(
      (p) =>
        p.type._tag === "Literal" &&
        isObject(value) &&
        (value as Record<PropertyKey, unknown>)[p.name] === p.type.literal,
    )
  })

const keysOf = (ast: SchemaAST.AST, value: unknown): ReadonlyArray<string> => {
  if (ast._tag === "Objects") return ast.propertySignatures.map((p) => String(p.name))
  if (ast._tag === "Union") {
    const member = memberFor(ast, value)
    return member ? keysOf(member, value) : [...new Set(ast.types.flatMap((t) => keysOf(t, value)))]
  }
  return []
}

/** The field names the schema knows at `path` of `root` (a user's document), for suggestions. */
export const keysAt = (
  schema: Schema.Top,
  path: ReadonlyArray<PropertyKey>,
  root: unknown,
): ReadonlyArray<string> => {
  let ast: SchemaAST.AST | undefined = schema.ast
  let value = root
  for (const key of path) {
    if (ast?._tag === "Union") ast = memberFor(ast, value)
    if (ast?._tag !== "Objects") return []
    ast = ast.propertySignatures.find((p) => p.name === key)?.type
    value = isObject(value) ? value[String(key)] : undefined
  }
  return ast === undefined ? [] : keysOf(ast, value)
}

export interface FieldDoc {
  /** dotted path, e.g. `langevin.stepSize` */
  readonly path: string
  /** the default, or undefined for a required field */
  readonly default: unknown
  readonly description: string
}

/**
 * The leaf fields of a struct schema, depth first, with their defaults and
 * descriptions. Unions (a field that picks among structs) are listed as one
 * field; `unions` receives them to document their members separately.
 */
export const fieldDocs = (
  ast: SchemaAST.AST,
  prefix = "",
  unions: (path: string, union: SchemaAST.Union) => void = () => {},
): ReadonlyArray<FieldDoc> => {
  if (ast._tag !== "Objects") return []
  return ast.propertySignatures.flatMap((p) => {
    const path = prefix ? `${prefix}.${String(p.name)}` : String(p.name)
    // a checked schema keeps its annotations on its last check: `resolve` finds them there
    const annotations = SchemaAST.resolve(p.type) ?? {}
    if (p.type._tag === "Objects") return fieldDocs(p.type, path, unions)
    if (p.type._tag === "Union" && p.type.types.every((t) => t._tag === "Objects")) {
      unions(path, p.type)
      return []
    }
    return [
      {
        path,
        default: annotations.default,
        description: String(annotations.description ?? ""),
      },
    ]
  })
}
