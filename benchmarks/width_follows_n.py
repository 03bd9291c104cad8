"""Issue 22's first measurement: the slot energy with its code width following N, untrained.

    python benchmarks/width_follows_n.py [--patterns 2000] [--steps 10,40] [--out benchmarks/results]

The shipped ``binary-erase`` holds 96 slots of 86 floats; past 96 patterns two must share a slot
and its error climbs (issue 22: 14.3 / 23.0 / 35.3 error bits at N = 128 / 160 / 256). Here the
same energy and read (the ``slots`` preset, untrained: θ̄, β, μ, λ and the step sizes at their
initial values) are rebuilt for each N with S = max(96, N) slots of c = min(⌊8256 / S⌋, 128)
floats — the same 8256-float budget, one slot per pattern, a narrower code as N grows — and
scored with the library's protocol (``evaluate_binary``, seed 777) under erase:64 and replace:64,
with the read's K steps as given, in the free protocol and clamped (the read told which bits the
query keeps, ``clamp_known``: under erasure those are the bits not at ½, which the query itself
shows). The shipped memories (``binary-erase``, ``binary-replace``, and under erasure the
learned baselines as shipped: trained at N ≤ 96) are scored beside it in the same run.

Writes ``width_follows_n.json`` and ``width_follows_n.md``. Not a test: minutes on one core.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
import warnings
from pathlib import Path

import torch

from harness import git_info  # noqa: E402

import ebmm  # noqa: E402
from ebmm.evaluation import evaluate_binary  # noqa: E402
from ebmm.presets import PRESETS  # noqa: E402

BUDGET = 8256
NS = (16, 32, 64, 96, 128, 160, 192, 256)
#: the shipped learned baselines (trained under erase:64 at N <= 96, issue 22 item 4 retrains them over N)
BASELINES = ["memory_networks-binary-erase", "modern_hopfield-binary-erase", "mann-binary-erase", "delta_rule-binary-erase"]


def layout(n: int) -> tuple[int, int]:
    """Slots and floats per slot for N patterns: one slot each, at least the shipped 96."""
    slots = max(96, n)
    return slots, min(BUDGET // slots, 128)


def memory(n: int, steps: int) -> ebmm.AssociativeMemory:
    mcfg = PRESETS["slots"][0]
    slots, code = layout(n)
    energy = dataclasses.replace(mcfg.energy, kwargs={**mcfg.energy.kwargs, "slots": slots, "code": code})
    return ebmm.EnergyMemory(dataclasses.replace(mcfg, energy=energy, read=dataclasses.replace(mcfg.read, steps=steps),
                                                 max_patterns=max(n, mcfg.max_patterns)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--patterns", type=int, default=2000, help="held-out patterns per N")
    ap.add_argument("--steps", default="10,100", help="read steps K to try, comma-separated")
    ap.add_argument("--ns", default=",".join(map(str, NS)))
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results")
    args = ap.parse_args()
    torch.set_num_threads(1)
    warnings.simplefilter("ignore")
    ns = [int(v) for v in args.ns.split(",")]
    t0 = time.time()
    rows = []
    for dist in ("erase:64", "replace:64"):
        shipped = ["binary-erase" if dist == "erase:64" else "binary-replace"]
        for name in shipped + (BASELINES if dist == "erase:64" else []):
            row = {"system": f"{name} (shipped, trained)", "distortion": dist,
                   "errors": {n: evaluate_binary(ebmm.load(name), n, dist, min_patterns=args.patterns, seed=777).mean for n in ns}}
            rows.append(row)
            print(row, flush=True)
        for clamp in (False, True):
            for k in (int(v) for v in args.steps.split(",")):
                name = f"slots, width follows N, untrained, K = {k}" + (", clamped" if clamp else "")
                row = {"system": name, "distortion": dist, "read_steps": k, "clamp_known": clamp, "layout": {n: layout(n) for n in ns},
                       "errors": {n: evaluate_binary(memory(n, k), n, dist, min_patterns=args.patterns, seed=777,
                                                     clamp_known=clamp).mean for n in ns}}
                rows.append(row)
                print(row, flush=True)
    record = {"command": "python benchmarks/width_follows_n.py " + " ".join(sys.argv[1:]), "git": git_info(),
              "seconds": time.time() - t0, "patterns_per_n": args.patterns, "budget_floats": BUDGET, "rows": rows}
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "width_follows_n.json").write_text(json.dumps(record, indent=2))
    lines = [f"# Slot energy, code width following N ({BUDGET} floats, {args.patterns} held-out patterns per N)", "",
             f"`{record['command'].strip()}` — git {str(record['git'].get('commit', ''))[:10]}. "
             "Layout S × c per N: " + ", ".join(f"{n}: {s}×{c}" for n, (s, c) in ((n, layout(n)) for n in ns)) + ".", "",
             "| system | distortion | " + " | ".join(f"N = {n}" for n in ns) + " |", "|---|---|" + "---|" * len(ns)]
    for r in rows:
        lines.append(f"| {r['system']} | {r['distortion']} | " + " | ".join(f"{r['errors'][n]:.2f}" for n in ns) + " |")
    (args.out / "width_follows_n.md").write_text("\n".join(lines) + "\n")
    print(f"wrote {args.out}/width_follows_n.json, .md")


if __name__ == "__main__":
    main()
