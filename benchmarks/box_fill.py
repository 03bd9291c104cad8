"""Issue 24: the image slot read's occluder box (read option ``box_fill``) — chosen on the
*training* split, scored on held-out images under every square fill and under corruptions of
other shapes.

    python benchmarks/box_fill.py --memory omniglot-slots

The detector judges each pixel against the blurred decoded image of the stored image the query
copies. Inside an occluder it trusts the pixels that agree with that blur by chance: under a
square of ones, the ink the blurred image puts around its strokes. The region prior distrusts
what lies amid distrust, one pixel wide; ink blobs are wider. Where the detector's own distrust
fills at least ``box_fill`` of the box that bounds it — one compact region, as one occluder
makes — the read distrusts the whole box and fills it from the stored image and the pixels
around it. Scattered distrust (pixels corrupted one by one, or the code's blur along strokes
here and there) fills a small share of its box and is left alone. No pixel value, no size and
no shape beyond "one compact region" is assumed.

1. **Selection** on training-split images (characters the held-out split never shows): the
   share with the lowest mean over ``--select`` of the error relative to ``box_fill=0`` — the
   memory's training fill (``mix:16``) and scattered noise (10 % of the pixels), weighed alike.
2. **Held out**: every square fill, and every corruption of :data:`read_selection.SHAPES`,
   off and with the chosen share, the same images for both.

Writes ``box_fill_NAME.json`` and ``.md``. Not a test.
"""

from __future__ import annotations

import read_selection  # noqa: E402

SHARES = (0.0, 0.3, 0.4, 0.5, 0.6, 0.7)


def main() -> None:
    read_selection.option_main(__doc__, "box_fill", 0.0, SHARES, "share", "box_fill", "The read's occluder box on {memory} (issue 24)", "off")


if __name__ == "__main__":
    main()
