/** The pure-JS path stays alive: a short tiny run on the "cpu" backend, with the fallback Conv2DBackpropFilter. */
import { mkdtempSync, readFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { NodeServices } from "@effect/platform-node"
import * as tf from "@tensorflow/tfjs-core"
import { Effect } from "effect"
import { expect, it } from "vitest"
import { train } from "../../src/pipeline/training/train.js"
import { tinySpec } from "../support.js"

it("trains on the cpu backend", async () => {
  const outDir = join(mkdtempSync(join(tmpdir(), "coopnets-cpu-")), "run")
  const spec = { ...tinySpec(), backend: "cpu" as const }
  const result = await Effect.runPromise(
    train(spec, { source: "tiny.json", outDir, force: false, quiet: true }).pipe(
      Effect.provide(NodeServices.layer),
    ),
  )
  expect(result.backend).toBe("cpu")
  expect(tf.getBackend()).toBe("cpu")
  const lines = readFileSync(join(outDir, "metrics.jsonl"), "utf8").trim().split("\n")
  expect(lines).toHaveLength(spec.training.iterations)
  for (const line of lines) expect(Number.isFinite(JSON.parse(line).descriptorLoss)).toBe(true)
})
