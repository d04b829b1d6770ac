/**
 * `--help`: each command's usage, description and flags as the command line
 * declares them (effect/cli's help documents), then every pipeline field with
 * its default and its line, every data source and every stage variant — all
 * read off the schema and the stage registry, never written twice.
 */
import { Option, SchemaAST } from "effect"
import type { HelpDoc } from "effect/cli"
import { type FieldDoc, fieldDocs } from "../config/schema-fields.js"
import { PipelineSpec, stageChoices } from "../config/spec.js"
import { sweepFieldsHelp } from "./sweep.js"

const WIDTH = 100

const wrap = (text: string, indent: number): string => {
  const words = text.split(/\s+/).filter((w) => w.length > 0)
  const lines: Array<string> = []
  let line = ""
  for (const word of words) {
    if (line.length > 0 && indent + line.length + 1 + word.length > WIDTH) {
      lines.push(line)
      line = word
    } else line = line.length === 0 ? word : `${line} ${word}`
  }
  if (line.length > 0) lines.push(line)
  return lines.map((l) => `${" ".repeat(indent)}${l}`).join("\n")
}

/** One command: its usage line, its description, its flags. */
export const formatCommand = (doc: HelpDoc.HelpDoc): string => {
  const flags = doc.flags.map((f) => {
    const name = `--${f.name}${f.type === "boolean" ? "" : ` ${f.type}`}`
    const description = Option.getOrElse(f.description, () => "")
    return `      ${name.padEnd(28)} ${description}`
  })
  return [`  ${doc.usage}`, wrap(doc.description, 6), ...flags].join("\n")
}

const value = (v: unknown): string => (v === undefined ? "(required)" : JSON.stringify(v))

const fieldLine = (f: FieldDoc, indent = 2): string =>
  `${" ".repeat(indent)}${f.path.padEnd(36 - indent)} ${value(f.default).padEnd(18)} ${f.description}`

/** Every pipeline field, the data sources' fields, and the stage variants of every slot. */
export const fieldsHelp = (): string => {
  const unions: Array<{ path: string; union: SchemaAST.Union }> = []
  const fields = fieldDocs(PipelineSpec.ast, "", (path, union) => unions.push({ path, union }))
  const stages = new Map(stageChoices.map((c) => [`stages.${c.slot}`, c.variants]))
  const pipeline = fields.flatMap((f) => {
    const variants = stages.get(f.path)
    return variants === undefined
      ? [fieldLine(f)]
      : [fieldLine(f), ...variants.map((v) => `${" ".repeat(39)}"${v.name}": ${v.summary}`)]
  })
  const sources = unions.flatMap(({ path, union }) =>
    union.types.flatMap((member) => {
      if (member._tag !== "Objects") return []
      const tag = member.propertySignatures.find((p) => p.type._tag === "Literal")
      const literal = tag?.type._tag === "Literal" ? String(tag.type.literal) : "?"
      const own = fieldDocs(member, path).filter(
        (f) => f !== undefined && !f.path.endsWith(`.${String(tag?.name)}`),
      )
      return [
        `  ${path}.${String(tag?.name)} "${literal}": ${SchemaAST.resolveDescription(member) ?? ""}`,
        ...own.map((f) => fieldLine(f, 4)),
      ]
    }),
  )
  return [
    "Pipeline fields (a pipeline.json lists any subset; the rest take these defaults, which are the",
    "official MNIST settings; unknown fields are errors; --set path.to.field=value overrides any)",
    ...pipeline,
    "",
    "Data sources (data.source picks one; each has its own fields and defaults)",
    ...sources,
  ].join("\n")
}

/** The whole `--help`: the root command, each subcommand, then the fields. */
export const helpText = (root: HelpDoc.HelpDoc, commands: ReadonlyArray<HelpDoc.HelpDoc>): string =>
  [
    "coopnets — train CoopNets (a descriptor and a generator learned together by MCMC teaching)",
    "",
    "Usage",
    formatCommand(root),
    ...commands.map(formatCommand),
    "",
    fieldsHelp(),
    "",
    sweepFieldsHelp(),
    "",
  ].join("\n")
