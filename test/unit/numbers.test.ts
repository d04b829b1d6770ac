/**
 * Numbers people read: durations of very long runs, and counts a float64
 * cannot hold exactly refused where they are given (pipeline file, --set,
 * command-line flags) with a message that says why.
 */
import { NodeServices } from "@effect/platform-node"
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { parseArgs } from "../../src/pipeline/commands/cli.js"
import { decodeSpec } from "../../src/pipeline/config/spec.js"
import { duration, progress } from "../../src/pipeline/report/progress-lines.js"

const problem = (overrides: ReadonlyArray<string>) =>
  Effect.runPromise(
    decodeSpec("{}", "p.json", overrides).pipe(
      Effect.match({ onFailure: (e) => e.message.split("\n")[1], onSuccess: () => "accepted" }),
    ),
  )

const usage = (argv: ReadonlyArray<string>) =>
  Effect.runPromise(
    parseArgs(argv).pipe(
      Effect.match({ onFailure: (e) => e.message, onSuccess: (i) => i.kind }),
      Effect.provide(NodeServices.layer),
    ),
  )

describe("durations", () => {
  it("read in seconds, minutes, hours, days and years", () => {
    expect(duration(42_400)).toBe("42s")
    expect(duration(187_000)).toBe("3m07s")
    expect(duration(5 * 3600e3 + 2 * 60e3)).toBe("5h02m")
    expect(duration(12 * 86400e3 + 4 * 3600e3 + 59 * 60e3)).toBe("12d04h")
    expect(duration(364 * 86400e3)).toBe("364d00h")
    expect(duration(3 * 365.25 * 86400e3)).toBe("3.0 years")
    expect(duration(2e6 * 365.25 * 86400e3)).toBe("2.0e+6 years")
    expect(duration(Number.POSITIVE_INFINITY)).toBe("unknown")
  })

  it("the progress line of a run of a billion iterations gives its ETA in years", () => {
    const lines: Array<string> = []
    const shown = progress("long", 1e9, 0, 1, (line) => lines.push(line))
    const record = { iteration: 0, epoch: 0, draftEnergy: null, descriptor: null, generator: null }
    shown.update(record as never, 5000)
    shown.update({ ...record, iteration: 1 } as never, 3000)
    expect(lines[1]).toMatch(/^\[long\] iter 2\/1000000000 epoch 0 \| 3\.00 s\/it, ETA 95\.1 years/)
  })
})

describe("counts", () => {
  it("beyond Number.MAX_SAFE_INTEGER are refused, saying why", async () => {
    expect(await problem(["training.iterations=9007199254740993"])).toBe(
      "  - training.iterations: Expected at most 9007199254740991 (Number.MAX_SAFE_INTEGER: beyond it a count is not exact), got 9007199254740992",
    )
    expect(await problem(["output.checkpointEvery=1e300"])).toBe(
      "  - output.checkpointEvery: Expected at most 9007199254740991 (Number.MAX_SAFE_INTEGER: beyond it a count is not exact), got 1e+300",
    )
    expect(await problem(["training.iterations=9007199254740991"])).toBe("accepted")
  })

  it("that are not whole, or not there (1e400 is Infinity), or zero chains, are refused", async () => {
    expect(await problem(["training.chains=2.5"])).toBe(
      "  - training.chains: Expected a whole number, got 2.5",
    )
    expect(await problem(["training.iterations=1e400"])).toBe(
      "  - training.iterations: Expected a whole number, got Infinity",
    )
    expect(await problem(["training.chains=0"])).toBe(
      "  - training.chains: Expected a value greater than 0, got 0",
    )
  })

  it("seeds beyond 32 bits are refused: they would repeat smaller ones", async () => {
    expect(await problem(["seed=4294967295"])).toBe("accepted")
    expect(await problem(["seed=4294967296"])).toBe(
      "  - seed: Expected a seed from 0 to 4294967295 (random keys are 32-bit: a larger seed would repeat a smaller one), got 4294967296",
    )
  })

  it("on the command line, flags that take a count refuse what is not one", async () => {
    expect(await usage(["sample", "runs/x", "--n", "1e300"])).toBe(
      '--n must be a whole number from 1 to 9007199254740991, got "1e300".',
    )
    expect(await usage(["sample", "runs/x", "--n", "64"])).toBe("sample")
    expect(await usage(["--resume", "runs/x", "--iterations", "9007199254740992"])).toBe(
      '--iterations must be a whole number from 1 to 9007199254740991, got "9007199254740992".',
    )
  })
})
