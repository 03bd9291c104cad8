"""Issue 24: how many stored images the image slot read considers for each query — read options
``candidates`` (the slots the ranking keeps) and ``recheck`` (how many of those the query's
likelihood then judges) — chosen on the *training* split, scored on held-out images.

    python benchmarks/choice_search.py --memory omniglot-slots --select-fill mix --read candidates=8 --read recheck=4
    python benchmarks/choice_search.py --memory results/runs/omniglot-slots-2304/best.safetensors --name omniglot-slots-2304 \
        --read recheck=4 --read region=3 --read region_share=0.1      # a run's checkpoint, read as the shipped memory is

With the region prior on (benchmarks/occluder_region.py), most of what is left of the free
protocol's error is the wrong stored image chosen: each wrong choice costs 65–80 pixels. The
ranking's first 8 and the matcher's best 4 were chosen before the trust could be judged
whole; this measures wider searches — each rechecked candidate costs one more Gaussian read
plan (a Cholesky factorisation per query), so the read's time is reported beside its error.

1. **Selection** on training-split images under the memory's training fill: the (candidates,
   recheck) with the lowest mean error.
2. **Held out**: every fill, the memory as loaded (its file's pair, or ``--read``'s) and with
   the chosen pair, the same images. The shipped ``omniglot-slots`` now carries the chosen pair:
   ``--read candidates=8 --read recheck=4`` scores it as it was before the search.

Writes ``choice_search_NAME.json`` and ``.md``. Not a test.
"""

from __future__ import annotations

import argparse
import sys
import time


from harness import git_info, write_results  # noqa: E402
import read_selection  # noqa: E402

from ebmm.tasks.episodes import task_from_config  # noqa: E402

PAIRS = ((8, 1), (8, 4), (8, 8), (16, 8), (16, 16), (32, 16), (32, 32))
HELD_OUT = ("noise:16", "binary:16", "zeros:16", "ones:16", "grey:16", "patch:16", "mix:16")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    read_selection.add_arguments(ap, select_images=512)
    args = ap.parse_args()
    t0 = time.time()
    base, name = read_selection.load(args)
    kw = base.config.energy.kwargs
    shipped = (kw.get("candidates", 0), kw.get("recheck", 1))
    task = task_from_config("images", 1024, "noise:16", "omniglot")
    select = f"{args.select_fill}:16"
    grid = {}
    for c, r in PAIRS:
        t = time.time()
        err = read_selection.train_error(base.with_read_options(candidates=c, recheck=r), task, 64, select, args.select_images)
        grid[(c, r)] = (err, (time.time() - t) / args.select_images * 1e3)
        print(f"train {select} candidates={c} recheck={r}: {err:.2f} ({grid[(c, r)][1]:.1f} ms per image)", flush=True)
    c, r = min(grid, key=lambda k: grid[k][0])
    chosen = base.with_read_options(candidates=c, recheck=r)
    held = read_selection.held_out(base, chosen, task, 64, list(HELD_OUT), args.images)
    table = [f"Selection (training split, `{select}`, {args.select_images} images; mean Hamming error per image, and the "
             "evaluation's time per image on this machine, write and read, one thread):", "",
             "| candidates | recheck | error | ms per image |", "|---|---|---|---|"]
    table += [f"| {k[0]} | {k[1]} | {v[0]:.2f} | {v[1]:.1f} |" for k, v in grid.items()]
    table += ["", f"Shipped: candidates = {shipped[0]}, recheck = {shipped[1]}; chosen: candidates = {c}, recheck = {r}. "
              f"Held out ({args.images} images per fill, the same for both):", "",
              "| fill | shipped | chosen |", "|---|---|---|"]
    table += [f"| {f} | {a:.2f} | {b:.2f} |" for f, (a, b) in held.items()]
    record = {"command": " ".join(sys.argv), "git": git_info(), "memory": args.memory, "select_fill": select,
              "shipped": {"candidates": shipped[0], "recheck": shipped[1]},
              "selection": [{"candidates": k[0], "recheck": k[1], "error": v[0], "ms_per_image": v[1]} for k, v in grid.items()],
              "chosen": {"candidates": c, "recheck": r}, "held_out": {f: {"shipped": a, "chosen": b} for f, (a, b) in held.items()},
              "seconds": time.time() - t0}
    write_results(args.out, f"choice_search_{name}", record, f"How many stored images the read considers, {args.memory} (issue 24)", table)
    print("\n".join(table))


if __name__ == "__main__":
    main()
