#!/usr/bin/env bash
# Trains a small real run, then checks what a person sees of it:
#   - its TensorBoard log, read back by TensorBoard's own reader (python3 + tensorboard), and
#   - its report.html and a comparison report, in headless Chromium (Debian's chromium);
# each check runs when its tool is installed and says so when it is not.
# Usage: scripts/report-checks.sh [screenshot-dir]   (needs `npm run build`)
set -euo pipefail
cd "$(dirname "$0")/.."
shots="${1:-}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
tiny=(--set training.iterations=12 --set output.sampleEvery=4 --set training.batchSize=16 --set training.chains=16
  --set 'model.descriptorChannels=[8,16,16]' --set 'model.generatorChannels=[32,16,8]' --set langevin.steps=5)
node dist/run.js config/mnist-quick.json "${tiny[@]}" --out "$work/a" > "$work/a.log" 2>&1 || { cat "$work/a.log"; exit 1; }
node dist/run.js config/mnist-no-teaching.json "${tiny[@]}" --out "$work/b" > "$work/b.log" 2>&1 || { cat "$work/b.log"; exit 1; }
node dist/run.js report "$work/a"
node dist/run.js report "$work/a" "$work/b" --out "$work/comparison.html"

if python3 -c "import tensorboard.backend.event_processing.event_accumulator" 2>/dev/null; then
  python3 scripts/check-tensorboard.py "$work/a"
else
  echo "report-checks: SKIPPED the TensorBoard check: python3 has no tensorboard package (pip install tensorboard)"
fi

chromium="${CHROMIUM:-/usr/bin/chromium}"
if [ -x "$chromium" ]; then
  a="$work/a/report.html" c="$work/comparison.html"
  if [ -n "$shots" ]; then mkdir -p "$shots"; a="$a=$shots/report.png" c="$c=$shots/comparison.png"; fi
  node scripts/report-browser-check.mjs "$a" "$c" --min-charts 7 --min-images 4 --chromium "$chromium"
else
  echo "report-checks: SKIPPED the browser check: no Chromium at $chromium (apt-get install chromium)"
fi
