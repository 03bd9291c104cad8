"""Issue 24: how many stored images the image slot read judges before it chooses (read options
``recheck`` and ``candidates``) — chosen on the *training* split, scored on held-out images under
every square fill and under corruptions of other shapes.

    python benchmarks/recheck_width.py --memory omniglot-slots

The read ranks the stored images by their clipped whitened distance to the whole query (the
occluder included), keeps ``candidates``, lets the matcher keep the ``recheck`` it scores highest,
and only then judges each by the detector's trust against it (the choice's features). A square
of zeros that hides most of a character's ink makes the query nearly blank: stored images with
little ink then rank nearer than the one it copies, which can fall out of the 16 judged (at
16,128 floats, 512 held-out images under zeros: 3 of the 9 queries read with the wrong image,
each costing about 110 pixels, had their own image outside the 16; the other 6 are ambiguous —
several stored images agree with the query outside some square; ``benchmarks/zeros_failures.py``). Judging more costs a Cholesky
factorisation per candidate.

A width K reads every slot (``candidates`` = the slots held, at most 64 here) and judges the
matcher's K first (``recheck`` = K); the reference is the Figure 3 rows' read, 16 nearest and all
16 judged.

1. **Selection** on training-split images: the width with the lowest mean over ``--select`` of
   the error relative to the reference — the memory's training fill (``mix:16``) and scattered
   noise (10 % of the pixels), weighed alike.
2. **Held out**: every square fill, and every corruption of :data:`read_selection.SHAPES`,
   the reference and the chosen width, the same images for both.

Writes ``recheck_width_NAME.json`` and ``.md``. Not a test.
"""

from __future__ import annotations

import read_selection  # noqa: E402

WIDTHS = (16, 32, 64)


def width(k: float, slots: int = 64) -> dict[str, int]:
    """The read options of width ``k``: the reference (16) is the 16 nearest, all judged; a wider
    one reads all ``slots`` and judges the matcher's ``k`` first."""
    k = int(k)
    return {"candidates": 16, "recheck": 16} if k <= 16 else {"candidates": slots, "recheck": k}


def main() -> None:
    read_selection.option_main(__doc__, "recheck", 16, WIDTHS, "width", "recheck_width",
                               "How many stored images the read judges, on {memory} (issue 24)", "16 judged", apply=width)


if __name__ == "__main__":
    main()
