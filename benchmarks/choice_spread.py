"""Issue 24, an experiment not (yet) in the library: a ninth feature for the image slot read's
learned choice among its candidates — how spread out the pixels it distrusts against a candidate
are (the area of their bounding box, as a fraction of the image).

    python benchmarks/choice_spread.py --memory RUN_OR_FILE --name slots-13824 \
        [--fills zeros:16,binary:16,noise:16,ones:16,mix:16] [--images 512] [--seed 1234]

Why (`benchmarks/image_failures.py`): at 13,824 floats, most of the zeros error comes from a few
queries whose square hid nearly all of the image's ink; the read returns another stored image.
Such a query tells the stored images apart mainly by *where* their disagreement with it lies,
and one occluder covers one compact region.

The script adds the feature for its own run only (it wraps
:func:`ebmm.energies.memory_trust.choice_features` and extends ``CHOICE_FEATURES``), fits all
nine weights on training-split episodes as ``benchmarks/choice_fit.py`` does
(:func:`ebmm.meta.read_choice.fit_choice_weights`, fills noise, binary, zeros, ones), and scores
the held-out fills with them. The read options are the Figure 3 read's (candidates 16, recheck
16, region 3, share 0.1). Writes ``choice_spread_NAME.json`` and ``.md``. Not a test.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

from harness import git_info, write_results  # noqa: E402
from image_failures import box_area  # noqa: E402

import ebmm  # noqa: E402
from ebmm.energies import memory_trust  # noqa: E402
from ebmm.evaluation.images import evaluate_images  # noqa: E402
from ebmm.meta.read_choice import fit_choice_weights  # noqa: E402
from ebmm.tasks.episodes import task_from_config  # noqa: E402

READ = {"candidates": 16, "recheck": 16, "region": 3, "region_share": 0.1}


def add_spread_feature() -> None:
    """Extend the library's choice features by ``spread`` for this process (weight 0 in the fixed rule)."""
    plain, fixed = memory_trust.choice_features, memory_trust.fixed_rule_weights

    def with_spread(energy, static, q, judged, trusted, rank, matcher, region=True):
        features = plain(energy, static, q, judged, trusted, rank, matcher, region)
        c, h, w = energy.shape
        distrusted = (~trusted).reshape(*trusted.shape[:-1], c, h, w).any(-3)
        return torch.cat([features, (box_area(distrusted).to(features.dtype) / (h * w)).unsqueeze(-1)], -1)

    memory_trust.CHOICE_FEATURES = (*memory_trust.CHOICE_FEATURES, "spread")
    memory_trust.choice_features = with_spread
    memory_trust.fixed_rule_weights = lambda outlier_cost: (*fixed(outlier_cost), 0.0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--memory", required=True)
    ap.add_argument("--name", required=True)
    ap.add_argument("--fills", default="zeros:16,binary:16,noise:16,ones:16,mix:16", help="held-out fills scored")
    ap.add_argument("--images", type=int, default=512, help="held-out images per fill")
    ap.add_argument("--seed", type=int, default=1234, help="the held-out draw (1234: Figure 3's images; 2026: figure3-2048's)")
    ap.add_argument("--episodes", type=int, default=8, help="training episodes of 64 images per fitted fill")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    add_spread_feature()
    t0 = time.time()
    memory = ebmm.load(args.memory).with_read_options(**READ)
    task = task_from_config("images", memory.dim, "noise:16", "omniglot")
    fit = fit_choice_weights(memory.model, memory.params, task, ["noise:16", "binary:16", "zeros:16", "ones:16"], episodes=args.episodes)
    weights = dict(zip(memory_trust.CHOICE_FEATURES, fit.weights))
    print(f"fitted in {time.time() - t0:.0f} s: training accuracy {fit.accuracy:.4f}; {weights}", flush=True)
    read = memory.with_read_options(choice_weights=list(fit.weights))
    held = {}
    for fill in args.fills.split(","):
        held[fill] = evaluate_images(read, task, 64, fill, min_patterns=args.images, seed=args.seed).mean
        print(fill, round(held[fill], 2), flush=True)
    table = [f"Fit: {args.episodes} training-split episodes of 64 images per fill (noise, binary, zeros, ones): the stored "
             f"image's slot chosen for {fit.accuracy:.2%} of the {fit.examples} training queries whose slot was judged.", "",
             "| feature | weight |", "|---|---|", *[f"| {k} | {v:.4g} |" for k, v in weights.items()], "",
             f"Held out ({args.images} images per fill, seed {args.seed}; mean Hamming error per image):", "",
             "| fill | with the spread feature |", "|---|---|", *[f"| {f} | {v:.2f} |" for f, v in held.items()]]
    record = {"command": "python benchmarks/choice_spread.py " + " ".join(sys.argv[1:]), "git": git_info(), "memory": args.memory,
              "weights": weights, "training_accuracy": fit.accuracy, "held_out": held, "images": args.images, "seed": args.seed,
              "seconds": time.time() - t0}
    write_results(args.out, f"choice_spread_{args.name}", record,
                  f"A ninth choice feature, the spread of the distrusted pixels: {args.name} (issue 24, an experiment)", table)


if __name__ == "__main__":
    main()
