"""The slot energy's design measurements: untrained error bits over (write rate ω, writing-energy
slot-norm factor λ), and where the failures at N = 16 come from.

    python benchmarks/slot_design.py [--patterns 10000] [--out benchmarks/results]

For each (ω, λ) the `slots` preset is rebuilt with write rate ω, curvature μ = ω (so the read's
fixed point is the stored code), read step 0.15·0.8/ω and λ, left untrained, and scored with the
library's protocol (``evaluate_binary``, seed 777) at N = 16…96 under erase:64 (free and clamped) and replace:64.
The failure classes (400 sets of N = 16, seed 5) sort every pattern that comes back wrong by the
slot its query selects: a slot shared with another pattern at writing, a free slot (captured),
or its own slot (then the read's least squares ended elsewhere). Writes ``slot_design.json`` and
``slot_design.md``. Not a test: about a minute on one core.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
import warnings
from pathlib import Path

import torch

from harness import git_info, write_results  # noqa: E402

import ebmm  # noqa: E402
from ebmm.energies.slots import _pieces  # noqa: E402
from ebmm.evaluation import evaluate_binary  # noqa: E402
from ebmm.presets import PRESETS  # noqa: E402
from ebmm.tasks import BinaryTask, Distortion  # noqa: E402

SETTINGS = [(0.8, 1.0), (0.7, 1.0), (0.8, 1.5), (0.6, 2.0), (0.5, 2.4), (0.4, 3.0)]
NS = (16, 32, 48, 64, 96)


def memory(w: float, lam: float) -> ebmm.AssociativeMemory:
    mcfg = PRESETS["slots"][0]
    energy = dataclasses.replace(mcfg.energy, kwargs={**mcfg.energy.kwargs, "curvature": w, "write_norm": lam})
    return ebmm.EnergyMemory(dataclasses.replace(
        mcfg, energy=energy, read=dataclasses.replace(mcfg.read, step_init=0.15 * 0.8 / w),
        write=dataclasses.replace(mcfg.write, rate_init=w)))


def failure_classes(mem: ebmm.AssociativeMemory, distortion: str, n: int = 16, sets: int = 400) -> dict[str, int]:
    """Count the patterns retrieved with errors at N = ``n``, by the slot their query selects."""
    task = BinaryTask(128, Distortion.parse(distortion))
    x, q = task.sample(sets, n, generator=torch.Generator().manual_seed(5))
    state = mem.write(x)
    r = torch.from_numpy(mem.read(q, state))
    fail = task.error(r, x) > 0
    static, slots = mem.params["static"], state.tensors["memory.weight"]
    own = _pieces(static, slots, x)[1].argmax(-1)  # (B, N): the slot each pattern was written to
    chosen = _pieces(static, slots, q)[1].argmax(-1)  # the slot each query selects
    shared = torch.zeros_like(fail)
    written = torch.zeros(sets, slots.shape[1], dtype=torch.bool)
    for b in range(sets):
        values, counts = own[b].unique(return_counts=True)
        shared[b] = torch.isin(own[b], values[counts > 1])
        written[b, own[b]] = True
    free = ~written.gather(1, chosen)
    return {"patterns": sets * n, "failing": int(fail.sum()), "slot shared at writing": int((fail & shared).sum()),
            "captured by a free slot": int((fail & free & ~shared).sum()),
            "own slot, least squares ended elsewhere": int((fail & (chosen == own) & ~shared).sum())}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--patterns", type=int, default=10_000, help="patterns per N and setting")
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results")
    args = ap.parse_args()
    torch.set_num_threads(1)
    warnings.simplefilter("ignore")
    t0 = time.time()
    rows = []
    for w, lam in SETTINGS:
        mem = memory(w, lam)
        row = {"write_rate": w, "write_norm": lam}
        for dist in ("erase:64", "replace:64"):
            row[dist] = {n: evaluate_binary(mem, n, dist, min_patterns=args.patterns, min_batches=64, seed=777).mean for n in NS}
        row["erase:64 clamped"] = {n: evaluate_binary(mem, n, "erase:64", min_patterns=args.patterns, min_batches=64, seed=777,
                                                      clamp_known=True).mean for n in NS}
        row["failures_n16_erase"] = failure_classes(mem, "erase:64")
        rows.append(row)
        print(w, lam, {d: [round(v, 3) for v in row[d].values()] for d in ("erase:64", "replace:64")}, row["failures_n16_erase"],
              flush=True)
    record = {"command": "python benchmarks/slot_design.py " + " ".join(sys.argv[1:]), "git": git_info(), "seconds": time.time() - t0,
              "patterns_per_n": args.patterns, "rows": rows}
    table = ["| ω | λ | erase:64, N = 16/32/48/64/96 | erase:64 clamped | replace:64 | N = 16 erase failures: shared / free / own |",
             "|---|---|---|---|---|---|"]
    for r in rows:
        f = r["failures_n16_erase"]
        table.append(f"| {r['write_rate']} | {r['write_norm']} | " + " / ".join(f"{v:.3f}" for v in r["erase:64"].values())
                     + " | " + " / ".join(f"{v:.3f}" for v in r["erase:64 clamped"].values())
                     + " | " + " / ".join(f"{v:.2f}" for v in r["replace:64"].values())
                     + f" | {f['slot shared at writing']} / {f['captured by a free slot']} / "
                       f"{f['own slot, least squares ended elsewhere']} of {f['patterns']} |")
    write_results(args.out, "slot_design", record, f"Slot energy design (untrained, {args.patterns} patterns per N)", table)


if __name__ == "__main__":
    main()
