/**
 * TensorFlow's thread pools for the native backend, set before it loads
 * (TensorFlow reads `TF_NUM_INTRAOP_THREADS` / `TF_NUM_INTEROP_THREADS` when
 * its eager context starts); a value already in the environment wins.
 *
 * - intra-op: one thread per core. TensorFlow runs an op's shards on this pool
 *   and on the calling (JS) thread; with 1 every op runs on the JS thread alone.
 * - inter-op: 1. tfjs-node executes ops synchronously, one at a time, so the
 *   inter-op pool has nothing to do: measured on the 2-core machine, its
 *   threads spent 0 ms of CPU over a whole iteration (the default, one per
 *   core, only adds idle threads).
 *
 * The other threads of a run: sharp encodes sample grids on libuv's pool with
 * one libvips worker (sharp's default on glibc Linux), 2-5 ms of CPU per grid,
 * and the writer's file I/O waits on the disk; neither competes with
 * TensorFlow for long (`npm run bench` reports the iteration with grids written
 * every iteration beside the one without).
 */
import { availableParallelism } from "node:os"

export interface ThreadSettings {
  readonly intraOp: number
  readonly interOp: number
}

/** Sets the defaults where the environment does not say; returns what TensorFlow will use. */
export const applyThreadDefaults = (
  env: NodeJS.ProcessEnv = process.env,
  cores: number = availableParallelism(),
): ThreadSettings => {
  env.TF_NUM_INTRAOP_THREADS ??= String(cores)
  env.TF_NUM_INTEROP_THREADS ??= "1"
  return { intraOp: Number(env.TF_NUM_INTRAOP_THREADS), interOp: Number(env.TF_NUM_INTEROP_THREADS) }
}
