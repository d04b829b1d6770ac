/**
 * The client of the report worker thread (./worker.ts). Requests are
 * answered in order; if the thread cannot be started (no compiled worker.js
 * beside this module and no dist/ twin, as when the TypeScript sources run
 * under a test runner) the same work runs on this thread, which is slower for
 * the training loop but gives the same files.
 */
import { existsSync } from "node:fs"
import { fileURLToPath } from "node:url"
import { Worker } from "node:worker_threads"
import type { Written } from "./report.js"
import type { ReportRequest } from "./requests.js"

export interface ReportWorker {
  readonly request: (request: ReportRequest) => Promise<Written>
  /** "worker" when a worker thread does the work, "inline" when this thread does */
  readonly mode: "worker" | "inline"
  readonly close: () => Promise<void>
}

/** worker.js beside this module, or (running from src/ under a test runner) its compiled twin in dist/. */
const workerFile = (): string | null => {
  const beside = fileURLToPath(new URL("./worker.js", import.meta.url))
  if (existsSync(beside)) return beside
  const twin = beside.replace(/\/src\/pipeline\/report\/worker\.js$/, "/dist/pipeline/report/worker.js")
  return twin !== beside && existsSync(twin) ? twin : null
}

const inline = async (): Promise<ReportWorker> => {
  const { handle } = await import("./requests.js")
  return { request: handle, mode: "inline", close: async () => {} }
}

export const startReportWorker = async (): Promise<ReportWorker> => {
  const file = workerFile()
  if (file === null) return inline()
  const worker = new Worker(file)
  worker.unref() // a report never keeps the process alive
  const pending = new Map<number, { resolve: (w: Written) => void; reject: (e: Error) => void }>()
  let next = 0
  let failure: Error | null = null
  const failAll = (e: Error) => {
    failure = e
    for (const p of pending.values()) p.reject(e)
    pending.clear()
  }
  worker.on("message", (m: { id: number; written?: Written; error?: string }) => {
    const p = pending.get(m.id)
    pending.delete(m.id)
    if (m.error !== undefined) p?.reject(new Error(m.error))
    else if (m.written) p?.resolve(m.written)
  })
  worker.on("error", (e) => failAll(e))
  worker.on("exit", (code) => failAll(new Error(`the report worker thread exited (code ${code})`)))
  return {
    mode: "worker",
    request: (request) =>
      failure
        ? Promise.reject(failure)
        : new Promise<Written>((resolve, reject) => {
            const id = next++
            pending.set(id, { resolve, reject })
            worker.postMessage({ id, request })
          }),
    close: async () => {
      worker.removeAllListeners("exit")
      await worker.terminate()
    },
  }
}
