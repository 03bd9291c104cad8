"""What the two fast-weight memories share (:mod:`ebmm.models.delta_rule`,
:mod:`ebmm.models.mlp_memory`): the encoder that turns patterns into keys and values, the
decoder that turns a retrieved value back into a pattern, and the fixed-point read.

With ``s = 2x − 1`` the ±1 image of a pattern (an erased bit 0.5 → 0)::

    key    k(x) = normalize(W_k s + b_k)              unit length, as DeltaNet's L2-normalised keys
    value  v(x) = W_v s + b_v
    read   x_0 = q,   x_{t+1} = σ(decoder([R(k(x_t)), 2q − 1]))   for t = 0..steps−1

``R`` is the memory's retrieval (``S k`` for the delta rule, ``MLP_W(k)`` for the MLP memory).
The decoder is Memory Networks' (:func:`ebmm.models.memory_networks.decode`: one hidden ReLU
layer plus a linear skip) and sees the query beside the retrieved value. Each iterate lies
in [0, 1]: the logistic read-out is the projection onto [0, 1] (a hard clamp would stop the
meta-gradient at every saturated bit). A stored pattern ``x_i`` whose value is retrieved
exactly and decodes to itself is a fixed point: ``k(x_i)`` is the key it was written under.

Private: the models' modules document their own parameters.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from ._common import dense, orthonormal_rows
from .memory_networks import decode

#: the decoder's skip starts at ``SKIP_GAIN · W_vᵀ`` on the retrieved value, so that an exact
#: retrieval of a pattern's value already decodes to that pattern (Memory Networks' 4 Eᵀ), and
#: at ``QUERY_GAIN · I`` on the query, so that its intact bits start through (an untrained
#: memory then errs mostly on the erased bits: 10.5 error bits instead of 17 for the delta
#: rule at N = 16 under ``erase:64``, one read step)
SKIP_GAIN = 4.0
QUERY_GAIN = 2.0


def init_encoder(gen: torch.Generator, dim: int, key_dim: int, value_dim: int) -> dict[str, Tensor]:
    """Keys and values start as random orthonormal projections of the ±1 image (seeded)."""
    return {
        "key_weight": orthonormal_rows(key_dim, dim, gen) if key_dim <= dim else dense(gen, key_dim, dim),
        "key_bias": torch.zeros(key_dim),
        "value_weight": orthonormal_rows(value_dim, dim, gen) if value_dim <= dim else dense(gen, value_dim, dim),
        "value_bias": torch.zeros(value_dim),
    }


def init_decoder(gen: torch.Generator, dim: int, value_dim: int, hidden: int, value_weight: Tensor) -> dict[str, Tensor]:
    """Memory Networks' decoder on ``[value (value_dim), query (dim)]``, its skip at
    ``SKIP_GAIN · W_vᵀ`` on the value and ``QUERY_GAIN · I`` on the query."""
    return {
        "hidden_weight": dense(gen, hidden, value_dim + dim), "hidden_bias": torch.zeros(hidden),
        "out_weight": dense(gen, dim, hidden, gain=0.1), "out_bias": torch.zeros(dim),
        "skip_weight": torch.cat([SKIP_GAIN * value_weight.T, QUERY_GAIN * torch.eye(dim)], dim=1),
    }


def keys_of(enc: dict[str, Tensor], x: Tensor) -> Tensor:
    """Patterns ``(..., d)`` in [0, 1] -> unit keys ``(..., key_dim)``."""
    return F.normalize((2 * x - 1) @ enc["key_weight"].T + enc["key_bias"], dim=-1)


def values_of(enc: dict[str, Tensor], x: Tensor) -> Tensor:
    """Patterns ``(..., d)`` in [0, 1] -> values ``(..., value_dim)``."""
    return (2 * x - 1) @ enc["value_weight"].T + enc["value_bias"]


def fixed_point_read(params: dict[str, dict[str, Tensor]], retrieve, queries: Tensor, steps: int,
                     trajectory: bool) -> Tensor:
    """Iterate ``x ← σ(decoder([retrieve(k(x)), 2q − 1]))`` ``steps`` times from ``x = q``.

    ``retrieve``: keys ``(B, M, key_dim)`` -> values ``(B, M, value_dim)``. Returns the last
    iterate ``(B, M, d)``, or every iterate ``(B, steps + 1, M, d)`` (the query first)."""
    s_q = 2 * queries - 1
    x = queries
    iterates = [queries]
    for _ in range(steps):
        value = retrieve(keys_of(params["encoder"], x))
        x = torch.sigmoid(decode(params["decoder"], torch.cat([value, s_q], dim=-1)))
        iterates.append(x)
    return torch.stack(iterates, dim=1) if trajectory else x


def check_mask(mask: Tensor | None, patterns: Tensor) -> Tensor:
    """``mask (B, N)`` 0/1 of the stored patterns (None: all) as a float tensor like ``patterns``."""
    if mask is None:
        return patterns.new_ones(patterns.shape[:2])
    if mask.shape != patterns.shape[:2]:
        raise ValueError(f"mask of shape {tuple(mask.shape)} does not match patterns {tuple(patterns.shape)}")
    return mask.to(patterns.dtype)
