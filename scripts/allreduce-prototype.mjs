#!/usr/bin/env node
// A two-process all-reduce on TensorFlow's own collective runtime (CollectiveReduceV2 over gRPC),
// through the C API of the libtensorflow_cc.so.2 that `npm ci` builds for @tensorflow/tfjs-node.
// The prototype behind docs/scale-out.md; not part of the product.
//
//   npm install --no-save koffi@3.3.4          # an FFI for Node (the tfjs-node addon exposes no
//                                              # TFE_EnableCollectiveOps; see docs/scale-out.md)
//   node scripts/allreduce-prototype.mjs [floats...] [--reps N] [--workers 2]
//
// Without arguments it all-reduces the official MNIST nets' gradient sizes (descriptor 1,066,532
// floats, generator 3,443,585) and the generator's batch-norm moments (2 x 896 floats) between two
// processes on 127.0.0.1, checks every element of the result, and prints one JSON line per size
// with the median time of an all-reduce (the first, which resolves the group, reported apart).
import { spawn } from "node:child_process"
import { existsSync } from "node:fs"
import { createServer } from "node:net"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { serverDef } from "./server-def.mjs"

const here = dirname(fileURLToPath(import.meta.url))
const LIB = process.env.TF_LIB ?? join(here, "..", "node_modules", "@tensorflow", "tfjs-node", "deps", "lib")
const TF_FLOAT = 1
const TF_INT32 = 3

const args = process.argv.slice(2)
const flag = (name, fallback) => {
  const i = args.indexOf(name)
  return i === -1 ? fallback : Number(args[i + 1])
}

/** One worker: joins the group, all-reduces each size `reps` times, prints one JSON line per size. */
const worker = async (task, ports, sizes, reps) => {
  const { default: koffi } = await import("koffi")
  koffi.load(join(LIB, "libtensorflow_framework.so.2"))
  const tf = koffi.load(join(LIB, "libtensorflow_cc.so.2"))
  const f = (sig) => tf.func(sig)
  const TF_NewStatus = f("void* TF_NewStatus()")
  const TF_GetCode = f("int TF_GetCode(void* s)")
  const TF_Message = f("const char* TF_Message(void* s)")
  const TFE_NewContextOptions = f("void* TFE_NewContextOptions()")
  const TFE_NewContext = f("void* TFE_NewContext(void* opts, void* s)")
  const TFE_EnableCollectiveOps = f(
    "void TFE_EnableCollectiveOps(void* ctx, const uint8_t* proto, size_t len, void* s)",
  )
  const TF_AllocateTensor = f(
    "void* TF_AllocateTensor(int dtype, const int64_t* dims, int ndims, size_t len)",
  )
  const TF_TensorData = f("void* TF_TensorData(void* t)")
  const TF_DeleteTensor = f("void TF_DeleteTensor(void* t)")
  const TFE_NewTensorHandle = f("void* TFE_NewTensorHandle(void* t, void* s)")
  const TFE_DeleteTensorHandle = f("void TFE_DeleteTensorHandle(void* h)")
  const TFE_TensorHandleResolve = f("void* TFE_TensorHandleResolve(void* h, void* s)")
  const TFE_NewOp = f("void* TFE_NewOp(void* ctx, const char* name, void* s)")
  const TFE_DeleteOp = f("void TFE_DeleteOp(void* op)")
  const TFE_OpSetDevice = f("void TFE_OpSetDevice(void* op, const char* device, void* s)")
  const TFE_OpAddInput = f("void TFE_OpAddInput(void* op, void* h, void* s)")
  const TFE_OpAddInputList = f("void TFE_OpAddInputList(void* op, void** hs, int n, void* s)")
  const TFE_OpSetAttrType = f("void TFE_OpSetAttrType(void* op, const char* name, int t)")
  const TFE_OpSetAttrString = f(
    "void TFE_OpSetAttrString(void* op, const char* name, const char* v, size_t len)",
  )
  const TFE_OpSetAttrFloat = f("void TFE_OpSetAttrFloat(void* op, const char* name, float v)")
  const TFE_Execute = f("void TFE_Execute(void* op, _Out_ void** out, _Inout_ int* n, void* s)")

  const status = TF_NewStatus()
  const check = (what) => {
    if (TF_GetCode(status) !== 0) throw new Error(`${what}: ${TF_Message(status)}`)
  }
  const ctx = TFE_NewContext(TFE_NewContextOptions(), status)
  check("TFE_NewContext")
  const def = serverDef(ports, task)
  TFE_EnableCollectiveOps(ctx, def, def.length, status) // starts this task's gRPC server
  check("TFE_EnableCollectiveOps")
  const device = `/job:worker/replica:0/task:${task}/device:CPU:0`
  const handleOf = (dtype, typed, dims) => {
    const t = TF_AllocateTensor(dtype, BigInt64Array.from(dims.map(BigInt)), dims.length, typed.byteLength)
    new Uint8Array(koffi.view(TF_TensorData(t), typed.byteLength)).set(new Uint8Array(typed.buffer))
    const h = TFE_NewTensorHandle(t, status)
    check("TFE_NewTensorHandle")
    TF_DeleteTensor(t)
    return h
  }
  const int32 = (v) => handleOf(TF_INT32, Int32Array.of(v), [])
  let instance = 0
  const allReduce = (x) => {
    const op = TFE_NewOp(ctx, "CollectiveReduceV2", status)
    check("TFE_NewOp")
    TFE_OpSetDevice(op, device, status)
    const scalars = [int32(ports.length), int32(1), int32(++instance)] // group size, group key, instance key
    for (const h of [x, ...scalars]) TFE_OpAddInput(op, h, status)
    TFE_OpAddInputList(op, [], 0, status) // ordering_token: none
    TFE_OpSetAttrType(op, "T", TF_FLOAT)
    TFE_OpSetAttrString(op, "merge_op", "Add", 3)
    TFE_OpSetAttrString(op, "final_op", "Id", 2)
    TFE_OpSetAttrString(op, "communication_hint", "ring", 4)
    TFE_OpSetAttrFloat(op, "timeout_seconds", 120)
    const out = [null]
    TFE_Execute(op, out, [1], status)
    check("CollectiveReduceV2")
    TFE_DeleteOp(op)
    for (const h of scalars) TFE_DeleteTensorHandle(h)
    return out[0]
  }
  const read = (h, n) => {
    const t = TFE_TensorHandleResolve(h, status)
    check("TFE_TensorHandleResolve")
    const values = new Float32Array(koffi.view(TF_TensorData(t), n * 4).slice(0))
    TF_DeleteTensor(t)
    return values
  }
  for (const n of sizes) {
    // task k holds (k + 1) * (i mod 7) at element i; the sum over tasks is known exactly
    const mine = new Float32Array(n).map((_, i) => (task + 1) * (i % 7))
    const x = handleOf(TF_FLOAT, mine, [n])
    const factor = (ports.length * (ports.length + 1)) / 2
    const times = []
    let wrong = 0
    for (let r = 0; r <= reps; r++) {
      const t0 = performance.now()
      const y = allReduce(x)
      const values = read(y, n)
      times.push(performance.now() - t0)
      TFE_DeleteTensorHandle(y)
      for (let i = 0; i < n; i++) if (values[i] !== factor * (i % 7)) wrong++
    }
    TFE_DeleteTensorHandle(x)
    const [first, ...rest] = times
    rest.sort((a, b) => a - b)
    const round = (v) => Math.round(v * 100) / 100
    console.log(
      JSON.stringify({
        task,
        workers: ports.length,
        floats: n,
        megabytes: round((n * 4) / 2 ** 20),
        reps,
        wrongElements: wrong,
        firstMs: round(first),
        medianMs: round(rest[Math.floor(rest.length / 2)]),
        minMs: round(rest[0]),
      }),
    )
  }
}

const freePort = () =>
  new Promise((resolve) => {
    const server = createServer()
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address()
      server.close(() => resolve(port))
    })
  })

if (args[0] === "--task") {
  const [task, ports, sizes, reps] = JSON.parse(args[1])
  await worker(task, ports, sizes, reps)
} else {
  if (!existsSync(join(LIB, "libtensorflow_cc.so.2"))) {
    console.error(`No libtensorflow_cc.so.2 in ${LIB}: run npm ci first (or set TF_LIB).`)
    process.exit(1)
  }
  try {
    await import("koffi")
  } catch {
    console.error("This prototype calls TensorFlow's C API through koffi: npm install --no-save koffi@3.3.4")
    process.exit(1)
  }
  const sizes = args
    .filter((a, i) => /^\d+$/.test(a) && !["--reps", "--workers"].includes(args[i - 1]))
    .map(Number)
  const workers = flag("--workers", 2)
  const reps = flag("--reps", 20)
  const ports = []
  for (let k = 0; k < workers; k++) ports.push(await freePort())
  const chosen = sizes.length > 0 ? sizes : [1792, 1066532, 3443585]
  const children = ports.map((_, task) =>
    spawn(
      process.execPath,
      [fileURLToPath(import.meta.url), "--task", JSON.stringify([task, ports, chosen, reps])],
      {
        stdio: ["ignore", "pipe", "pipe"],
        env: { ...process.env, TF_CPP_MIN_LOG_LEVEL: process.env.TF_CPP_MIN_LOG_LEVEL ?? "2" },
      },
    ),
  )
  const results = await Promise.all(
    children.map(
      (child) =>
        new Promise((resolve) => {
          let out = ""
          let err = ""
          child.stdout.on("data", (d) => {
            out += d
          })
          child.stderr.on("data", (d) => {
            err += d
          })
          child.on("exit", (code) => resolve({ code, out, err }))
        }),
    ),
  )
  for (const r of results) {
    process.stdout.write(r.out)
    if (r.code !== 0) process.stderr.write(r.err)
  }
  process.exitCode = results.every((r) => r.code === 0) ? 0 : 1
}
