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

import read_selection  # noqa: E402

MARGINS = (0.0, 1.0, 2.0, 3.0, 4.0, 6.0)


def main() -> None:
    read_selection.option_main(__doc__, "trust_margin", 0.0, MARGINS, "margin", "trust_margin", "The read's trust margin on {memory} (issue 24)",
                               "margin 0", values_flag="--margins")


if __name__ == "__main__":
    main()
