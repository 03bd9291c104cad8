"""Issue 24: the image slot read's trust margin (read option ``trust_margin``) — chosen on the
*training* split, scored on held-out images under every square fill and under corruptions of
other shapes.

    python benchmarks/trust_margin.py --memory omniglot-slots

The detector was meta-trained on square occluders. Against the blurred decoded image it trusts
about a fifth of the pixels that are flipped one by one (5 % of them: 10.6 wrong pixels left of
51) and half of those replaced by noise one by one: isolated disagreement looks like the code's
blur. Its logits still rank them well (AUC 0.99 for flipped pixels), so distrusting what the
detector *barely* trusts — each such pixel alone, filled from the stored image and its trusted
neighbours; the region prior does not widen it — restores them, at a price on squares (the
barely trusted intact pixels get filled too).

1. **Selection** on training-split images (characters the held-out split never shows): the
   margin with the lowest mean over ``--select`` of the error relative to margin 0's — the
   memory's training fill (``mix:16``) and scattered noise (10 % of the pixels replaced by uniform
   noise), weighed alike whatever their sizes.
2. **Held out**: every square fill, and every corruption of :data:`read_selection.SHAPES` —
   flipped pixels, rows, discs and 25 % scattered noise were not selected on — with margin 0 and
   the chosen one, the same images for both.

Writes ``trust_margin_NAME.json`` and ``.md``. Not a test.
"""

from __future__ import annotations

import argparse

import read_selection  # noqa: E402

MARGINS = (0.0, 1.0, 2.0, 3.0, 4.0, 6.0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    read_selection.add_arguments(ap, select_images=256)
    ap.add_argument("--margins", dest="values", default=",".join(map(str, MARGINS)))
    ap.add_argument("--select", default="mix:16,scattered noise 10 %", help="what the margin is chosen on (training split), comma-separated")
    read_selection.add_held_out(ap)
    read_selection.option_report(ap.parse_args(), "trust_margin", 0.0, "trust_margin", "The read's trust margin on {memory} (issue 24)", "margin 0")


if __name__ == "__main__":
    main()
