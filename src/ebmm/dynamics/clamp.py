"""Clamped completion outside a model's own dynamics: the known entries of a query overwrite
the retrieval (a model whose read holds them fixed step by step does not need this)."""

from __future__ import annotations

import torch
from torch import Tensor


def keep_known(out: Tensor, queries: Tensor, known: Tensor, trajectory: bool) -> Tensor:
    """``out`` with the ``known`` entries (bool, like ``queries (B, M, *event)``) set back to the
    queries' values — in every iterate when ``out`` is a trajectory ``(B, S, M, *event)``."""
    if trajectory:
        return torch.where(known.unsqueeze(1), queries.unsqueeze(1), out)
    return torch.where(known, queries, out)
