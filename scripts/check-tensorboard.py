#!/usr/bin/env python3
"""Reads a run's TensorBoard log with TensorBoard's own reader and checks it
against the run directory's files.

    python3 scripts/check-tensorboard.py runs/<name> [--allow-missing-images]

Expected from the run directory, stated here independently of the writer:
  scalars  every complete line of metrics.jsonl, step = iteration:
             energy/{observed,drafted,revised}, loss/{descriptor,generator,reconstructionError},
             memory/{tensors,rssMb}, ms/<stage>; evaluation lines: evaluation/<figure> and
             evaluation/<histogram>/<bin>  (None values are not written)
  images   samples/<kind>-NNNNNN.png -> tag samples/<kind>, step NNNNNN, the same PNG bytes
  text     tags "config" and "run" holding config.json and run.json
Exit 0 when everything is there with the same values (float32), 1 otherwise, 2 on usage errors.
"""
import json
import math
import os
import re
import struct
import sys

try:
    from tensorboard.backend.event_processing import event_accumulator
except ImportError:
    print("check-tensorboard: the python package tensorboard is not installed (pip install tensorboard)")
    sys.exit(2)

SKIP_FIGURES = {"count", "ms", "langevin", "samples"}


def f32(x):
    return struct.unpack("<f", struct.pack("<f", x))[0]


def expected_scalars(run_dir):
    out = {}  # tag -> {step: value}

    def put(tag, step, value):
        if value is None or not isinstance(value, (int, float)) or isinstance(value, bool):
            return
        if not math.isfinite(value):
            return
        out.setdefault(tag, {})[step] = f32(value)

    with open(os.path.join(run_dir, "metrics.jsonl"), encoding="utf8") as f:
        text = f.read()
    complete = text[: text.rfind("\n") + 1]
    for raw in complete.splitlines():
        if not raw.strip():
            continue
        line = json.loads(raw)
        step = line.get("iteration")
        if isinstance(line.get("energy"), dict) and isinstance(line.get("ms"), dict):
            for k in ("observed", "drafted", "revised"):
                put("energy/" + k, step, line["energy"].get(k))
            put("loss/descriptor", step, line.get("descriptorLoss"))
            put("loss/generator", step, line.get("generatorLoss"))
            put("loss/reconstructionError", step, line.get("reconstructionError"))
            memory = line.get("memory") or {}
            put("memory/tensors", step, memory.get("tensors"))
            put("memory/rssMb", step, memory.get("rssMb"))
            for stage, ms in line["ms"].items():
                put("ms/" + stage, step, ms)
        elif isinstance(line.get("evaluation"), dict):
            for k, v in line["evaluation"].items():
                if isinstance(v, list) and v and all(isinstance(x, (int, float)) for x in v):
                    for i, x in enumerate(v):
                        put("evaluation/%s/%d" % (k, i), step, x)
                elif k not in SKIP_FIGURES:
                    put("evaluation/" + k, step, v)
    return out


def expected_images(run_dir):
    out = {}  # tag -> {step: bytes}
    samples = os.path.join(run_dir, "samples")
    if not os.path.isdir(samples):
        return out
    for name in sorted(os.listdir(samples)):
        m = re.match(r"^([a-z][a-z0-9_]*)-(\d{6,})\.(png|gif)$", name, re.I)
        if m:
            with open(os.path.join(samples, name), "rb") as f:
                out.setdefault("samples/" + m.group(1), {})[int(m.group(2))] = f.read()
    return out


def main(argv):
    args = [a for a in argv if not a.startswith("--")]
    if len(args) != 1:
        print(__doc__)
        return 2
    run_dir = args[0]
    log_dir = os.path.join(run_dir, "tensorboard")
    if not os.path.isdir(log_dir):
        print("check-tensorboard: %s has no tensorboard/ directory" % run_dir)
        return 1
    acc = event_accumulator.EventAccumulator(
        log_dir,
        size_guidance={
            event_accumulator.SCALARS: 0,
            event_accumulator.IMAGES: 0,
            event_accumulator.TENSORS: 0,
        },
    )
    acc.Reload()
    tags = acc.Tags()
    problems = []

    want = expected_scalars(run_dir)
    points = 0
    for tag, by_step in sorted(want.items()):
        if tag not in tags["scalars"]:
            problems.append("scalar tag %s is missing" % tag)
            continue
        events = acc.Scalars(tag)
        got = {e.step: e.value for e in events}
        if len(got) != len(events):
            problems.append("scalar %s: %d events for %d steps (a step written twice)" % (tag, len(events), len(got)))
            continue
        if sorted(got) != sorted(by_step):
            missing = sorted(set(by_step) - set(got))
            extra = sorted(set(got) - set(by_step))
            problems.append("scalar %s: steps differ (missing %s, extra %s)" % (tag, missing[:5], extra[:5]))
            continue
        for step, value in by_step.items():
            if not math.isclose(got[step], value, rel_tol=1e-6, abs_tol=1e-30):
                problems.append("scalar %s step %d: %r in the log, %r in metrics.jsonl" % (tag, step, got[step], value))
                break
        points += len(by_step)
    extra_tags = sorted(set(tags["scalars"]) - set(want))
    if extra_tags:
        problems.append("scalar tags not in metrics.jsonl: %s" % extra_tags)

    images = expected_images(run_dir)
    image_count = 0
    if "--allow-missing-images" not in argv:
        for tag, by_step in sorted(images.items()):
            if tag not in tags["images"]:
                problems.append("image tag %s is missing" % tag)
                continue
            events = acc.Images(tag)
            got = {e.step: e for e in events}
            if len(got) != len(events):
                problems.append("image %s: %d images for %d steps (a step written twice)" % (tag, len(events), len(got)))
                continue
            for step, data in by_step.items():
                event = got.get(step)
                if event is None:
                    problems.append("image %s step %d is missing" % (tag, step))
                elif event.encoded_image_string != data:
                    problems.append("image %s step %d: bytes differ from the PNG file" % (tag, step))
                elif event.width <= 0 or event.height <= 0:
                    problems.append("image %s step %d: no size" % (tag, step))
            image_count += len(by_step)

    texts = {}
    for tag in ("config", "run"):
        if tag not in tags["tensors"]:
            problems.append("text tag %s is missing" % tag)
            continue
        events = acc.Tensors(tag)
        texts[tag] = events[-1].tensor_proto.string_val[0].decode("utf8")
    if "config" in texts:
        with open(os.path.join(run_dir, "config.json"), encoding="utf8") as f:
            config = json.load(f)
        body = texts["config"].split("```json\n", 1)[-1].rsplit("\n```", 1)[0]
        if json.loads(body) != config:
            problems.append("text config differs from config.json")

    if problems:
        print("check-tensorboard: %s: %d problem(s)" % (run_dir, len(problems)))
        for p in problems[:40]:
            print("  - " + p)
        return 1
    print(
        "check-tensorboard: %s: TensorBoard's reader sees %d scalar tags (%d points), %d image tags (%d images) and text tags %s, all as in the run's files"
        % (run_dir, len(want), points, len(images), image_count, sorted(texts))
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
