#!/usr/bin/env node
// The data-parallel plan's recommended path (docs/scale-out.md): tfjs-node's own addon, patched
// with one method, `enableCollectiveOps(serverDef)`, that calls TensorFlow's
// TFE_EnableCollectiveOps on the addon's eager context. Collective ops then run on the addon's
// tensors through its existing `executeOp`, with no FFI and no copies.
//
//   node scripts/collectives-addon-prototype.mjs [floats...] [--reps N] [--workers K]
//
// 1. copies @tensorflow/tfjs-node's binding sources to a scratch directory, applies
//    scripts/tfjs-node-collectives.patch and builds the addon there with npm's node-gyp against
//    the libtensorflow that `npm ci` installed (node_modules is not touched);
// 2. starts K processes on 127.0.0.1; each enables collectives with a ServerDef for the K tasks
//    and all-reduces (CollectiveReduceV2, sum, ring) a float tensor in which task k holds
//    (k + 1)·(i mod 7) at element i, checks every element, and prints one JSON line per size.
// Default sizes: the official MNIST nets' descriptor and generator gradients and the generator's
// batch-norm moments (1,066,532, 3,443,585 and 1,792 floats).
import { execFileSync, spawn } from "node:child_process"
import { cpSync, existsSync, mkdtempSync, rmSync, symlinkSync } from "node:fs"
import { createRequire } from "node:module"
import { createServer } from "node:net"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { serverDef } from "./server-def.mjs"

const here = dirname(fileURLToPath(import.meta.url))
const args = process.argv.slice(2)
const flag = (name, fallback) => {
  const i = args.indexOf(name)
  return i === -1 ? fallback : Number(args[i + 1])
}

const build = () => {
  const pkg = join(here, "..", "node_modules", "@tensorflow", "tfjs-node")
  if (!existsSync(join(pkg, "deps", "lib", "libtensorflow_cc.so.2")))
    throw new Error(`no libtensorflow in ${pkg}/deps/lib: run npm ci first`)
  const dir = mkdtempSync(join(tmpdir(), "tfjs-node-collectives-"))
  cpSync(join(pkg, "binding"), join(dir, "binding"), { recursive: true })
  cpSync(join(pkg, "binding.gyp"), join(dir, "binding.gyp"))
  cpSync(join(pkg, "deps", "include"), join(dir, "deps", "include"), { recursive: true })
  symlinkSync(join(pkg, "deps", "lib"), join(dir, "deps", "lib"))
  execFileSync("patch", ["-p1", "-i", join(here, "tfjs-node-collectives.patch")], {
    cwd: dir,
    stdio: "inherit",
  })
  const gyp = [
    process.env.npm_config_node_gyp,
    "/usr/lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js",
    "/usr/local/lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js",
  ].find((p) => p && existsSync(p))
  if (gyp === undefined) throw new Error("node-gyp not found (it ships inside npm)")
  const nodedir = ["/usr", join(dirname(process.execPath), "..")].find((d) =>
    existsSync(join(d, "include", "node", "node_api.h")),
  )
  execFileSync(
    process.execPath,
    [
      gyp,
      "rebuild",
      ...(nodedir ? [`--nodedir=${nodedir}`] : []),
      "--napi_build_version=8",
      "--module_name=tfjs_binding",
      // binding.gyp's rpath is $ORIGIN/../../deps/lib
      `--module_path=${join(dir, "lib", "napi-v8")}`,
    ],
    { cwd: dir, stdio: ["ignore", "ignore", "pipe"] },
  )
  return { dir, addon: join(dir, "lib", "napi-v8", "tfjs_binding.node") }
}

const worker = (addon, task, ports, sizes, reps) => {
  const b = createRequire(import.meta.url)(addon)
  b.enableCollectiveOps(serverDef(ports, task))
  const attrs = [
    { name: "T", type: b.TF_ATTR_TYPE, value: b.TF_FLOAT },
    { name: "merge_op", type: b.TF_ATTR_STRING, value: "Add" },
    { name: "final_op", type: b.TF_ATTR_STRING, value: "Id" },
    { name: "communication_hint", type: b.TF_ATTR_STRING, value: "ring" },
    { name: "timeout_seconds", type: b.TF_ATTR_FLOAT, value: 120 },
    { name: "Nordering_token", type: b.TF_ATTR_INT, value: 0 },
  ]
  let instance = 0
  for (const n of sizes) {
    const x = b.createTensor(
      [n],
      b.TF_FLOAT,
      new Float32Array(n).map((_, i) => (task + 1) * (i % 7)),
    )
    const factor = (ports.length * (ports.length + 1)) / 2
    const times = []
    let wrong = 0
    for (let r = 0; r <= reps; r++) {
      const t0 = performance.now()
      const scalars = [ports.length, 1, ++instance].map((v) =>
        b.createTensor([], b.TF_INT32, Int32Array.of(v)),
      )
      const [out] = b.executeOp("CollectiveReduceV2", attrs, [x, ...scalars], 1)
      const y = b.tensorDataSync(out.id)
      times.push(performance.now() - t0)
      for (let i = 0; i < n; i++) if (y[i] !== factor * (i % 7)) wrong++
      b.deleteTensor(out.id)
      for (const s of scalars) b.deleteTensor(s)
    }
    b.deleteTensor(x)
    const [first, ...rest] = times
    rest.sort((a, c) => a - c)
    const round = (v) => Math.round(v * 100) / 100
    console.log(
      JSON.stringify({
        path: "patched tfjs-node addon",
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
  const [addon, task, ports, sizes, reps] = JSON.parse(args[1])
  worker(addon, task, ports, sizes, reps)
} else {
  const { dir, addon } = build()
  const sizes = args
    .filter((a, i) => /^\d+$/.test(a) && !["--reps", "--workers"].includes(args[i - 1]))
    .map(Number)
  const workers = flag("--workers", 2)
  const reps = flag("--reps", 20)
  const ports = []
  for (let k = 0; k < workers; k++) ports.push(await freePort())
  const chosen = sizes.length > 0 ? sizes : [1792, 1066532, 3443585]
  const results = await Promise.all(
    ports.map(
      (_, task) =>
        new Promise((resolve) => {
          const child = spawn(
            process.execPath,
            [fileURLToPath(import.meta.url), "--task", JSON.stringify([addon, task, ports, chosen, reps])],
            {
              stdio: ["ignore", "pipe", "pipe"],
              env: { ...process.env, TF_CPP_MIN_LOG_LEVEL: process.env.TF_CPP_MIN_LOG_LEVEL ?? "2" },
            },
          )
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
  rmSync(dir, { recursive: true, force: true })
  process.exitCode = results.every((r) => r.code === 0) ? 0 : 1
}
