/**
 * The report's worker thread: builds and writes reports on request, so that
 * chart rendering (synchronous JavaScript) never runs on the thread that
 * runs tfjs's kernels. Each request is answered with what was written or why
 * it failed. Started by ./report-worker.ts.
 */
import { parentPort } from "node:worker_threads"
import { handle, type ReportRequest } from "./requests.js"

const port = parentPort
if (port === null)
  throw new Error("src/pipeline/report/worker.ts runs as a worker thread (see report-worker.ts)")
// one request at a time, in the order they came: two rewrites of one report never overlap
let chain: Promise<void> = Promise.resolve()
port.on("message", (message: { readonly id: number; readonly request: ReportRequest }) => {
  chain = chain.then(() =>
    handle(message.request).then(
      (written) => port.postMessage({ id: message.id, written }),
      (e: unknown) => port.postMessage({ id: message.id, error: e instanceof Error ? e.message : String(e) }),
    ),
  )
})
