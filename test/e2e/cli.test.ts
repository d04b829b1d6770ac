/** The real command line (`node dist/run.js`, built by the global setup): errors are one paragraph and a non-zero exit. */
import { mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { fieldDocs } from "../../src/pipeline/config/schema-fields.js"
import { PipelineSpec } from "../../src/pipeline/config/spec.js"
import { variants } from "../../src/stages/registry.js"
import { cli } from "../support.js"

const pipelineFile = (content: string) => {
  const file = join(mkdtempSync(join(tmpdir(), "coopnets-cli-")), "pipeline.json")
  writeFileSync(file, content)
  return file
}

describe("node dist/run.js", () => {
  it("--help documents every command, every pipeline field with its default, and every stage variant", () => {
    const r = cli("--help")
    expect(r.code).toBe(0)
    for (const command of ["sample", "interpolate", "compare", "complete", "evaluate"])
      expect(r.stdout).toContain(`node dist/run.js ${command} [flags] <`)
    const lines = r.stdout.split("\n")
    const fields = fieldDocs(PipelineSpec.ast)
    expect(fields.length).toBeGreaterThan(35)
    for (const field of fields) {
      const line = lines.find((l) => l.trimStart().startsWith(`${field.path} `))
      expect(line, field.path).toBeDefined()
      expect(line, field.path).toContain(JSON.stringify(field.default))
    }
    for (const v of variants) expect(r.stdout).toContain(`"${v.name}": ${v.summary}`)
    // a command's own --help lists its flags with their lines
    const sample = cli("sample", "--help")
    expect(sample.code).toBe(0)
    expect(sample.stdout).toContain("--langevin N")
    expect(sample.stdout).toContain("descriptor Langevin steps after the generator")
  })

  it("names a missing pipeline file", () => {
    const r = cli("nope/missing.json")
    expect(r.code).toBe(2)
    expect(r.stderr).toBe(
      "error: Cannot read pipeline file nope/missing.json: no such file or not readable. The shipped ones are in config/ (e.g. config/mnist-quick.json).\n",
    )
  })

  it("reports a wrong type, an unknown stage and a negative step size together", () => {
    const file = pipelineFile(
      JSON.stringify({
        name: "bad",
        training: { iterations: "ten" },
        stages: { chains: "magic" },
        langevin: { stepSize: -1 },
      }),
    )
    const r = cli(file)
    expect(r.code).toBe(2)
    expect(r.stderr).toBe(
      `error: ${file}: 3 problems
  - stages.chains: Expected "generator" | "persistent" | "noise" | "conditional" | "uniform", got "magic"
  - langevin.stepSize: Expected a value greater than 0, got -1
  - training.iterations: Expected number, got "ten"
Fix these fields and run again; \`node dist/run.js --help\` lists every field and its default.
`,
    )
  })

  it("rejects unknown options and a bad --set", () => {
    expect(cli("config/mnist-quick.json", "--frobnicate").stderr).toBe(
      "error: Unknown option --frobnicate. See `node dist/run.js --help`.\n",
    )
    const r = cli("config/mnist-quick.json", "--set", "langevin.steps")
    expect(r.code).toBe(2)
    expect(r.stderr).toBe('error: --set expects path.to.field=value, got "langevin.steps".\n')
  })

  it("names a missing checkpoint in sample mode", () => {
    const r = cli("sample", "nowhere")
    expect(r.code).toBe(1)
    expect(r.stderr).toBe(
      "error: nowhere/checkpoint.json: cannot be read. Pass a run directory (with checkpoints/final) or a checkpoint directory written by `node dist/run.js`.\n",
    )
  })
})
