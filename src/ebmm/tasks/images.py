"""The image task (paper §4.2): store a batch of images, retrieve them from occluded copies.

A query hides one random ``block×block`` square (16×16 of 32×32 in the paper) of each image,
filled with uniform noise (``"noise"``) or zeros (``"zeros"``). Errors are counted per image:
:func:`hamming_error` on binarised images (Omniglot), :func:`squared_error` otherwise (CIFAR).
Images are float ``(..., C, H, W)`` in [0, 1], as :mod:`ebmm.data` loads them.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

OCCLUSION_FILLS = ("noise", "zeros")


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


def occlude(
    images: Tensor,
    block: int = 16,
    fill: str = "noise",
    *,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Hide one random ``block×block`` square of every image ``(..., C, H, W)`` (all channels).

    ``fill="noise"`` puts uniform [0, 1] values there, ``"zeros"`` zeros. Returns a new tensor.
    """
    return occlude_with_mask(images, block, fill, generator=generator)[0]


def occlude_with_mask(
    images: Tensor,
    block: int = 16,
    fill: str = "noise",
    *,
    generator: torch.Generator | None = None,
) -> tuple[Tensor, Tensor]:
    """:func:`occlude` (same draws) that also returns where: ``(occluded (..., C, H, W),
    hidden (..., C, H, W) bool)``."""
    if fill not in OCCLUSION_FILLS:
        raise ValueError(f"fill must be one of {OCCLUSION_FILLS}, got {fill!r}")
    # drawn where the generator lives (the library's are CPU generators), then moved: the same
    # occlusions whatever device the images are on
    draw = generator.device if generator is not None else images.device
    mask = occlusion_mask(images.shape, block, generator=generator, device=draw).to(images.device)
    if fill == "noise":
        new = torch.rand(images.shape, generator=generator, device=draw, dtype=images.dtype).to(images.device)
    else:
        new = torch.zeros_like(images)
    return torch.where(mask, new, images), mask.expand(images.shape)


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
