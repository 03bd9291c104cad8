"""The random binary pattern task: patterns uniform in {0, 1}^d and their distortions.

A distortion is written ``KIND:K``, K positions chosen uniformly at random per pattern:

- ``erase:K``   set them to 0.5, the midpoint (a ±1 model sees 0) — the default, ``erase:64``;
- ``replace:K`` replace them with fresh random bits (harder: corrupted bits look valid);
- ``flip:K``    flip them;
- ``zero:K``    set them to 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

DISTORTION_KINDS = ("erase", "replace", "flip", "zero")


@dataclass(frozen=True)
class Distortion:
    """A parsed distortion spec (see module docstring)."""

    kind: str
    count: int

    @classmethod
    def parse(cls, spec: str | Distortion) -> Distortion:
        if isinstance(spec, Distortion):
            return spec
        kind, sep, count = str(spec).partition(":")
        if not sep or kind not in DISTORTION_KINDS or not count.isdigit():
            raise ValueError(
                f"bad distortion {spec!r}: expected KIND:K with KIND one of {DISTORTION_KINDS} "
                "and K a non-negative integer, e.g. 'erase:64'"
            )
        return cls(kind, int(count))

    def __str__(self) -> str:
        return f"{self.kind}:{self.count}"

    def with_count(self, count: int) -> Distortion:
        return Distortion(self.kind, count)

    def apply(self, patterns: Tensor, *, generator: torch.Generator | None = None) -> Tensor:
        """Distort ``patterns (..., d)`` in {0, 1}; returns a new tensor of the same shape."""
        return self.corrupt(patterns, generator=generator)[0]

    def corrupt(self, patterns: Tensor, *, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
        """Distort ``patterns (..., d)`` in {0, 1} and say where: returns ``(distorted, corrupted)``,
        both ``(..., d)``, ``corrupted`` True at the ``count`` positions drawn for each pattern
        (the same draws as :meth:`apply`). ``~corrupted`` is what a clamped read holds fixed."""
        d = patterns.shape[-1]
        if self.count > d:
            raise ValueError(f"cannot corrupt {self.count} of {d} positions")
        scores = torch.rand(patterns.shape, generator=generator, device=patterns.device)
        ranks = scores.argsort(dim=-1).argsort(dim=-1)
        mask = ranks < self.count  # exactly `count` True per pattern
        if self.kind == "erase":
            new = torch.full_like(patterns, 0.5)
        elif self.kind == "zero":
            new = torch.zeros_like(patterns)
        elif self.kind == "flip":
            new = 1.0 - patterns
        else:  # replace
            new = random_patterns(patterns.shape, generator=generator, device=patterns.device)
        return torch.where(mask, new, patterns), mask


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
