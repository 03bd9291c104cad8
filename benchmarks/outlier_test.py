"""Issue 24: the image slot read's leave-one-out test (read options ``loo_z``, ``loo_count``) —
calibrated on clean training queries, scored on held-out images under every square fill and
under corruptions of other shapes.

    python benchmarks/outlier_test.py --memory omniglot-slots
    python benchmarks/outlier_test.py --memory results/runs/omniglot-slots-2304 --name slots-2304-ring \
        --read candidates=16 --read recheck=16 --read region=3 --read region_share=0.1 --read region_keep=4 \
        --read rerank=true --read 'choice_weights=[...]'

1. **Calibration** (:func:`ebmm.meta.outlier_test.calibrate_leave_one_out`): ``--episodes``
   training-split episodes of 64 images, each read back *unchanged*; at ``loo_z`` = 5,
   ``loo_count`` is the 98th percentile of how many of a clean query's trusted pixels exceed it.
   No corruption is seen.
2. **Held out**: every square fill, and every corruption of :data:`read_selection.SHAPES`
   (rows, discs, scattered noise, flipped pixels), without the test and with it, the same
   images and corruptions for both (free protocol: no mask).

Writes ``outlier_test_NAME.json`` and ``.md``. Not a test.
"""

from __future__ import annotations

import argparse
import sys
import time

from harness import git_info, write_results  # noqa: E402
import read_selection  # noqa: E402

from ebmm.meta.outlier_test import calibrate_leave_one_out  # noqa: E402
from ebmm.tasks.episodes import task_from_config  # noqa: E402



def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    read_selection.add_arguments(ap, select_images=0)
    ap.add_argument("--episodes", type=int, default=8, help="clean training episodes of 64 images to calibrate on")
    read_selection.add_held_out(ap)
    ap.add_argument("--no-shapes", action="store_true", help="score the square fills alone")
    args = ap.parse_args()
    t0 = time.time()
    memory, name = read_selection.load(args)
    base = memory.with_read_options(loo_z=0.0, loo_count=0)
    task = task_from_config("images", 1024, "noise:16", "omniglot")
    cal = calibrate_leave_one_out(base.model, base.params, task, episodes=args.episodes)
    print(f"calibrated: loo_z = {cal.z:.3f}, loo_count = {cal.count} ({cal.pixels} trusted pixels of {cal.queries} clean queries)", flush=True)
    chosen = base.with_read_options(**cal.read_options())
    held = read_selection.held_out(base, chosen, task, 64, [f for f in args.held_out.split(",") if f], args.images)
    shapes = {} if args.no_shapes else read_selection.shapes_side_by_side(base, chosen, task, 64, args.images)
    reproduce = f"--read loo_z={cal.z:.6g} --read loo_count={cal.count}"
    table = [f"Calibrated on {cal.queries} clean training queries ({cal.pixels} trusted pixels): `{reproduce}`.", "",
             f"Held out ({args.images} images per row, the same for both; mean Hamming error per image; no mask: the memory finds the "
             "corruption; neither the memory nor the calibration saw any of these):", "",
             "| corruption | query | without the test | with the test |", "|---|---|---|---|"]
    table += read_selection.side_by_side_rows(held, shapes)
    record = {"command": " ".join(sys.argv), "git": git_info(), "memory": args.memory, "read": args.read,
              "calibration": {"loo_z": cal.z, "loo_count": cal.count, "trusted_pixels": cal.pixels, "queries": cal.queries},
              "held_out": {f: {"without": a, "with": b} for f, (a, b) in held.items()},
              "other_shapes": {k: {"query": v[0], "without": v[1], "with": v[2]} for k, v in shapes.items()},
              "seconds": time.time() - t0}
    write_results(args.out, f"outlier_test_{name}", record, f"The read's leave-one-out test on {args.memory} (issue 24)", table)
    print("\n".join(table))


if __name__ == "__main__":
    main()
