"""Parameterisations of the meta-learned step sizes, momenta and write rates."""

from __future__ import annotations

import math

import torch
from torch import Tensor


def inverse_softplus(y: float) -> float:
    """``x`` such that ``softplus(x) = y`` (y > 0)."""
    if y <= 0:
        raise ValueError(f"softplus output must be positive, got {y}")
    return y + math.log(-math.expm1(-y))


def logit(p: float) -> float:
    """``x`` such that ``sigmoid(x) = p`` (0 < p < 1)."""
    if not 0 < p < 1:
        raise ValueError(f"probability must be in (0, 1), got {p}")
    return math.log(p / (1 - p))


def non_increasing(first: Tensor, decay_logits: Tensor) -> Tensor:
    """The schedule ``s_1 = first``, ``s_k = s_{k-1} · sigmoid(η_k)``.

    **Arguments:** ``first`` scalar (> 0); ``decay_logits`` ``(K-1,)``.
    **Returns:** ``(K,)``, non-increasing by construction.
    """
    factors = torch.cat([first.reshape(1), torch.sigmoid(decay_logits)])
    return torch.cumprod(factors, dim=0)
