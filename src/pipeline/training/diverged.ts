/** What a user reads when training diverges: the stage's own diagnosis plus where the last good state is. */
import { DivergenceError } from "../../stages/divergence.js"

export const divergedAfter = (
  e: DivergenceError,
  lastCheckpoint: { readonly dir: string; readonly iteration: number } | undefined,
): DivergenceError =>
  new DivergenceError({
    ...e,
    message:
      lastCheckpoint === undefined
        ? `${e.message} No checkpoint was written before it (set output.checkpointEvery to keep some).`
        : `${e.message} The last good checkpoint is ${lastCheckpoint.dir} (iteration ${lastCheckpoint.iteration}); \`node dist/run.js sample ${lastCheckpoint.dir}\` draws from it.`,
  })
