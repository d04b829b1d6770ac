#!/usr/bin/env python3
"""Step-by-step parity of the project's CoopNets iteration with the PyTorch reference.

    python3 scripts/parity/compare_steps.py [--iterations 3] [--seed 1] [--noise] [--out runs/parity]

Runs scripts/parity/project-steps.mjs (the project's nets, initialisation and math through
dist/), loads the project's initial weights into the reference's nets
(../shared/reference/coopnets_ref.py: DescriptorMNIST, GeneratorMNIST, langevin_revise, its
losses and torch.optim.Adam with the official settings), replays the same iterations on the
same observed batches and latent vectors (Langevin noise off, or with --noise the project's
own noise draws added by both), and prints, stage by stage, how far the two are apart:
relative L2 difference ‖a − b‖/‖b‖ and the largest absolute difference of drafts, revised
samples, losses, every gradient and every weight after each Adam step. Exit code 1 if any
relative difference exceeds --tolerance (default 1e-3).
"""
import argparse
import importlib.util
import json
import os
import subprocess
import sys

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
REF = os.environ.get("COOPNETS_REFERENCE", os.path.join(ROOT, "..", "shared", "reference", "coopnets_ref.py"))

ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
ap.add_argument("--iterations", type=int, default=3)
ap.add_argument("--seed", type=int, default=1)
ap.add_argument("--noise", action="store_true")
ap.add_argument("--out", default=os.path.join(ROOT, "runs", "parity"))
ap.add_argument("--tolerance", type=float, default=1e-3)
ap.add_argument("--threads", type=int, default=2)
ap.add_argument("--skip-project", action="store_true", help="reuse the project's files already in --out")
args = ap.parse_args()

spec = importlib.util.spec_from_file_location("coopnets_ref", REF)
ref = importlib.util.module_from_spec(spec)
spec.loader.exec_module(ref)
torch.set_num_threads(args.threads)

if not args.skip_project:
    cmd = ["node", os.path.join(HERE, "project-steps.mjs"), args.out, "--iterations", str(args.iterations), "--seed", str(args.seed)]
    if args.noise:
        cmd.append("--noise")
    subprocess.run(cmd, check=True)


def load(name):
    return np.load(os.path.join(args.out, name + ".npy"))


def nchw(a):  # NHWC → NCHW
    return torch.from_numpy(np.ascontiguousarray(a.transpose(0, 3, 1, 2)))


def kernel(a):  # tfjs conv [k,k,in,out] → torch [out,in,k,k]; tfjs convT [k,k,out,in] → torch [in,out,k,k]
    return torch.from_numpy(np.ascontiguousarray(a.transpose(3, 2, 0, 1)))


D = ref.DescriptorMNIST(64, 100)
G = ref.GeneratorMNIST(100, 512)
# (reference module, parameter) ← project parameter name; and back, for the comparison
D_NAMES = {"conv1": "c1", "conv2": "c2", "conv3": "c3", "fc": "fc"}
G_NAMES = {"deconv1": ("t1", "b1"), "deconv2": ("t2", "b2"), "deconv3": ("t3", "b3"), "deconv4": ("t4", None)}


def d_param(name):  # project "conv1__w" → torch Parameter
    layer, p = name.split("__")
    mod = getattr(D, D_NAMES[layer])
    return mod.weight if p == "w" else mod.bias


def g_param(name):
    layer, p = name.split("__")
    conv, bn = G_NAMES[layer]
    if p == "w":
        return getattr(G, conv).weight
    if p == "beta":
        return getattr(G, bn).beta
    return getattr(G, conv).bias


def to_project_layout(name, t):
    a = t.detach().numpy()
    return a.transpose(2, 3, 1, 0) if name.endswith("__w") else a


def names(prefix):
    return sorted(f[len(prefix):-4] for f in os.listdir(args.out) if f.startswith(prefix) and f.endswith(".npy"))


with torch.no_grad():
    for n in names("init.D."):
        d_param(n).copy_(kernel(load("init.D." + n)) if n.endswith("__w") else torch.from_numpy(load("init.D." + n)))
    for n in names("init.G."):
        g_param(n).copy_(kernel(load("init.G." + n)) if n.endswith("__w") else torch.from_numpy(load("init.G." + n)))
    for conv in ["t1", "t2", "t3"]:  # the reference's conv bias before batch norm (cancelled by it) starts at 0
        getattr(G, conv).bias.zero_()

opt_d = torch.optim.Adam(D.parameters(), lr=0.007, betas=(0.5, 0.999), eps=1e-8)
opt_g = torch.optim.Adam(G.parameters(), lr=1e-4, betas=(0.5, 0.999), eps=1e-8)
K, delta, refsig, sigma = 15, 0.002, 0.016, 0.3
chains = 144

rows = []
worst = 0.0


def compare(what, mine, theirs, lr=None):
    """Checked against the tolerance: forward values, losses and gradients of the first
    iteration (identical inputs and weights on both sides). Not checked: the weights after
    Adam (its first steps move every weight by about ±lr whatever the gradient's size, so a
    float-noise gradient of opposite sign flips an element by 2·lr; shown in units of lr and
    as the fraction of elements more than lr/2 apart), later iterations (they start from
    those weights), and ∂L_D/∂fc_b: exactly 0 in exact arithmetic (the bias shifts f(X_obs)
    and f(X̂) alike), so both sides hold float noise, which Adam turns into a ±lr random walk
    of a constant energy offset on both sides alike."""
    global worst
    a, b = np.asarray(mine, np.float64), np.asarray(theirs, np.float64)
    rel = float(np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-30))
    mx = float(np.abs(a - b).max())
    extra = ""
    if lr is not None:
        extra = f"{mx / lr:6.2f} lr, {np.mean(np.abs(a - b) > lr / 2) * 100:5.2f}% > lr/2"
    checked = what.startswith("t0 ") and lr is None and "fc__b" not in what
    rows.append((what, rel, mx, float(np.abs(b).max()), extra, checked))
    if checked:
        worst = max(worst, rel)


def revise(X, t):
    if not args.noise:
        return ref.langevin_revise(D, X, K, delta, refsig, False, None)
    # the reference's update with the project's noise draws
    Y = X.detach()
    a = 0.5 * delta * delta
    for s in range(K):
        Y.requires_grad_(True)
        g, = torch.autograd.grad(D(Y).sum(), Y)
        with torch.no_grad():
            Y = Y - a * (Y / (refsig * refsig) - g) + nchw(load(f"t{t}.noise{s}"))
    return Y.detach()


for t in range(args.iterations):
    obs = nchw(load(f"t{t}.obs"))
    z = torch.from_numpy(load(f"t{t}.z"))
    with torch.no_grad():
        X = G(z)
    compare(f"t{t} drafts g(z)", X.permute(0, 2, 3, 1), load(f"t{t}.X"))
    Y = revise(X, t)
    compare(f"t{t} revised X̂ (15 Langevin steps)", Y.permute(0, 2, 3, 1), load(f"t{t}.Y"))
    compare(f"t{t}   revised − drafts", (Y - X).permute(0, 2, 3, 1), load(f"t{t}.Y") - load(f"t{t}.X"))
    scalars = json.load(open(os.path.join(args.out, f"t{t}.scalars.json")))
    # D2: descriptor update
    opt_d.zero_grad(set_to_none=True)
    e = ref.energy(D, torch.cat([Y, obs], 0))
    loss_d = e[:chains].mean() - e[chains:].mean()
    loss_d.backward()
    compare(f"t{t} L_D", [loss_d.item()], [scalars["lossD"]])
    for n in names(f"t{t}.gradD."):
        compare(f"t{t} ∂L_D/∂{n}", to_project_layout(n, d_param(n).grad), load(f"t{t}.gradD.{n}"))
    opt_d.step()
    for n in names(f"t{t}.D."):
        compare(f"t{t} D {n} after Adam", to_project_layout(n, d_param(n)), load(f"t{t}.D.{n}"), 0.007)
    # G2: generator update toward the revised samples, same z
    opt_g.zero_grad(set_to_none=True)
    loss_g = (Y - G(z)).pow(2).flatten(1).sum(1).mean() / (2 * sigma * sigma)
    loss_g.backward()
    compare(f"t{t} L_G", [loss_g.item()], [scalars["lossG"]])
    for n in names(f"t{t}.gradG."):
        compare(f"t{t} ∂L_G/∂{n}", to_project_layout(n, g_param(n).grad), load(f"t{t}.gradG.{n}"))
    opt_g.step()
    for n in names(f"t{t}.G."):
        compare(f"t{t} G {n} after Adam", to_project_layout(n, g_param(n)), load(f"t{t}.G.{n}"), 1e-4)

print(f"  {'quantity':46s} {'rel. L2 diff':>12s} {'max |diff|':>11s} {'max |value|':>11s}")
for what, rel, mx, scale, extra, checked in rows:
    print(f"{'*' if checked else ' '} {what:46s} {rel:12.2e} {mx:11.2e} {scale:11.2e}  {extra}")
print(f"largest relative difference of the checked (*) quantities: {worst:.2e} (tolerance {args.tolerance:g})")
sys.exit(0 if worst <= args.tolerance else 1)
