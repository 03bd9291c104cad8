"""Issue 22: the compressive memory's candidate read against one descent, on corruptions it was
not chosen on — a sceptical reviewer's check that the candidates do not only fit the benchmark.

    python benchmarks/candidate_read.py [--memory binary-compressive] [--distortions flip:16,zero:48,erase:96,replace:32]

The same weights read two ways (``candidates=0``: one descent; the memory's own ``candidates``),
the same patterns and queries for both: ``sets`` sets of N random 128-bit patterns per N and
corruption. Writes ``candidate_read_NAME.json`` and ``.md``. Not a test.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

from harness import git_info, write_results  # noqa: E402

import ebmm  # noqa: E402
from ebmm.tasks import Distortion, error_bits, random_patterns  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--memory", default="binary-compressive", help="a compressive memory read with candidates")
    ap.add_argument("--distortions", default="flip:16,zero:48,erase:96,replace:32")
    ap.add_argument("--ns", default="64,128,192,256")
    ap.add_argument("--sets", type=int, default=8)
    ap.add_argument("--seed", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    memory = ebmm.load(args.memory)
    candidates = memory.config.energy.kwargs.get("candidates", 0)
    one = memory.with_read_options(candidates=0)
    rows = []
    for spec in args.distortions.split(","):
        for n in (int(v) for v in args.ns.split(",")):
            gen = torch.Generator().manual_seed(args.seed + n)
            x = random_patterns((args.sets, n, memory.dim), generator=gen)
            q = Distortion.parse(spec).apply(x, generator=gen)
            errs = [float(error_bits(torch.as_tensor(m.read(q.numpy(), m.write(x.numpy()))), x).mean()) for m in (one, memory)]
            rows.append({"distortion": spec, "n": n, "query": float(error_bits(q, x).mean()), "one_descent": errs[0],
                         "candidates": errs[1]})
            print(rows[-1], flush=True)
    table = [f"| corruption | N | query | one descent | {candidates} candidates |", "|---|---|---|---|---|"]
    table += [f"| {r['distortion']} | {r['n']} | {r['query']:.1f} | {r['one_descent']:.2f} | {r['candidates']:.2f} |" for r in rows]
    name = Path(args.memory).stem if "/" in args.memory else args.memory
    record = {"command": "python benchmarks/candidate_read.py " + " ".join(sys.argv[1:]), "git": git_info(),
              "memory": args.memory, "candidates": candidates, "sets": args.sets, "seed": args.seed, "rows": rows}
    write_results(args.out, f"candidate_read_{name}", record,
                  f"{name}: one descent against {candidates} candidates on other corruptions (error bits, {args.sets} sets per N)", table)


if __name__ == "__main__":
    main()
