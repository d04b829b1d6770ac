#!/usr/bin/env node
// Makes the native TensorFlow backend (@tensorflow/tfjs-node) loadable without downloads
// outside the package registries.
//
// tfjs-node's own install script downloads libtensorflow from a storage host that is not
// reachable everywhere, so package.json keeps that script unapproved ("allowScripts") and
// runs this file as the root "postinstall" instead. Steps, first success wins:
//   1. the addon already loads                                   -> nothing to do
//   2. a cached build in .vendor/ for these exact versions         -> link it in (seconds)
//   3. the official libtensorflow host is reachable               -> run tfjs-node's own install
//   4. PyPI: download TensorFlow's CPU wheel with pip, take libtensorflow_cc.so.2 (it exports
//      the whole C API), libtensorflow_framework.so.2 and the C headers from it, lay them out
//      as tfjs-node's binding.gyp expects (deps/lib, deps/include), build the N-API addon with
//      node-gyp, check it loads, cache libs and addon in .vendor/
// On failure it prints one paragraph saying why and which backend runs will use, and exits 0
// (exit 1 only with --strict, used by `npm run setup:native`).
//
// Flags: --force (rebuild the addon even if one loads or is cached; the extracted libtensorflow
// in .vendor/ is reused — delete .vendor/ to fetch it again), --verbose (show build output),
// --strict (exit 1 on failure).
// Env: COOPNETS_SKIP_NATIVE=1 skips everything; COOPNETS_TF_VERSION picks the TensorFlow wheel
// (default below); COOPNETS_NATIVE_SOURCE=pypi skips step 3, =official skips step 4.

import { spawnSync } from "node:child_process"
import fs from "node:fs"
import { createRequire } from "node:module"
import os from "node:os"
import path from "node:path"
import { fileURLToPath } from "node:url"

// 2.16.2: the measured-fastest of the 2.x wheels that ship libtensorflow_cc.so.2 (2.12+),
// manylinux2014 (glibc >= 2.17), and loads tfjs-node 4.22's addon on Node 20 and 22.
const DEFAULT_TF_VERSION = "2.16.2"
// Any CPython that has a wheel of that version: only the shared libraries are used.
const WHEEL_PYTHON = "3.11"
const CPU_PACKAGE = "@tensorflow/tfjs-node"
const GPU_PACKAGE = "@tensorflow/tfjs-node-gpu"
const TAG = "[coopnets native backend]"

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")
const vendor = path.join(root, ".vendor")
const argv = new Set(process.argv.slice(2))
const force = argv.has("--force")
const verbose = argv.has("--verbose") || process.env.COOPNETS_NATIVE_VERBOSE === "1"
const strict = argv.has("--strict")
const tfVersion = process.env.COOPNETS_TF_VERSION || DEFAULT_TF_VERSION
const source = process.env.COOPNETS_NATIVE_SOURCE || "auto"
const started = Date.now()

const rootRequire = createRequire(path.join(root, "package.json"))

const log = (msg) => console.log(`${TAG} ${msg}`)
const debug = (msg) => {
  if (verbose) console.log(`${TAG} ${msg}`)
}
const seconds = () => `${((Date.now() - started) / 1000).toFixed(1)} s`

class StepError extends Error {}

function packageDir(name) {
  try {
    return path.dirname(rootRequire.resolve(`${name}/package.json`))
  } catch {
    return undefined
  }
}

function readJson(file) {
  return JSON.parse(fs.readFileSync(file, "utf8"))
}

function firstErrorLine(text) {
  const lines = String(text ?? "")
    .split("\n")
    .map((l) => l.trim())
    .filter(Boolean)
  const err = lines.find((l) => /^(\w*Error|error):/.test(l)) ?? lines.find((l) => /error/i.test(l))
  return (err ?? lines.at(-1) ?? "no output").replace(/\s*\(from versions:[^)]*\)?/, "").slice(0, 400)
}

/** Loads the package in a child process (the libraries are large) and checks the backend. */
function addonLoads(pkgDir) {
  const code = [
    'process.env.TF_CPP_MIN_LOG_LEVEL = "2"',
    `const tf = require(${JSON.stringify(pkgDir)})`,
    'if (tf.getBackend() !== "tensorflow") throw new Error("backend is " + tf.getBackend())',
    "const t = tf.add(tf.tensor1d([1, 2]), 1); if (t.dataSync()[1] !== 3) throw new Error('wrong result')",
    "console.log(JSON.stringify({ gpu: tf.backend().isUsingGpuDevice === true }))",
  ].join("\n")
  const r = spawnSync(process.execPath, ["-e", code], {
    cwd: root,
    encoding: "utf8",
    timeout: 180_000,
    env: { ...process.env, TF_CPP_MIN_LOG_LEVEL: "2" },
  })
  if (r.status === 0) return { ok: true, reason: "ok" }
  return { ok: false, reason: r.error ? String(r.error) : firstErrorLine(r.stderr) }
}

function napiBuildVersion(pkgDir) {
  // The directory node-pre-gyp's `find` (used by tfjs-node's index.js) looks in.
  try {
    const pkgRequire = createRequire(path.join(pkgDir, "package.json"))
    const found = pkgRequire("@mapbox/node-pre-gyp").find(path.join(pkgDir, "package.json"))
    const m = /napi-v(\d+)/.exec(found)
    if (m) return Number(m[1])
  } catch (e) {
    debug(`node-pre-gyp find failed (${e.message}); computing the N-API version`)
  }
  const supported = readJson(path.join(pkgDir, "package.json")).binary.napi_versions
  const current = Number(process.versions.napi)
  return Math.max(...supported.filter((v) => v <= current))
}

function run(cmd, args, opts = {}) {
  debug(`$ ${cmd} ${args.join(" ")}`)
  const r = spawnSync(cmd, args, {
    encoding: "utf8",
    stdio: verbose ? "inherit" : "pipe",
    maxBuffer: 64 * 1024 * 1024,
    ...opts,
  })
  if (r.error) throw new StepError(`${path.basename(cmd)} could not run: ${r.error.message}`)
  if (r.status !== 0) {
    const out = verbose ? "(see output above)" : firstErrorLine(`${r.stdout ?? ""}\n${r.stderr ?? ""}`)
    throw new StepError(`\`${path.basename(cmd)} ${args.slice(0, 2).join(" ")}\` failed: ${out}`)
  }
  return r
}

function linkOrCopy(from, to) {
  fs.rmSync(to, { force: true })
  try {
    fs.linkSync(from, to)
  } catch {
    fs.copyFileSync(from, to)
  }
}

// ---------------------------------------------------------------- PyPI libtensorflow

function findPython() {
  for (const py of ["python3", "python"]) {
    const r = spawnSync(py, ["-m", "pip", "--version"], { encoding: "utf8" })
    if (r.status === 0) return py
  }
  throw new StepError("no Python with pip found (python3 -m pip); it is needed to fetch TensorFlow's wheel")
}

// Extracts the two shared libraries and the C-API headers (closure of their #includes).
const EXTRACT_PY = String.raw`
import os, re, shutil, sys, zipfile
whl, dest = sys.argv[1], sys.argv[2]
z = zipfile.ZipFile(whl)
names = set(z.namelist())
INC = "tensorflow/include/"
todo = ["tensorflow/c/c_api.h", "tensorflow/c/eager/c_api.h", "tensorflow/c/tf_datatype.h",
        "tensorflow/c/tf_status.h", "tensorflow/c/tf_tensor.h", "tensorflow/core/platform/ctstring_internal.h"]
pat = re.compile(rb'^\s*#\s*include\s+"([^"]+)"', re.M)
seen = set()
while todo:
    h = todo.pop()
    if h in seen or INC + h not in names:
        continue
    seen.add(h)
    data = z.read(INC + h)
    out = os.path.join(dest, "include", h)
    os.makedirs(os.path.dirname(out), exist_ok=True)
    with open(out, "wb") as f:
        f.write(data)
    todo.extend(m.decode() for m in pat.findall(data))
if "tensorflow/c/c_api.h" not in seen:
    sys.exit("the wheel has no tensorflow/include/tensorflow/c/c_api.h")
os.makedirs(os.path.join(dest, "lib"), exist_ok=True)
for lib in ("libtensorflow_cc.so.2", "libtensorflow_framework.so.2"):
    if "tensorflow/" + lib not in names:
        sys.exit("the wheel has no tensorflow/" + lib + " (TensorFlow >= 2.12 ships it)")
    out = os.path.join(dest, "lib", lib)
    with z.open("tensorflow/" + lib) as src, open(out, "wb") as dst:
        shutil.copyfileobj(src, dst, 1 << 22)
    os.chmod(out, 0o755)
print(len(seen), "headers")
`

function wheelPlatform() {
  if (process.platform === "linux" && process.arch === "x64") {
    return { project: "tensorflow-cpu", platforms: ["manylinux2014_x86_64", "manylinux_2_17_x86_64"] }
  }
  throw new StepError(
    `no PyPI libtensorflow recipe for ${process.platform}-${process.arch} (only linux-x64 is set up)`,
  )
}

/** .vendor/libtensorflow-<tf>-<platform>-<arch>/{lib,include}, downloading the wheel if needed. */
function ensureLibtensorflow() {
  const dir = path.join(vendor, `libtensorflow-${tfVersion}-${process.platform}-${process.arch}`)
  const ready = path.join(dir, ".complete")
  if (fs.existsSync(ready)) {
    debug(`libtensorflow ${tfVersion} cached in ${path.relative(root, dir)}`)
    return dir
  }
  const { project, platforms } = wheelPlatform()
  const python = findPython()
  const wheels = path.join(vendor, "wheels")
  fs.mkdirSync(wheels, { recursive: true })
  log(`fetching ${project}==${tfVersion} wheel from PyPI (~210 MB) with pip ...`)
  run(python, [
    "-m",
    "pip",
    "download",
    "--no-deps",
    "--only-binary=:all:",
    "--disable-pip-version-check",
    "--python-version",
    WHEEL_PYTHON,
    ...platforms.flatMap((p) => ["--platform", p]),
    "-d",
    wheels,
    `${project}==${tfVersion}`,
  ])
  const prefix = `${project.replace(/-/g, "_")}-${tfVersion}-`
  const whl = fs.readdirSync(wheels).find((f) => f.startsWith(prefix) && f.endsWith(".whl"))
  if (!whl) throw new StepError(`pip reported success but no ${prefix}*.whl is in ${wheels}`)
  log(`extracting libtensorflow_cc.so.2, libtensorflow_framework.so.2 and C headers (${seconds()}) ...`)
  const tmp = `${dir}.tmp-${process.pid}`
  fs.rmSync(tmp, { recursive: true, force: true })
  run(python, ["-c", EXTRACT_PY, path.join(wheels, whl), tmp])
  fs.writeFileSync(
    path.join(tmp, ".complete"),
    `${JSON.stringify({ project, version: tfVersion, wheel: whl, at: new Date().toISOString() })}\n`,
  )
  fs.rmSync(dir, { recursive: true, force: true })
  fs.renameSync(tmp, dir)
  // The libraries are all that is used; the wheel can be fetched again if needed.
  fs.rmSync(path.join(wheels, whl), { force: true })
  return dir
}

/** Lays the libraries and headers out as binding.gyp and scripts/install.js expect. */
function stageDeps(pkgDir, libDir) {
  const deps = path.join(pkgDir, "deps")
  const lib = path.join(deps, "lib")
  fs.rmSync(deps, { recursive: true, force: true })
  fs.mkdirSync(lib, { recursive: true })
  for (const f of ["libtensorflow_cc.so.2", "libtensorflow_framework.so.2"]) {
    linkOrCopy(path.join(libDir, "lib", f), path.join(lib, f))
  }
  // binding.gyp links -ltensorflow -ltensorflow_framework; the addon then records the
  // sonames (libtensorflow_cc.so.2, libtensorflow_framework.so.2) and finds them through its
  // rpath $ORIGIN/../../deps/lib. scripts/install.js skips its download when
  // deps/lib/libtensorflow.so.<LIBTENSORFLOW_VERSION> exists.
  let marker = "libtensorflow.so.2.9.1"
  try {
    marker = createRequire(path.join(pkgDir, "package.json"))(
      "./scripts/deps-constants.js",
    ).depsLibTensorFlowName
  } catch (e) {
    debug(`could not read deps-constants.js (${e.message}); using ${marker}`)
  }
  fs.symlinkSync("libtensorflow_cc.so.2", path.join(lib, "libtensorflow.so"))
  fs.symlinkSync("libtensorflow_framework.so.2", path.join(lib, "libtensorflow_framework.so"))
  if (marker !== "libtensorflow.so") fs.symlinkSync("libtensorflow_cc.so.2", path.join(lib, marker))
  fs.cpSync(path.join(libDir, "include"), path.join(deps, "include"), { recursive: true })
}

function findNodeGyp() {
  const candidates = [
    process.env.npm_config_node_gyp,
    process.env.npm_execpath &&
      path.join(
        path.dirname(process.env.npm_execpath),
        "..",
        "node_modules",
        "node-gyp",
        "bin",
        "node-gyp.js",
      ),
    path.join(
      path.dirname(process.execPath),
      "..",
      "lib",
      "node_modules",
      "npm",
      "node_modules",
      "node-gyp",
      "bin",
      "node-gyp.js",
    ),
    "/usr/lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js",
    "/usr/local/lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js",
  ]
  for (const c of candidates) if (c && fs.existsSync(c)) return c
  try {
    return rootRequire.resolve("node-gyp/bin/node-gyp.js")
  } catch {
    throw new StepError("node-gyp not found (it ships inside npm: node_modules/npm/node_modules/node-gyp)")
  }
}

function nodeDir() {
  // N-API addons build against any recent Node's headers: prefer local ones so that node-gyp
  // never tries to download them.
  const fromNpm = process.env.npm_config_nodedir
  if (fromNpm && fs.existsSync(path.join(fromNpm, "include", "node", "node_api.h"))) return fromNpm
  for (const dir of [path.join(path.dirname(process.execPath), ".."), "/usr", "/usr/local"]) {
    if (fs.existsSync(path.join(dir, "include", "node", "node_api.h"))) return path.resolve(dir)
  }
  return undefined
}

function buildAddon(pkgDir, napi) {
  const gyp = findNodeGyp()
  const modulePath = path.join(pkgDir, "lib", `napi-v${napi}`)
  const nodedir = nodeDir()
  if (!nodedir) debug("no local Node headers found; node-gyp will try to download them")
  log(`building the tfjs-node addon with node-gyp (N-API v${napi}) (${seconds()}) ...`)
  run(
    process.execPath,
    [
      gyp,
      "rebuild",
      ...(nodedir ? [`--nodedir=${nodedir}`] : []),
      `--napi_build_version=${napi}`,
      "--module_name=tfjs_binding",
      `--module_path=${modulePath}`,
      "-j",
      String(Math.max(1, os.availableParallelism?.() ?? os.cpus().length)),
    ],
    { cwd: pkgDir, timeout: 20 * 60_000 },
  )
  const addon = path.join(modulePath, "tfjs_binding.node")
  if (!fs.existsSync(addon)) throw new StepError(`node-gyp succeeded but ${addon} is missing`)
  return addon
}

function addonCacheDir(pkgDir, napi) {
  const tfjs = readJson(path.join(pkgDir, "package.json")).version
  return path.join(vendor, `tfjs-node-${tfjs}-tf${tfVersion}-napi${napi}-${process.platform}-${process.arch}`)
}

function fromCache(pkgDir, napi) {
  const cached = path.join(addonCacheDir(pkgDir, napi), "tfjs_binding.node")
  const libDir = path.join(vendor, `libtensorflow-${tfVersion}-${process.platform}-${process.arch}`)
  if (force || !fs.existsSync(cached) || !fs.existsSync(path.join(libDir, ".complete"))) return false
  stageDeps(pkgDir, libDir)
  const modulePath = path.join(pkgDir, "lib", `napi-v${napi}`)
  fs.mkdirSync(modulePath, { recursive: true })
  fs.copyFileSync(cached, path.join(modulePath, "tfjs_binding.node"))
  const check = addonLoads(pkgDir)
  if (check.ok) return true
  log(`cached addon did not load (${check.reason}); rebuilding`)
  fs.rmSync(path.dirname(cached), { recursive: true, force: true })
  return false
}

function fromPyPI(pkgDir, napi) {
  const libDir = ensureLibtensorflow()
  stageDeps(pkgDir, libDir)
  const addon = buildAddon(pkgDir, napi)
  const check = addonLoads(pkgDir)
  if (!check.ok) throw new StepError(`the built addon failed to load: ${check.reason}`)
  const cache = addonCacheDir(pkgDir, napi)
  fs.mkdirSync(cache, { recursive: true })
  fs.copyFileSync(addon, path.join(cache, "tfjs_binding.node"))
  // The build directory (object files) is not needed at run time.
  fs.rmSync(path.join(pkgDir, "build"), { recursive: true, force: true })
}

// ---------------------------------------------------------------- official install

async function officialHostReachable() {
  const base =
    process.env.TFJS_NODE_CDN_STORAGE || process.env.CDN_STORAGE || "https://storage.googleapis.com/"
  try {
    await fetch(base, { method: "HEAD", signal: AbortSignal.timeout(8000) })
    return true
  } catch {
    return false
  }
}

/** Runs the package's own (unapproved) install script: libtensorflow + prebuilt addon download. */
function officialInstall(pkgDir) {
  const script = readJson(path.join(pkgDir, "package.json")).scripts?.install
  if (!script) throw new StepError("the package has no install script")
  log(`official host reachable: running the package's own install (${script}) ...`)
  const bin = [path.join(pkgDir, "node_modules", ".bin"), path.join(root, "node_modules", ".bin")]
  run("sh", ["-c", script], {
    cwd: pkgDir,
    timeout: 20 * 60_000,
    env: { ...process.env, PATH: [...bin, process.env.PATH].join(path.delimiter) },
  })
  const check = addonLoads(pkgDir)
  if (!check.ok) throw new StepError(`installed but failed to load: ${check.reason}`)
}

// ---------------------------------------------------------------- main

function unavailable(reason) {
  console.log(
    `${TAG} native TensorFlow backend unavailable: ${reason}; runs will use wasm/cpu ` +
      '(backend "auto" picks the best one that loads). To retry: `npm run setup:native` ' +
      "(prints build output); to skip this step: COOPNETS_SKIP_NATIVE=1.",
  )
  process.exitCode = strict ? 1 : 0
}

async function ensureGpuPackage() {
  // Only when a user added @tensorflow/tfjs-node-gpu themselves (it is not a dependency): its
  // libtensorflow needs CUDA, so there is no PyPI recipe; the official install is tried.
  const gpuDir = packageDir(GPU_PACKAGE)
  if (!gpuDir) return
  if (!force && addonLoads(gpuDir).ok) {
    log(`${GPU_PACKAGE} loads (backend "tensorflow-gpu" available when a GPU is visible)`)
    return
  }
  if (source !== "pypi" && (await officialHostReachable())) {
    try {
      officialInstall(gpuDir)
      log(`${GPU_PACKAGE} installed`)
      return
    } catch (e) {
      log(`${GPU_PACKAGE}: ${e.message}`)
    }
  }
  log(`${GPU_PACKAGE} is present but its addon does not load; backend "tensorflow-gpu" is unavailable`)
}

async function main() {
  if (process.env.COOPNETS_SKIP_NATIVE === "1") {
    unavailable("skipped because COOPNETS_SKIP_NATIVE=1")
    process.exitCode = 0
    return
  }
  await ensureGpuPackage()
  const pkgDir = packageDir(CPU_PACKAGE)
  if (!pkgDir) {
    unavailable(`${CPU_PACKAGE} is not installed (optional dependency omitted or failed to install)`)
    return
  }
  if (!force) {
    const check = addonLoads(pkgDir)
    if (check.ok) {
      log(`${CPU_PACKAGE} already loads; backend "tensorflow" available (${seconds()})`)
      return
    }
    debug(`addon does not load yet: ${check.reason}`)
  }
  const napi = napiBuildVersion(pkgDir)
  if (fromCache(pkgDir, napi)) {
    log(
      `native backend ready from the .vendor/ cache (libtensorflow ${tfVersion}); backend "tensorflow" available (${seconds()})`,
    )
    return
  }
  const reasons = []
  if (source !== "pypi") {
    if (await officialHostReachable()) {
      try {
        officialInstall(pkgDir)
        log(`native backend ready via the official libtensorflow download (${seconds()})`)
        return
      } catch (e) {
        if (!(e instanceof StepError)) throw e
        reasons.push(`official install: ${e.message}`)
        log(`official install failed (${e.message}); trying PyPI`)
      }
    } else {
      debug("official libtensorflow host not reachable; using PyPI")
    }
  }
  if (source === "official") {
    unavailable(reasons.join("; ") || "official libtensorflow host not reachable")
    return
  }
  try {
    fromPyPI(pkgDir, napi)
    log(
      `native backend ready: ${CPU_PACKAGE} built against libtensorflow ${tfVersion} from PyPI, cached in .vendor/; backend "tensorflow" available (${seconds()})`,
    )
  } catch (e) {
    if (!(e instanceof StepError)) throw e
    reasons.push(e.message)
    unavailable(reasons.join("; "))
  }
}

main().catch((e) => unavailable(`unexpected error: ${e?.stack ?? e}`))
