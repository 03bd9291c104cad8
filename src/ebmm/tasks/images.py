"""The image task (paper §4.2): store a batch of images, retrieve them from occluded copies.

A query hides one random ``block×block`` square (16×16 of 32×32 in the paper) of each image,
filled with one of :data:`OCCLUSION_FILLS`: uniform noise in [0, 1] (``"noise"``, the paper's),
random 0/1 values at the stored images' own mean intensity — the ink density of binarised data —
(``"binary"``), zeros (``"zeros"``) or ones (``"ones"``). ``"mix"`` draws one of those four per
image, and ``"noise+zeros"`` (any ``+``-joined list) one of the listed fills: a memory can be
trained on some fills and scored on another it never saw. Two more, outside ``"mix"``, for such
tests: ``"grey"`` a constant drawn per image uniformly in [0, 1] (a flat square whose value
marks nothing), ``"patch"`` the same square of the next image in the set (real ink of another
stored image: an occluder that looks like data), and ``"invert"`` the image's own pixels
inverted (``1 − x``: every pixel it hides is wrong, at a value the data takes). Instead of one
square, a fill may also replace a share of the pixels scattered over the whole image
(:func:`scatter_mask`; written ``noise:10%``): no region at all. Errors are counted per image:
:func:`hamming_error` on binarised images (Omniglot), :func:`squared_error` otherwise (CIFAR).
Images are float ``(..., C, H, W)`` in [0, 1], as :mod:`ebmm.data` loads them.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

#: what can fill an occluded square (``"mix"``: one of the first four per image, drawn uniformly)
OCCLUSION_FILLS = ("noise", "binary", "zeros", "ones", "mix", "grey", "patch", "invert")
#: the fills ``"mix"`` draws from
BASIC_FILLS = ("noise", "binary", "zeros", "ones")
#: fills that ``"+"``-joined lists may name besides those (not in ``"mix"``)
EXTRA_FILLS = ("grey", "patch", "invert")


def fill_choices(fill: str) -> tuple[str, ...]:
    """The basic fills a fill name draws from: ``"mix"`` -> all of :data:`BASIC_FILLS`,
    ``"noise+zeros"`` -> ``("noise", "zeros")``, ``"ones"`` -> ``("ones",)``. ``ValueError``
    naming the accepted fills for anything else (an empty part, an unknown or repeated fill)."""
    if fill == "mix":
        return BASIC_FILLS
    parts = tuple(fill.split("+"))
    allowed = BASIC_FILLS + EXTRA_FILLS
    if not all(p in allowed for p in parts) or len(set(parts)) != len(parts):
        raise ValueError(f"fill must be one of {OCCLUSION_FILLS} or a '+'-joined list of distinct fills among "
                         f"{allowed} (e.g. 'noise+zeros'), got {fill!r}")
    return parts


def occlusion_mask(
    shape: tuple[int, ...] | torch.Size,
    block: int = 16,
    *,
    generator: torch.Generator | None = None,
    device=None,
) -> Tensor:
    """A boolean ``(..., 1, H, W)`` mask, True on one random ``block×block`` square per image
    of ``shape (..., C, H, W)`` (top-left corner uniform over the positions that fit)."""
    *lead, _, h, w = shape
    if not 0 < block <= min(h, w):
        raise ValueError(f"block must be in [1, {min(h, w)}] for {h}×{w} images, got {block}")
    top = torch.randint(0, h - block + 1, (*lead, 1, 1, 1), generator=generator, device=device)
    left = torch.randint(0, w - block + 1, (*lead, 1, 1, 1), generator=generator, device=device)
    rows = torch.arange(h, device=device).view(h, 1)
    cols = torch.arange(w, device=device).view(1, w)
    return (rows >= top) & (rows < top + block) & (cols >= left) & (cols < left + block)


def scatter_mask(
    shape: tuple[int, ...] | torch.Size,
    percent: int,
    *,
    generator: torch.Generator | None = None,
    device=None,
) -> Tensor:
    """A boolean ``(..., 1, H, W)`` mask for images of ``shape (..., C, H, W)``, True on each
    pixel independently with probability ``percent / 100`` (``percent`` in [1, 100]): corruption
    scattered over the image, with no region."""
    if not 0 < percent <= 100:
        raise ValueError(f"percent must be in [1, 100], got {percent}")
    *lead, _, h, w = shape
    return torch.rand((*lead, 1, h, w), generator=generator, device=device) < percent / 100


def occlude(
    images: Tensor,
    block: int = 16,
    fill: str = "noise",
    *,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Hide one random ``block×block`` square of every image ``(..., C, H, W)`` (all channels).

    ``fill`` (module docstring): ``"noise"`` puts uniform [0, 1] values there, ``"binary"`` 0/1
    values that are 1 with the images' mean intensity, ``"zeros"`` zeros, ``"ones"`` ones,
    ``"mix"`` or ``"a+b"`` one of several per image. Returns a new tensor.
    """
    return occlude_with_mask(images, block, fill, generator=generator)[0]


def occlude_with_mask(
    images: Tensor,
    block: int = 16,
    fill: str = "noise",
    *,
    generator: torch.Generator | None = None,
    scattered: bool = False,
) -> tuple[Tensor, Tensor]:
    """:func:`occlude` (same draws) that also returns where: ``(occluded (..., C, H, W),
    hidden (..., C, H, W) bool)``. With ``scattered``, ``block`` is a percentage of pixels
    (:func:`scatter_mask`) instead of a square's side."""
    choices = fill_choices(fill)
    # drawn where the generator lives (the library's are CPU generators), then moved: the same
    # occlusions whatever device the images are on
    draw = generator.device if generator is not None else images.device
    where = scatter_mask if scattered else occlusion_mask
    mask = where(images.shape, block, generator=generator, device=draw).to(images.device)
    new = _fill_values(images, choices, generator, draw)
    return torch.where(mask, new, images), mask.expand(images.shape)


def _fill_values(images: Tensor, choices: tuple[str, ...], generator: torch.Generator | None, draw) -> Tensor:
    """What replaces the occluded pixels of ``images (..., C, H, W)``: per image one of
    ``choices``, drawn uniformly (no draw when there is only one)."""
    shape, dtype = images.shape, images.dtype

    def values(fill: str) -> Tensor:
        if fill == "noise":
            return torch.rand(shape, generator=generator, device=draw, dtype=dtype).to(images.device)
        if fill == "binary":  # 1 with the images' mean intensity: binarised data's ink density
            density = float(images.float().mean()) if images.numel() else 0.0
            return (torch.rand(shape, generator=generator, device=draw) < density).to(images.device, dtype)
        if fill == "grey":  # one value per image, uniform in [0, 1]
            level = torch.rand((*shape[:-3], 1, 1, 1), generator=generator, device=draw, dtype=dtype)
            return level.to(images.device).expand(shape)
        if fill == "patch":  # the next image of the set, at the same place
            if images.dim() < 4 or images.shape[-4] < 2:
                raise ValueError(f"the patch fill takes the square from another image of the set: images of shape "
                                 f"(..., N, C, H, W) with N >= 2, got {tuple(shape)}")
            return images.roll(1, dims=-4)
        if fill == "invert":  # the image's own pixels inverted
            return 1.0 - images
        return torch.full_like(images, 1.0 if fill == "ones" else 0.0)

    if len(choices) == 1:
        return values(choices[0])
    which = torch.randint(0, len(choices), (*shape[:-3], 1, 1, 1), generator=generator, device=draw).to(images.device)
    out = torch.zeros_like(images)
    for i, fill in enumerate(choices):
        out = torch.where(which == i, values(fill), out)
    return out


def hamming_error(retrieved: Tensor, images: Tensor, threshold: float = 0.5) -> Tensor:
    """Pixels that differ after binarising both at ``threshold``, per image:
    ``(..., C, H, W) -> (...)`` (float)."""
    return ((retrieved > threshold) != (images > threshold)).sum(dim=(-3, -2, -1)).float()


def squared_error(retrieved: Tensor, images: Tensor) -> Tensor:
    """Squared error summed over each image's pixels and channels: ``(..., C, H, W) -> (...)``."""
    return (retrieved - images).pow(2).sum(dim=(-3, -2, -1))


def sample_image_episodes(
    images: Tensor | np.ndarray,
    episodes: int,
    patterns: int = 64,
    block: int = 16,
    fill: str = "noise",
    *,
    generator: torch.Generator | None = None,
) -> tuple[Tensor, Tensor]:
    """A batch of episodes from an image set ``(n, C, H, W)``: ``patterns`` distinct images per
    episode, drawn uniformly, and their occluded copies — stored and queries, both
    ``(episodes, patterns, C, H, W)``."""
    images = torch.as_tensor(images)
    if images.dim() != 4:
        raise ValueError(f"images must be (n, C, H, W), got shape {tuple(images.shape)}")
    n = images.shape[0]
    if not 0 < patterns <= n:
        raise ValueError(f"cannot draw {patterns} distinct images from {n}")
    idx = torch.rand(episodes, n, generator=generator).argsort(dim=-1)[:, :patterns]  # (B, N)
    stored = images[idx.to(images.device)].float()
    return stored, occlude(stored, block, fill, generator=generator)
