"""Issue 22, item 5: what a write and a read cost, the compressive memory against Memory Networks
and the shipped ``binary-erase``, measured side by side in one run.

    python benchmarks/compressive_cost.py [--memory binary-compressive] [--sets 32] [--ns 64,256]
    python benchmarks/compressive_cost.py --also delta_rule-binary-erase,delta_rule-box-binary-erase \
        --stem fast_weights_cost          # the fast-weight memories beside them (issue 23's README section)

For each N: ``sets`` sets of N random 128-bit patterns written through the public API
(``memory.write``) and read back from ``erase:64`` queries (``memory.read``), median wall time of
several calls per memory, interleaved memory by memory so that load on a shared machine hits
all alike. Reports the medians, the ratio to Memory Networks, and the write time per pattern.
Writes ``compressive_cost.json`` and ``compressive_cost.md``. Not a test.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import warnings
from pathlib import Path

import torch

from harness import git_info, time_calls, write_results  # noqa: E402

import ebmm  # noqa: E402
from ebmm.tasks import Distortion, random_patterns  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--memory", default="binary-compressive", help="the memory measured (a shipped name or a file)")
    ap.add_argument("--sets", type=int, default=32, help="sets written per call (the evaluation's batch)")
    ap.add_argument("--ns", default="64,256")
    ap.add_argument("--also", default="", help="comma-separated further memories measured in the same run")
    ap.add_argument("--stem", default="compressive_cost", help="name of the result files")
    ap.add_argument("--rounds", type=int, default=5, help="interleaved rounds; each takes the median of 3 calls")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    warnings.simplefilter("ignore")
    names = [args.memory, "binary-erase", *filter(None, args.also.split(",")), "memory_networks-binary-erase"]
    memories = {n: ebmm.load(n) for n in names}
    gen = torch.Generator().manual_seed(0)
    rows = []
    for n in (int(v) for v in args.ns.split(",")):
        x = random_patterns((args.sets, n, 128), generator=gen)
        q = Distortion.parse("erase:64").apply(x, generator=gen)
        xs, qs = x.numpy(), q.numpy()
        states = {name: m.write(xs) for name, m in memories.items()}
        write_t = {name: [] for name in names}
        read_t = {name: [] for name in names}
        for _ in range(args.rounds):
            for name, m in memories.items():
                write_t[name].append(statistics.median(time_calls(lambda m=m: m.write(xs), warmup=1, min_reps=3)))
                read_t[name].append(statistics.median(time_calls(lambda m=m, s=states[name]: m.read(qs, s), warmup=1, min_reps=3)))
        ref_w, ref_r = statistics.median(write_t[names[-1]]), statistics.median(read_t[names[-1]])
        for name in names:
            w, r = statistics.median(write_t[name]), statistics.median(read_t[name])
            rows.append({"memory": name, "N": n, "sets": args.sets, "write_s": w, "read_s": r, "write_vs_memory_networks": w / ref_w,
                         "read_vs_memory_networks": r / ref_r, "write_us_per_pattern": 1e6 * w / (n * args.sets)})
            print(rows[-1], flush=True)
    record = {"command": "python benchmarks/compressive_cost.py " + " ".join(sys.argv[1:]), "git": git_info(),
              "threads": args.threads, "rows": rows}
    table = ["| memory | N | write (ms) | read (ms) | write ÷ Memory Networks | read ÷ Memory Networks | write per pattern (µs) |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        table.append(f"| {r['memory']} | {r['N']} | {1e3 * r['write_s']:.2f} | {1e3 * r['read_s']:.2f} | "
                     f"{r['write_vs_memory_networks']:.2f} | {r['read_vs_memory_networks']:.2f} | {r['write_us_per_pattern']:.2f} |")
    write_results(args.out, args.stem, record,
                  f"Write and read cost ({args.sets} sets per call, {args.threads} thread(s), medians of interleaved rounds)", table)


if __name__ == "__main__":
    main()
