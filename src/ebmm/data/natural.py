"""Natural-image patches, 32×32 RGB, cut from photographs that PyPI packages ship.

A default natural-image data set that needs no download and no CIFAR copy: patches cut at
random positions and scales from the photographs bundled in the wheels of two well-known
packages, read straight from their files with Pillow (neither package is imported, and no
network fetcher is ever involved). Train and test come from disjoint photographs:

- ``"train"``: scikit-image's ``astronaut``, ``chelsea``, ``coffee``, ``rocket`` and
  ``motorcycle_left`` (``skimage/data/``);
- ``"test"``: scikit-learn's ``china.jpg`` and ``flower.jpg``
  (``sklearn.datasets.load_sample_images``).

These are a handful of photographs, so patches overlap and share their statistics: good for
smoke tests, examples and small experiments, not a replacement for CIFAR-10 (see
:func:`ebmm.data.load_cifar10`).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import numpy as np
from PIL import Image

from ._bundled import bundled_file

# split -> (import name, pip name, folder inside the package, photographs)
NATURAL_SOURCES: dict[str, tuple[str, str, str, tuple[str, ...]]] = {
    "train": (
        "skimage",
        "scikit-image",
        "data",
        ("astronaut.png", "chelsea.png", "coffee.png", "rocket.jpg", "motorcycle_left.png"),
    ),
    "test": ("sklearn", "scikit-learn", "datasets/images", ("china.jpg", "flower.jpg")),
}
PATCH_SIZE = 32


def natural_patches(
    split: str = "train", n: int = 1024, seed: int = 0, *, scales: Sequence[int] = (1, 2, 4)
) -> np.ndarray:
    """``n`` random 32×32 RGB patches from the bundled photographs of ``split``.

    Each patch first draws a scale ``s`` uniformly from ``scales``, then a position uniformly
    among all 32×32 windows of the photographs downscaled by ``s`` (box averaging, so a patch
    covers a ``32·s`` square of the photograph). Deterministic in ``seed``.

    **Arguments:**

    - ``split``: ``"train"`` (scikit-image photographs) or ``"test"`` (scikit-learn's two),
      see :data:`NATURAL_SOURCES`.
    - ``n``: number of patches.
    - ``seed``: seed of the numpy generator that places the patches.
    - ``scales``: integer downscaling factors to draw from.

    **Returns:** ``(n, 3, 32, 32)`` float32 in [0, 1], channels R, G, B.

    **Raises:** ``ModuleNotFoundError`` (with the pip command) if the package holding the
    split's photographs is not installed.

    Example::

        train = natural_patches("train", 4096, seed=0)
        test = natural_patches("test", 1024, seed=1)
    """
    if split not in NATURAL_SOURCES:
        raise ValueError(f"split must be one of {tuple(NATURAL_SOURCES)}, got {split!r}")
    if n < 0:
        raise ValueError(f"n must be non-negative, got {n}")
    scales = tuple(int(s) for s in scales)
    if not scales or min(scales) < 1:
        raise ValueError(f"scales must be positive integers, got {scales}")
    rng = np.random.default_rng(seed)
    levels = [_pyramid_level(split, s) for s in scales]
    if any(all(min(im.shape[:2]) < PATCH_SIZE for im in level) for level in levels):
        raise ValueError(f"a scale in {scales} leaves no photograph of {split!r} ≥ 32 pixels")

    patches = np.empty((n, PATCH_SIZE, PATCH_SIZE, 3), dtype=np.uint8)  # (n, 32, 32, 3)
    which_scale = rng.integers(len(scales), size=n)
    for k, level in enumerate(levels):
        chosen = np.flatnonzero(which_scale == k)
        # uniform over all windows of this level: an image is picked in proportion to its count
        counts = np.array([max(h - PATCH_SIZE + 1, 0) * max(w - PATCH_SIZE + 1, 0)
                           for h, w, _ in (im.shape for im in level)])  # fmt: skip
        which_image = rng.choice(len(level), size=len(chosen), p=counts / counts.sum())
        for i, j in zip(chosen, which_image, strict=True):
            h, w, _ = level[j].shape
            top = rng.integers(h - PATCH_SIZE + 1)
            left = rng.integers(w - PATCH_SIZE + 1)
            patches[i] = level[j][top : top + PATCH_SIZE, left : left + PATCH_SIZE]
    # C-contiguous (n, 3, 32, 32): a channels-last view reaches torch as a strided tensor, on
    # which the meta-gradient of the conv energies crashed (segfault) with torch 2.13 on CPU
    return np.ascontiguousarray(patches.transpose(0, 3, 1, 2), dtype=np.float32) / 255.0


def natural_photographs(split: str = "train") -> tuple[np.ndarray, ...]:
    """The bundled photographs of ``split``, each ``(H, W, 3)`` uint8 (read-only)."""
    return _pyramid_level(split, 1)


@functools.cache
def _pyramid_level(split: str, scale: int) -> tuple[np.ndarray, ...]:
    if split not in NATURAL_SOURCES:
        raise ValueError(f"split must be one of {tuple(NATURAL_SOURCES)}, got {split!r}")
    module, distribution, folder, names = NATURAL_SOURCES[split]
    purpose = f"natural_patches(split={split!r})"
    level = []
    for name in names:
        with Image.open(bundled_file(module, distribution, f"{folder}/{name}", purpose)) as image:
            rgb = image.convert("RGB")
        if scale > 1:
            rgb = rgb.reduce(scale)  # box average over scale × scale blocks
        array = np.asarray(rgb)
        array.flags.writeable = False
        level.append(array)
    return tuple(level)
