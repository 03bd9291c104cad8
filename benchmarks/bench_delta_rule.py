"""Sequential against chunk-parallel (UT transform) delta-rule writes, side by side in one run.

    python benchmarks/bench_delta_rule.py                  # < 1 minute on one CPU thread
    python benchmarks/bench_delta_rule.py --patterns 64,256 --batch 16 --chunks 16,32,64

For each N it times :meth:`ebmm.models.DeltaRuleMemory.write` on one batch of B episodes of
random 128-bit patterns at the binary defaults (86 × 96 fast weights, encoder included), in
the sequential form (``chunk=0``) and the chunk-parallel one, forward only (``no_grad``) and
forward plus the backward pass of meta-training (the gradient of a scalar of the written state
with respect to every slow weight the write uses). The forms run interleaved, repeat by repeat, so that a
drift of the machine's speed hits both alike; the table gives medians and the ratio
sequential / chunked. Nothing is written to disk; the table goes to stdout.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from ebmm.models import DeltaRuleMemory
from ebmm.tasks import random_patterns


def _time(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--patterns", default="64,256", help="comma-separated N")
    ap.add_argument("--batch", type=int, default=16, help="episodes per batch")
    ap.add_argument("--chunks", default="32", help="comma-separated chunk sizes of the parallel form")
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    chunks = [int(c) for c in args.chunks.split(",")]
    print(f"torch {torch.__version__}, {args.threads} thread(s), B = {args.batch}, median of {args.repeats}\n")
    print("| N | pass | sequential (ms) | " + " | ".join(f"chunk {c} (ms) | ratio" for c in chunks) + " |")
    print("|---|---|---|" + "---|---|" * len(chunks))
    for n in (int(v) for v in args.patterns.split(",")):
        x = random_patterns((args.batch, n, 128), generator=torch.Generator().manual_seed(n))
        models = {"sequential": DeltaRuleMemory(max_patterns=n, chunk=0)} | {
            f"chunk {c}": DeltaRuleMemory(max_patterns=n, chunk=c) for c in chunks}
        params = models["sequential"].init_params()
        leaves = [t.requires_grad_() for g in ("encoder", "write") for t in params[g].values()]  # what the write uses

        def forward(model):
            with torch.no_grad():
                model.write(params, x)

        def backward(model):
            s = model.write(params, x)["fast_weights"]
            torch.autograd.grad(s.pow(2).sum(), leaves)

        for name, fn in (("write", forward), ("write + backward", backward)):
            for model in models.values():  # warm-up
                fn(model)
            times = {k: [] for k in models}
            for _ in range(args.repeats):
                for k, model in models.items():
                    times[k].append(_time(lambda: fn(model)))
            med = {k: statistics.median(v) * 1e3 for k, v in times.items()}
            cells = " | ".join(f"{med[f'chunk {c}']:.1f} | {med['sequential'] / med[f'chunk {c}']:.1f}×" for c in chunks)
            print(f"| {n} | {name} | {med['sequential']:.1f} | {cells} |")


if __name__ == "__main__":
    main()
