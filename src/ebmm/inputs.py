"""Validating what a user passes to a memory: numpy arrays, torch tensors or nested sequences of
numbers, values in [0, 1], the right shape, finite, non-empty; ``known`` masks against the
queries. Each failure raises ``ValueError`` / ``TypeError`` with a message that names the input."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor

ArrayLike = Any  # numpy.ndarray | torch.Tensor | nested sequences of numbers


def _numeric_tensor(values: ArrayLike, what: str, expected: str) -> Tensor:
    """``values`` (a tensor, numpy array or nested sequence of numbers) as a CPU tensor of its own
    dtype; ``TypeError`` naming ``what`` for anything that is not numbers."""
    if isinstance(values, Tensor):
        return values.detach().to("cpu")
    try:
        arr = np.asarray(values)
    except Exception as e:  # ragged lists and the like
        raise TypeError(f"{what}: cannot convert to an array ({e})") from e
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise TypeError(f"{what}: expected {expected}, got dtype {arr.dtype}")
    return torch.from_numpy(np.ascontiguousarray(arr))


def as_patterns(values: ArrayLike, event_shape: int | tuple[int, ...], what: str) -> tuple[Tensor, bool]:
    """Validate and convert user input to a float32 tensor ``(B, N, *event_shape)``.

    ``event_shape`` is one pattern's shape: ``(d,)`` (or just ``d``) for vectors,
    ``(C, H, W)`` for images. Returns ``(tensor, batched)``. Raises ``ValueError`` /
    ``TypeError`` with a clear message.
    """
    event = (event_shape,) if isinstance(event_shape, int) else tuple(event_shape)
    e = len(event)
    shown = ", ".join(map(str, event))
    given = _numeric_tensor(values, what, "numbers")
    if given.is_complex():
        raise TypeError(f"{what}: complex values are not patterns")
    t = given.float()
    if t.dim() not in (e + 1, e + 2):
        raise ValueError(f"{what}: expected shape (N, {shown}) or (B, N, {shown}), got {tuple(t.shape)}")
    if tuple(t.shape[-e:]) != event:
        got = t.shape[-1] if e == 1 else tuple(t.shape[-e:])
        kind = f"{event[0]}-dimensional patterns" if e == 1 else f"patterns of shape {event}"
        raise ValueError(f"{what}: this memory stores {kind}, got {'dimension' if e == 1 else 'shape'} {got}")
    if t.shape[-e - 1] == 0 or (t.dim() == e + 2 and t.shape[0] == 0):
        raise ValueError(f"{what}: empty set (shape {tuple(t.shape)})")
    # range checks in the caller's dtype: a float64 beyond float32's range must be reported
    # as out of [0, 1], not turned into inf by the cast
    _check_values(given, what)
    batched = t.dim() == e + 2
    return (t if batched else t.unsqueeze(0)).contiguous(), batched


def as_known(values: ArrayLike, queries: Tensor, batched: bool) -> Tensor:
    """Validate a ``known`` mask against validated ``queries (B, M, *event)``: booleans or 0/1
    numbers of the queries' shape as the user gave them, or of one query's shape (then it applies
    to every query). Returns a bool tensor ``(B, M, *event)``; raises ``ValueError`` /
    ``TypeError`` with a clear message."""
    t = _numeric_tensor(values, "known", "booleans or 0/1")
    if t.dtype != torch.bool:
        if t.is_complex() or not torch.isin(t.float(), torch.tensor([0.0, 1.0])).all():
            raise ValueError("known: expected booleans or 0/1 values (True where the query's entry is intact)")
        t = t != 0
    given = tuple(queries.shape if batched else queries.shape[1:])
    event = tuple(queries.shape[2:])
    if tuple(t.shape) == given:
        t = t if batched else t.unsqueeze(0)
    elif tuple(t.shape) == event:
        t = t.expand(queries.shape)
    else:
        raise ValueError(f"known: expected shape {given} (like the queries) or {event} (one query), got {tuple(t.shape)}")
    return t.expand(queries.shape).contiguous()


def _check_values(t: Tensor, what: str) -> None:
    """Raise ``ValueError`` unless every value of ``t`` is finite and in [0, 1]."""
    if t.numel() == 0:
        return
    if not torch.isfinite(t).all():
        raise ValueError(f"{what}: contains NaN or infinite values")
    if t.min() < 0 or t.max() > 1:
        raise ValueError(
            f"{what}: values must lie in [0, 1] (got [{float(t.min()):g}, {float(t.max()):g}]); "
            "binary patterns are {0, 1}, erased entries 0.5"
        )
