"""Issue 24, like for like: every image memory under corruptions that are not one square.

    python benchmarks/shapes_every_system.py \
        --system "EBMM image slots=omniglot-slots" \
        --system "Memory Networks=results/ratedistortion-omniglot-mn-grey-patch/runs/memory_networks-9216" \
        --system "MANN=results/ratedistortion-omniglot-mann/runs/mann-9216"

Each system stores the same held-out Omniglot sets (``--patterns`` images each, ``--images`` in
all) and reads the same corrupted copies — rows of noise or zeros, a disc of noise or ones,
pixels replaced by noise one by one (10 % and 25 %), 5 % of the pixels flipped
(:data:`read_selection.SHAPES`). No system is told where the corruption is (the free
protocol), and none was trained on these shapes: all were meta-trained on ``mix:16`` squares.
The square fills themselves are Figure 3's rows.

Writes ``shapes_every_system.json`` and ``.md`` (mean Hamming error per image). Not a test.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from pathlib import Path

import torch

from harness import git_info, write_results  # noqa: E402
import read_selection  # noqa: E402

import ebmm  # noqa: E402
from ebmm.tasks.episodes import task_from_config  # noqa: E402


def parse_system(spec: str) -> tuple[str, str]:
    """``"LABEL=MEMORY"`` (a shipped name or a run's path) -> ``(LABEL, MEMORY)``."""
    label, sep, memory = spec.partition("=")
    if not sep or not label or not memory:
        raise argparse.ArgumentTypeError(f"--system takes LABEL=MEMORY (a shipped name or a run's path), got {spec!r}")
    return label, memory


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--system", action="append", type=parse_system, required=True, metavar="LABEL=MEMORY")
    ap.add_argument("--dataset", default="omniglot")
    ap.add_argument("--patterns", type=int, default=64, help="images stored per memory")
    ap.add_argument("--images", type=int, default=512, help="held-out images per corruption")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    t0 = time.time()
    task = task_from_config("images", 1024, "noise:16", args.dataset)
    x = read_selection.held_out_images(task, args.patterns, args.images)
    scores, sizes = {}, {}
    for label, name in args.system:
        memory = ebmm.load(name)
        sizes[label] = memory.memory_size()
        print(f"{label} ({name}, {sizes[label]} floats)", flush=True)
        scores[label] = read_selection.other_shapes(memory, x, read_selection.SHAPES_SEED)  # the same corruptions for every system
    query = {k: v[0] for k, v in next(iter(scores.values())).items()}
    labels = [label for label, _ in args.system]
    table = [f"{args.dataset.capitalize()}, {x.shape[0] * x.shape[1]} held-out images, {args.patterns} stored per memory; "
             "mean Hamming error per image, free protocol (no system is told where the corruption is):", "",
             "| corruption | query | " + " | ".join(f"{label} ({sizes[label]} floats)" for label in labels) + " |",
             "|---|---|" + "---|" * len(labels)]
    table += [f"| {k} | {query[k]:.1f} | " + " | ".join(f"{scores[label][k][1]:.2f}" for label in labels) + " |" for k in query]
    record = {"command": shlex.join(sys.argv), "git": git_info(), "dataset": args.dataset, "patterns": args.patterns,
              "images": int(x.shape[0] * x.shape[1]), "systems": dict(args.system), "memory_size": sizes, "query": query,
              "error": {label: {k: v[1] for k, v in scores[label].items()} for label in labels}, "seconds": time.time() - t0}
    write_results(args.out, "shapes_every_system", record, "Every image memory under corruptions that are not one square (issue 24)", table)
    print("\n".join(table))


if __name__ == "__main__":
    main()
