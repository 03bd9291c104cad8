"""The random binary pattern task: patterns uniform in {0, 1}^d and their distortions.

A distortion is written ``KIND:K``, K positions chosen uniformly at random per pattern:

- ``erase:K``   set them to 0.5, the midpoint (a ±1 model sees 0) — the default, ``erase:64``;
- ``replace:K`` replace them with fresh random bits (harder: corrupted bits look valid);
- ``flip:K``    flip them;
- ``zero:K``    set them to 0;
- ``mask:A-B``  erase the fixed block of positions A…B (inclusive, 0-based) in every pattern: a
  *key → value* task when the block is one half (``mask:64-127``: the left half is the key, the
  right half the value to recall).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

DISTORTION_KINDS = ("erase", "replace", "flip", "zero", "mask")


@dataclass(frozen=True)
class Distortion:
    """A parsed distortion spec (see module docstring). ``count`` positions are corrupted; for
    ``mask`` they are the fixed block starting at ``start``."""

    kind: str
    count: int
    start: int = 0

    @classmethod
    def parse(cls, spec: str | Distortion) -> Distortion:
        if isinstance(spec, Distortion):
            return spec
        kind, sep, count = str(spec).partition(":")
        if kind == "mask" and sep:
            a, dash, b = count.partition("-")
            if dash and a.isdigit() and b.isdigit() and int(a) <= int(b):
                return cls("mask", int(b) - int(a) + 1, int(a))
            raise ValueError(f"bad distortion {spec!r}: a mask is mask:A-B with 0 <= A <= B, e.g. 'mask:64-127'")
        if not sep or kind not in DISTORTION_KINDS or not count.isdigit():
            raise ValueError(
                f"bad distortion {spec!r}: expected KIND:K with KIND one of {DISTORTION_KINDS[:-1]} "
                "and K a non-negative integer, e.g. 'erase:64', or mask:A-B, e.g. 'mask:64-127'"
            )
        return cls(kind, int(count))

    def __str__(self) -> str:
        if self.kind == "mask":
            return f"mask:{self.start}-{self.start + self.count - 1}"
        return f"{self.kind}:{self.count}"

    @property
    def extent(self) -> int:
        """The pattern dimension this distortion needs: ``count``, or the end of a mask's block."""
        return self.start + self.count

    def with_count(self, count: int) -> Distortion:
        return Distortion(self.kind, count, self.start)

    def apply(self, patterns: Tensor, *, generator: torch.Generator | None = None) -> Tensor:
        """Distort ``patterns (..., d)`` in {0, 1}; returns a new tensor of the same shape."""
        return self.corrupt(patterns, generator=generator)[0]

    def corrupt(self, patterns: Tensor, *, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
        """Distort ``patterns (..., d)`` in {0, 1} and say where: returns ``(distorted, corrupted)``,
        both ``(..., d)``, ``corrupted`` True at the ``count`` positions drawn for each pattern
        (the same draws as :meth:`apply`). ``~corrupted`` is what a clamped read holds fixed."""
        d = patterns.shape[-1]
        if self.extent > d:
            raise ValueError(f"cannot corrupt positions up to {self.extent - 1} of {d}-dimensional patterns"
                             if self.kind == "mask" else f"cannot corrupt {self.count} of {d} positions")
        if self.kind == "mask":
            idx = torch.arange(d, device=patterns.device)
            mask = ((idx >= self.start) & (idx < self.extent)).expand(patterns.shape)
            return torch.where(mask, torch.full_like(patterns, 0.5), patterns), mask
        # drawn where the generator lives (the library's are CPU generators), then moved: the same
        # draws whatever device the patterns are on
        scores = torch.rand(patterns.shape, generator=generator, device=_draw_device(generator, patterns)).to(patterns.device)
        ranks = scores.argsort(dim=-1).argsort(dim=-1)
        mask = ranks < self.count  # exactly `count` True per pattern
        if self.kind == "erase":
            new = torch.full_like(patterns, 0.5)
        elif self.kind == "zero":
            new = torch.zeros_like(patterns)
        elif self.kind == "flip":
            new = 1.0 - patterns
        else:  # replace
            new = random_patterns(patterns.shape, generator=generator, device=_draw_device(generator, patterns)).to(patterns.device)
        return torch.where(mask, new, patterns), mask


def _draw_device(generator: torch.Generator | None, like: Tensor) -> torch.device:
    """Where to draw random numbers for ``like``: on the generator's device when one is given."""
    return generator.device if generator is not None else like.device


def random_patterns(
    shape: tuple[int, ...] | torch.Size, *, generator: torch.Generator | None = None, device=None
) -> Tensor:
    """Uniform random binary patterns in {0, 1} of ``shape (..., d)``, float32."""
    return torch.randint(0, 2, tuple(shape), generator=generator, device=device).float()


def sample_episodes(
    episodes: int,
    patterns: int,
    dim: int,
    distortion: str | Distortion,
    *,
    generator: torch.Generator | None = None,
    known: bool = False,
) -> tuple[Tensor, ...]:
    """A batch of episodes: stored ``(B, N, d)`` and their distorted queries ``(B, N, d)``; with
    ``known``, also the ``(B, N, d)`` boolean mask of the positions left intact (same draws)."""
    x = random_patterns((episodes, patterns, dim), generator=generator)
    q, corrupted = Distortion.parse(distortion).corrupt(x, generator=generator)
    return (x, q, ~corrupted) if known else (x, q)


def error_bits(retrieved: Tensor, stored: Tensor) -> Tensor:
    """Number of positions where ``(retrieved > 0.5) != stored``: ``(..., d) -> (...)``."""
    return ((retrieved > 0.5) != (stored > 0.5)).sum(-1).float()
