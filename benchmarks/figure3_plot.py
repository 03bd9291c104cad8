"""Issue 24: Figure 3 as the README's table reads it, drawn from the results it was made from.

    python benchmarks/figure3_plot.py --out results/figure3

One line per (system, fill) of the five fills, memory size on the x axis:
- EBMM image slots with the learned choice and its spread feature
  (``results/choice-spread/choice_fit_slots-N*.json``; at 2304 and 4608 also with the occluder's
  ring spared, and at 2304 the second ranking; at 2304 and 4608 also with the occluder's box,
  ``results/box-fill/box_fill_slots-N.json``; at 2304, 13,824 and 16,128 judging 32 stored images,
  ``results/recheck-width/recheck_width_slots-N.json``), and the shipped ``omniglot-slots`` as it is at 9216
  (``results/omniglot-slots-every-fill/results.json``);
- Memory Networks: ``results/ratedistortion-omniglot-fills/ratedistortion.json``;
- the paper's EBMM conv and Memory Networks points (noise).

Every EBMM point is a mean over 512 held-out images (the same images for every size and system);
the points from ``ebmm eval images`` and Memory Networks' carry their 5th–95th percentile bars
over sets (the other files keep none). Writes ``figure3.png`` and
``figure3.json`` (the plotted numbers). Draws only: it reads results, it computes none.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path
from types import SimpleNamespace

from harness import REPO, git_info  # noqa: E402

from ebmm.evaluation.images import paper_points  # noqa: E402
from ebmm.evaluation.plots import plot_rate_distortion  # noqa: E402

FILLS = ("noise", "binary", "zeros", "ones", "mix")
SIZES = (2304, 4608, 9216, 13824, 16128)


def _point(mean: float, p5: float | None = None, p95: float | None = None) -> SimpleNamespace:
    """What :func:`plot_rate_distortion` reads of a point: a mean and its percentile bars (none: the mean)."""
    return SimpleNamespace(mean=mean, p5=mean if p5 is None else p5, p95=mean if p95 is None else p95)


#: the file of each size's EBMM row: the learned choice with the spread feature (benchmarks/choice_fit.py),
#: at 2304 and 4608 read with the occluder's ring spared (and at 2304 the second ranking)
CHOICE_FITS = {2304: "slots-2304-ring", 4608: "slots-4608-ring", 13824: "slots-13824", 16128: "slots-16128"}
#: the sizes whose row reads with the occluder's box too (``box_fill``, chosen on the training split; the rest chose
#: it within noise of off, or were not changed): the file of ``benchmarks/box_fill.py``'s results
BOX_FILLS = {2304: "slots-2304", 4608: "slots-4608"}
#: the sizes whose row judges more stored images before it chooses (``recheck`` 32 of every slot, chosen on the
#: training split by ``benchmarks/recheck_width.py``; at 2304 on the read with the occluder's box): the file of its results
RECHECK_WIDTHS = {2304: "slots-2304", 13824: "slots-13824", 16128: "slots-16128"}
#: where a row read with a chosen read option comes from, the latest option first (its file holds the earlier ones' read)
READ_OPTION_ROWS = ((RECHECK_WIDTHS, "results/recheck-width/recheck_width_{}.json"), (BOX_FILLS, "results/box-fill/box_fill_{}.json"))


def ebmm_points() -> dict[str, list[tuple[int, SimpleNamespace]]]:
    """The README's EBMM rows, per fill: ``[(memory floats, point), ...]``."""
    out = {f: [] for f in FILLS}
    for n in SIZES:
        if n == 9216:  # the shipped memory as it is (ebmm eval images --memory omniglot-slots)
            every = json.loads((REPO / "results/omniglot-slots-every-fill/results.json").read_text())["results"]
            cells = every["omniglot-slots"]["omniglot"]
            for f in FILLS:
                c = cells[f"{f}:16"]
                out[f].append((n, _point(c["mean"], c["p5"], c["p95"])))
            continue
        chosen = next((path.format(sizes[n]) for sizes, path in READ_OPTION_ROWS if n in sizes), None)
        if chosen:  # the row read with a read option chosen on the training split: that benchmark's held-out "chosen" column
            held = json.loads((REPO / chosen).read_text())["held_out"]
            for f in FILLS:
                out[f].append((n, _point(held[f"{f}:16"]["chosen"])))
            continue
        held = json.loads((REPO / f"results/choice-spread/choice_fit_{CHOICE_FITS[n]}.json").read_text())["held_out"]
        for f in FILLS:
            out[f].append((n, _point(held[f"{f}:16"]["learned"])))
    return out


def memory_network_points() -> dict[str, list[tuple[int, SimpleNamespace]]]:
    """Memory Networks' rows of the Figure 3 run, per fill, with their percentile bars."""
    rows = json.loads((REPO / "results/ratedistortion-omniglot-fills/ratedistortion.json").read_text())["rows"]
    out = {f: [] for f in FILLS}
    for r in rows:
        fill = r["distortion"].split(":")[0]
        if r["system"] == "memory_networks" and fill in out and r.get("dataset", "omniglot") == "omniglot":
            s = r["stats"]
            out[fill].append((r["memory_size"], _point(s["mean"], s["p5"], s["p95"])))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=REPO / "results" / "figure3")
    args = ap.parse_args()
    ours = {f"EBMM image slots, {f}": pts for f, pts in ebmm_points().items()}
    ours |= {f"Memory Networks, {f}": pts for f, pts in memory_network_points().items() if pts}
    paper = {"EBMM conv": paper_points("omniglot", "image_slots"), "Memory Networks": paper_points("omniglot", "memory_networks")}
    args.out.mkdir(parents=True, exist_ok=True)
    command = shlex.join(["python", *sys.argv])
    plot_rate_distortion(ours, args.out / "figure3.png", paper=paper, ylabel="Hamming error per image",
                         title="Omniglot, N = 64, a 16x16 square hidden, free protocol: the README's Figure 3 "
                               "(EBMM: means over 512 held-out images; paper: noise)",
                         caption=command)
    record = {"command": command, "git": git_info(), "paper": paper,
              "ours": {k: [[n, p.mean, p.p5, p.p95] for n, p in v] for k, v in ours.items()}}
    (args.out / "figure3.json").write_text(json.dumps(record, indent=2))
    print(f"wrote {args.out}/figure3.png, figure3.json")


if __name__ == "__main__":
    main()
