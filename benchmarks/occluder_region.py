"""Issue 24: the image slot read's region prior (read options ``region``, ``region_share``) —
chosen on the *training* split, scored on held-out images under every fill and under
corruptions no memory was trained on.

    python benchmarks/occluder_region.py --memory omniglot-slots --select-fill mix --read candidates=8 --read recheck=4
    python benchmarks/occluder_region.py --memory omniglot-slots-grey --select-fill noise+binary+grey
    python benchmarks/occluder_region.py --dataset natural --patterns 16 --name natural-2304 \
        --memory results/ratedistortion-natural-fills/runs/image_slots-2304/best.safetensors    # colour patches, squared error

The detector judges each query pixel on its own against the chosen stored image's decoded
slot; a noise pixel agrees with that blurred image about half the time, so about half an
occluding square of noise stays trusted. An occluder is a region: ``region=W`` distrusts every
pixel whose W×W neighbourhood holds more than ``region_share`` distrusted pixels
(:func:`ebmm.energies.memory_trust.among_distrusted`). Nothing in it looks at pixel values or
at the square's size or shape.

1. **Selection** on training-split images (characters the held-out split never shows), under
   the fill the memory was trained on: the (W, share) with the lowest mean error.
2. **Held out**: every fill of the image task (16×16 squares, and 8×8 / 24×24 ones), without
   and with the chosen prior, the same images and squares for both.
3. **Shapes the prior was not chosen on** (binarised data): eight full rows of noise; pixels
   replaced by noise independently (10 % and 25 %: no region at all); 5 % of pixels flipped.

Writes ``occluder_region_NAME.json`` and ``.md``. Not a test.
"""

from __future__ import annotations

import argparse
import sys
import time

from harness import git_info, write_results  # noqa: E402
import read_selection  # noqa: E402

from ebmm.tasks.episodes import task_from_config  # noqa: E402

WINDOWS = (3, 5, 7, 9)
SHARES = (0.1, 0.15, 0.2, 0.3, 0.4)
SHAPES = ("rows of noise", "scattered noise 10 %", "scattered noise 25 %", "5 % flipped")
HELD_OUT = "noise:16,binary:16,zeros:16,ones:16,grey:16,patch:16,mix:16,noise:8,mix:8,noise:24,mix:24"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    read_selection.add_arguments(ap, select_images=256)
    ap.add_argument("--windows", default=",".join(map(str, WINDOWS)), help="region widths to try")
    ap.add_argument("--shares", default=",".join(map(str, SHARES)), help="region shares to try")
    ap.add_argument("--dataset", default="omniglot")
    ap.add_argument("--patterns", type=int, default=64, help="images stored per set")
    ap.add_argument("--fills", default=HELD_OUT, help="the held-out fills, comma-separated FILL:SIDE")
    args = ap.parse_args()
    t0 = time.time()
    memory, name = read_selection.load(args)
    base = memory.with_read_options(region=0)  # without the prior, whatever the file was exported with
    n = args.patterns
    task = task_from_config("images", base.model.dim, "noise:16", args.dataset)
    select = f"{args.select_fill}:16"
    grid = {(0, 0.0): read_selection.train_error(base, task, n, select, args.select_images)}
    windows, shares = [int(v) for v in args.windows.split(",")], [float(v) for v in args.shares.split(",")]
    for w in windows:
        for s in shares:
            m = memory.with_read_options(region=w, region_share=s)
            grid[(w, s)] = read_selection.train_error(m, task, n, select, args.select_images)
            print(f"train {select} region={w} share={s}: {grid[(w, s)]:.2f}", flush=True)
    (w, s) = min(grid, key=grid.get)
    chosen = memory.with_read_options(region=w, region_share=s) if w else base
    held = read_selection.held_out(base, chosen, task, n, args.fills.split(","), args.images)
    shapes = read_selection.shapes_side_by_side(base, chosen, task, n, args.images, SHAPES) if task.metric_kind == "hamming" else {}
    table = [f"Selection ({args.dataset}, training split, `{select}`, {args.select_images} images, {n} per set; mean {task.metric_kind} error per image, "
             "region = 0: without the prior):", "",
             "| region \\ share | " + " | ".join(str(s_) for s_ in shares) + " |", "|---|" + "---|" * len(shares),
             f"| 0 | {grid[(0, 0.0)]:.2f} |" + " |" * (len(shares) - 1)]
    table += [f"| {w_} | " + " | ".join(f"{grid[(w_, s_)]:.2f}" for s_ in shares) + " |" for w_ in windows]
    table += ["", f"Chosen: region = {w}, region_share = {s}. Held out ({args.images} images per fill, the same for both):", "",
              "| fill | without | with the region prior |", "|---|---|---|"]
    table += [f"| {f} | {a:.2f} | {b:.2f} |" for f, (a, b) in held.items()]
    if shapes:
        table += ["", f"Corruptions that are not one square ({max(1, args.images // n) * n} held-out images):", "",
                  "| corruption | query | without | with |", "|---|---|---|---|"]
        table += [f"| {k} | {v[0]:.1f} | {v[1]:.2f} | {v[2]:.2f} |" for k, v in shapes.items()]
    record = {"command": " ".join(sys.argv), "git": git_info(), "memory": args.memory, "dataset": args.dataset, "patterns": n, "select_fill": select,
              "selection": [{"region": k[0], "region_share": k[1], "error": v} for k, v in grid.items()],
              "chosen": {"region": w, "region_share": s}, "held_out": {f: {"without": a, "with": b} for f, (a, b) in held.items()},
              "other_shapes": {k: {"query": v[0], "without": v[1], "with": v[2]} for k, v in shapes.items()},
              "seconds": time.time() - t0}
    write_results(args.out, f"occluder_region_{name}", record, f"The read's region prior on {args.memory} (issue 24)", table)
    print("\n".join(table))


if __name__ == "__main__":
    main()
