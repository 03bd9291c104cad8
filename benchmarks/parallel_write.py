"""Issue 23, item 4: the slot memory's sequential write against the compressive slots' write in
one matrix product, on this machine, side by side in one run.

    python benchmarks/parallel_write.py [--episodes 16] [--ns 96,256] [--threads 1]

``slots`` (the shipped ``binary-erase`` design) writes one pattern per gradient step — N small
sequential steps; ``compressive`` (:class:`ebmm.energies.CompressiveSlotEnergy`) writes every
pattern into its slot by one step, all at once, and equals its own sequential form (writing in
parts, tested in ``tests/test_compressive.py``). For each N: the write alone (no gradient) and
the whole meta-step (write, read, loss and its gradient with respect to every meta-parameter),
median wall time of interleaved rounds. The ``slots`` energy holds 96 slots, so past N = 96 it
is timed for reference only (it overwrites). Writes ``parallel_write.json`` and
``parallel_write.md``. Not a test.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import warnings
from pathlib import Path

import torch

from harness import git_info, time_calls, write_results  # noqa: E402

from ebmm.models.ebmm import EBMM, meta_loss, write_batch  # noqa: E402
from ebmm.presets import PRESETS  # noqa: E402
from ebmm.tasks import Distortion, random_patterns  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--episodes", type=int, default=16)
    ap.add_argument("--ns", default="96,256")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    warnings.simplefilter("ignore")
    archs = {name: EBMM.from_config(PRESETS[name][0]) for name in ("slots", "compressive")}
    params = {name: a.init_params() for name, a in archs.items()}
    gen = torch.Generator().manual_seed(0)
    rows = []
    for n in (int(v) for v in args.ns.split(",")):
        x = random_patterns((args.episodes, n, 128), generator=gen)
        q = Distortion.parse("erase:64").apply(x, generator=gen)
        times = {name: {"write": [], "meta_step": []} for name in archs}
        for _ in range(args.rounds):
            for name, arch in archs.items():
                p = params[name]

                def write_only(arch=arch, p=p):
                    with torch.no_grad():
                        write_batch(arch, p, x)

                def meta_step(arch=arch, p=p):
                    torch.func.grad(lambda pp: meta_loss(arch, pp, x, q)[0])(p)

                times[name]["write"].append(statistics.median(time_calls(write_only, warmup=1, min_reps=3)))
                times[name]["meta_step"].append(statistics.median(time_calls(meta_step, warmup=1, min_reps=2)))
        for name in archs:
            w, m = statistics.median(times[name]["write"]), statistics.median(times[name]["meta_step"])
            rows.append({"preset": name, "N": n, "episodes": args.episodes, "write_s": w, "meta_step_s": m,
                         "write_vs_slots": w / statistics.median(times["slots"]["write"]),
                         "meta_step_vs_slots": m / statistics.median(times["slots"]["meta_step"])})
            print(rows[-1], flush=True)
    record = {"command": "python benchmarks/parallel_write.py " + " ".join(sys.argv[1:]), "git": git_info(),
              "threads": args.threads, "rows": rows}
    table = ["| preset | N | write (ms) | meta-step (ms) | write ÷ slots | meta-step ÷ slots |", "|---|---|---|---|---|---|"]
    for r in rows:
        table.append(f"| {r['preset']} | {r['N']} | {1e3 * r['write_s']:.1f} | {1e3 * r['meta_step_s']:.1f} | "
                     f"{r['write_vs_slots']:.3f} | {r['meta_step_vs_slots']:.3f} |")
    write_results(args.out, "parallel_write", record,
                  f"Sequential against one-product slot writes ({args.episodes} episodes, {args.threads} thread(s))", table)


if __name__ == "__main__":
    main()
