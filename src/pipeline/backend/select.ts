/**
 * Picks and initialises the TensorFlow.js backend.
 *
 * "auto" tries, in order: tensorflow-gpu (@tensorflow/tfjs-node-gpu, only if installed and a GPU
 * is visible), tensorflow (@tensorflow/tfjs-node, built by `npm run setup:native` / postinstall),
 * wasm, cpu. The native packages are optional: they are loaded with require() at run time so the
 * project runs without them. They register their backend with the one @tensorflow/tfjs-core in
 * node_modules (npm dedupes it), which is the instance the models import.
 *
 * TensorFlow's thread pools: one intra-op thread per core and one inter-op thread
 * (threads.ts says why); TF_NUM_INTRAOP_THREADS / TF_NUM_INTEROP_THREADS set before the first
 * selectBackend override them. tfjs-backend-wasm has no multi-threading in Node (its flag is off under IS_NODE),
 * so wasm runs on one thread with SIMD.
 */
import { createRequire } from "node:module"
import path from "node:path"
import * as tf from "@tensorflow/tfjs-core"
import { registerFallbackKernels } from "./kernels.js"
import { registerNativeKernels } from "./native-kernels.js"
import { applyThreadDefaults } from "./threads.js"

export type BackendName = "tensorflow-gpu" | "tensorflow" | "wasm" | "cpu"
export type BackendChoice = "auto" | BackendName

export interface BackendAttempt {
  readonly name: BackendName
  readonly ok: boolean
  readonly reason: string
}

export interface BackendReport {
  readonly name: BackendName
  readonly attempts: ReadonlyArray<BackendAttempt>
}

export const AUTO_ORDER: ReadonlyArray<BackendName> = ["tensorflow-gpu", "tensorflow", "wasm", "cpu"]

const PACKAGES: Record<BackendName, string> = {
  "tensorflow-gpu": "@tensorflow/tfjs-node-gpu",
  tensorflow: "@tensorflow/tfjs-node",
  wasm: "@tensorflow/tfjs-backend-wasm",
  cpu: "@tensorflow/tfjs-backend-cpu",
}

const ADVICE: Record<BackendName, string> = {
  "tensorflow-gpu":
    'install @tensorflow/tfjs-node-gpu on a machine with a CUDA GPU (npm install @tensorflow/tfjs-node-gpu), or use backend: "auto"',
  tensorflow: 'run `npm run setup:native` to build the native addon, or use backend: "auto"',
  wasm: 'reinstall dependencies (`npm ci`), or use backend: "auto" or "cpu"',
  cpu: "reinstall dependencies (`npm ci`)",
}

/** Thrown when an explicitly requested backend cannot be loaded. */
export class BackendUnavailable extends Error {
  override readonly name = "BackendUnavailable"
  readonly backend: BackendName
  readonly reason: string
  readonly attempts: ReadonlyArray<BackendAttempt>

  constructor(backend: BackendName, reason: string, attempts: ReadonlyArray<BackendAttempt> = []) {
    super(`Backend "${backend}" is unavailable: ${reason}. To fix: ${ADVICE[backend]}.`)
    this.backend = backend
    this.reason = reason
    this.attempts = attempts
  }
}

const require = createRequire(import.meta.url)

const firstLine = (e: unknown): string => {
  const message = e instanceof Error ? e.message : String(e)
  return (message.split("\n").find((l) => l.trim() !== "") ?? message).trim().slice(0, 300)
}

const isNotFound = (e: unknown, pkg: string): boolean =>
  e instanceof Error &&
  (e as NodeJS.ErrnoException).code === "MODULE_NOT_FOUND" &&
  e.message.includes(`Cannot find module '${pkg}'`)

const installed = (pkg: string): boolean => {
  try {
    require.resolve(`${pkg}/package.json`)
    return true
  } catch {
    return false
  }
}

interface NativeBackendLike {
  readonly isGPUPackage?: unknown
  readonly isUsingGpuDevice?: unknown
}

const nativeBackend = (): NativeBackendLike | undefined => {
  const b: unknown = tf.findBackend("tensorflow")
  return typeof b === "object" && b !== null ? (b as NativeBackendLike) : undefined
}

/** Loads a tfjs-node package (it registers and initialises the "tensorflow" backend). */
const loadNative = (pkg: string): string | undefined => {
  if (nativeBackend() !== undefined) return undefined
  if (!installed(pkg)) return "not installed"
  // Quiet TensorFlow's C++ start-up logging unless the user asked for it.
  process.env.TF_CPP_MIN_LOG_LEVEL ??= "2"
  // libtensorflow leaves oneDNN's CPU kernels off unless asked; with them the transposed
  // convolutions of the generator run 2-4x faster (measured by `npm run bench`).
  process.env.TF_ENABLE_ONEDNN_OPTS ??= "1"
  applyThreadDefaults()
  try {
    require(pkg)
  } catch (e) {
    if (isNotFound(e, pkg)) return "not installed"
    const msg = firstLine(e)
    if (msg.includes("tfjs_binding.node") && msg.includes("can not be found")) {
      return "addon failed to load: native addon not built (tfjs_binding.node missing)"
    }
    return `addon failed to load: ${msg}`
  }
  return nativeBackend() === undefined
    ? `addon failed to load: ${pkg} registered no "tensorflow" backend`
    : undefined
}

const useBackend = async (name: string): Promise<string | undefined> => {
  try {
    const ok = await tf.setBackend(name)
    return ok ? undefined : `backend "${name}" failed to initialise`
  } catch (e) {
    return `backend "${name}" failed to initialise: ${firstLine(e)}`
  }
}

async function tryTensorflowGpu(): Promise<string | undefined> {
  const existing = nativeBackend()
  if (existing !== undefined && existing.isGPUPackage !== true) {
    return `not loaded: ${PACKAGES.tensorflow} already provides the "tensorflow" backend in this process`
  }
  const failure = loadNative(PACKAGES["tensorflow-gpu"])
  if (failure !== undefined) return failure
  if (nativeBackend()?.isUsingGpuDevice !== true)
    return "package loads but no GPU device is visible (CUDA/cuDNN?)"
  return useBackend("tensorflow")
}

async function tryTensorflow(): Promise<string | undefined> {
  const failure = loadNative(PACKAGES.tensorflow)
  if (failure !== undefined) return failure
  return useBackend("tensorflow")
}

async function tryWasm(): Promise<string | undefined> {
  if (!installed(PACKAGES.wasm)) return "not installed"
  try {
    const wasm = await import("@tensorflow/tfjs-backend-wasm")
    // The .wasm binaries from node_modules, never from a CDN.
    const dist = path.join(path.dirname(require.resolve(`${PACKAGES.wasm}/package.json`)), "dist")
    wasm.setWasmPaths(`${dist}${path.sep}`)
    // Ignored in Node (no threaded build there), honoured where threads are supported.
    wasm.setThreadsCount(2)
  } catch (e) {
    return `failed to load: ${firstLine(e)}`
  }
  return useBackend("wasm")
}

async function tryCpu(): Promise<string | undefined> {
  try {
    await import("@tensorflow/tfjs-backend-cpu")
  } catch (e) {
    return isNotFound(e, PACKAGES.cpu) ? "not installed" : `failed to load: ${firstLine(e)}`
  }
  return useBackend("cpu")
}

const TRY: Record<BackendName, () => Promise<string | undefined>> = {
  "tensorflow-gpu": tryTensorflowGpu,
  tensorflow: tryTensorflow,
  wasm: tryWasm,
  cpu: tryCpu,
}

/** Gradients of the core ops are registered by the @tensorflow/tfjs union package. */
async function ensureGradients(): Promise<void> {
  if (tf.getGradient("Conv2D") !== undefined) return
  try {
    await import("@tensorflow/tfjs")
  } catch {
    // Without it tf.grad fails with "gradient function not found", which names the problem.
  }
}

/** Loads and sets the tfjs backend; throws BackendUnavailable when an explicit choice cannot load. */
export async function selectBackend(choice: BackendChoice): Promise<BackendReport> {
  // Before any backend starts: skips per-op checks and the "install tfjs-node" banner.
  tf.enableProdMode()
  await ensureGradients()
  const order = choice === "auto" ? AUTO_ORDER : [choice]
  const attempts: BackendAttempt[] = []
  for (const name of order) {
    const failure = await TRY[name]()
    attempts.push({ name, ok: failure === undefined, reason: failure ?? "ok" })
    if (failure === undefined) {
      if (name === "cpu" || name === "wasm") registerFallbackKernels()
      else registerNativeKernels(PACKAGES[name])
      tf.enableProdMode()
      return { name, attempts }
    }
  }
  if (choice !== "auto") {
    throw new BackendUnavailable(choice, attempts[0]?.reason ?? "unknown", attempts)
  }
  const summary = attempts.map((a) => `${a.name}: ${a.reason}`).join("; ")
  throw new BackendUnavailable("cpu", `no backend could be loaded (${summary})`, attempts)
}
