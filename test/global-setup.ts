/** Builds dist/ once so the CLI tests run the real `node dist/run.js`. */
import { execFileSync } from "node:child_process"

export default function setup(): void {
  execFileSync("npx", ["tsc", "-p", "tsconfig.build.json"], { stdio: "inherit" })
}
