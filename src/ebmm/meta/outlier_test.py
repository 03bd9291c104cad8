"""Calibrate the image slot read's leave-one-out test on clean training queries.

The read with ``trust="memory"`` (:mod:`ebmm.energies.memory_trust`) trusts a pixel when the
detector finds it agrees with the blurred decoded image of the stored image it chose. Scattered
corruption — a noisy or flipped pixel here and there, which no training square looks like —
passes that test: a single wrong pixel is within the blur. Its neighbours give it away: under
the read's own Gaussian model each pixel has a conditional given all the others, and a trusted
pixel far from it (a standardised leave-one-out residual beyond ``loo_z``,
:func:`~ebmm.energies.memory_trust.leave_one_out_z`) is distrusted — where a query holds more
than ``loo_count`` such pixels, since intact images have a few too.

:func:`calibrate_leave_one_out` sets the count from the memory's own clean queries — stored
training images read back unchanged — and no corruption: at ``loo_z`` = 5 (five standard
deviations of the read's own Gaussian), ``loo_count`` is the 95th percentile of how many of a
clean query's trusted pixels lie beyond it (7 at 9216 and 2304 floats). Higher percentiles are
not steadier: one or two clean queries in a hundred, read with the wrong stored image or a
stroke the code misses, hold hundreds of such pixels (the 98th percentile is 17 at 9216 floats
on 512 Omniglot queries and 44 on 128 MNIST digits, where scattered noise no longer fires it),
and so is the pixels' own 99.9th percentile as a threshold (5 to 16). Held-out characters fit
the read's Gaussian less well than the training ones and hold more such pixels, so the test
fires on more held-out queries than on 5 % of clean training ones, and costs square fills
there: measured on held-out images by ``benchmarks/outlier_test.py`` (docs/image-memories.md).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from ..energies import memory_trust
from ..models.ebmm import EBMM, write_batch


@dataclass(frozen=True)
class LeaveOneOutCalibration:
    """What :func:`calibrate_leave_one_out` measured: the read options ``z`` (``loo_z``) and
    ``count`` (``loo_count``), from ``pixels`` trusted pixels of ``queries`` clean queries."""

    z: float
    count: int
    pixels: int
    queries: int

    def read_options(self) -> dict[str, float | int]:
        """``{"loo_z": z, "loo_count": count}``, for :meth:`ebmm.memory.AssociativeMemory.with_read_options`."""
        return {"loo_z": self.z, "loo_count": self.count}


def leave_one_out_scores(model: EBMM, params: dict, images: torch.Tensor, queries: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Write ``images (B, N, C, H, W)`` and trust their ``queries`` as the read does before its
    leave-one-out test: each pixel's |z| ``(Q, D)`` (Q = B·N) and whether the read trusts it
    ``(Q, D)`` (bool). No gradient."""
    energy = model.energy
    if getattr(energy, "trust", None) != "memory":
        raise ValueError("the leave-one-out test belongs to the image slot read with trust='memory'")
    static = params["static"]
    with torch.no_grad():
        theta = write_batch(model, params, images)
        t = memory_trust.judge_trust(energy, static, theta, queries)
        z = memory_trust.leave_one_out_z(t.precision, t.cand, t.q, t.held, t.gamma).abs()
    return z, t.held


def calibrate_leave_one_out(model: EBMM, params: dict, task, episodes: int = 8, patterns: int = 64, seed: int = 0,
                            z: float = 5.0, count_quantile: float = 0.95) -> LeaveOneOutCalibration:
    """``loo_count`` for ``model``'s read (its other read options as they are) at ``loo_z = z``,
    from ``episodes`` training-split episodes of ``patterns`` images of ``task``, drawn with
    ``seed``, each read back unchanged (module docstring). ``ValueError`` for ``z`` ≤ 0, a
    quantile outside (0, 1) or a memory without the test."""
    if not 0 < count_quantile < 1:
        raise ValueError(f"count_quantile must be in (0, 1), got {count_quantile}")
    if not (math.isfinite(z) and z > 0):
        raise ValueError(f"z must be a finite z-score > 0, got {z}")
    g = torch.Generator().manual_seed(seed)
    zs, helds = [], []
    for _ in range(episodes):  # one episode at a time, as the read's plans are per query
        images = task.sample(1, patterns, split="train", generator=g)[0]
        scores, held = leave_one_out_scores(model, params, images, images)
        zs.append(scores)
        helds.append(held)
    scores, held = torch.cat(zs), torch.cat(helds)
    counts = ((scores > z) & held).sum(-1).double()  # (Q,) each clean query's trusted pixels beyond z
    count = int(math.ceil(float(torch.quantile(counts, count_quantile))))
    return LeaveOneOutCalibration(float(z), count, int(held.sum()), int(counts.numel()))
