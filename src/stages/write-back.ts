/**
 * The chains slot's second half: what happens to the revised samples before
 * the descriptor learns from them. Chains that restart every iteration keep
 * nothing; persistent chains (chains-persistent.ts) store them.
 */
import { Effect } from "effect"
import type { Revised } from "./records.js"
import type { Stage, StageOptions } from "./stage.js"

export const keepNothing =
  (_: StageOptions): Stage<Revised, Revised> =>
  (input) =>
    Effect.succeed(input)
