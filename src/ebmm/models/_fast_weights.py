"""What the two fast-weight memories share (:mod:`ebmm.models.delta_rule`,
:mod:`ebmm.models.mlp_memory`): the encoder that turns patterns into keys and values, the
decoder that turns a retrieved value back into a pattern, and the fixed-point read.

With ``s = 2x − 1`` the ±1 image of a pattern (an erased bit 0.5 → 0)::

    key    k(x) = normalize(W_k s + b_k)              unit length, as DeltaNet's L2-normalised keys
    value  v(x) = W_v s + b_v
    read   x_0 = q,   x_{t+1} = σ(decoder([R(k(x_t)), 2q − 1]))   for t = 0..steps−1

``R`` is the memory's retrieval (``S k`` for the delta rule, ``MLP_W(k)`` for the MLP memory).
The decoder is Memory Networks' (:func:`ebmm.models.memory_networks.decode`: one hidden ReLU
layer plus a linear skip) and sees the query beside the retrieved value. Each iterate lies in
[0, 1]: the logistic read-out is the projection onto [0, 1] (a hard clamp would stop the
meta-gradient at every saturated bit). A stored pattern ``x_i`` whose value is retrieved
exactly and decodes to itself is a fixed point: ``k(x_i)`` is the key it was written under.

**The box read** (``decoder="box"`` of :func:`fixed_point_read`) decodes the retrieved value instead by
the value encoder itself: the pattern in ``[−1, 1]^d`` whose value is nearest the retrieved
one, pulled towards the query's bits,

    s = argmin_{s ∈ [−1, 1]^d}  ½‖W_v s + b_v − R‖² + ½λ Σ_i |s_q,i| (s_i − s_q,i)²

by ``decode_steps`` steps of projected gradient with Nesterov momentum (FISTA, step
``1 / (‖W_v‖₂² + λ)``), then ``x = (s + 1) / 2``; the key of that estimate is read again,
``read_steps`` times. The pull weighs each bit by ``|s_q,i|``, what the query's value says of
it (an erased bit, 0.5, is not pulled; under ``replace`` every bit is, equally): no mask is
given. ``λ = exp(log_pull)`` is learned (in log scale, so that meta-training can move it by
orders of magnitude: ``erase`` wants it large, ``replace`` small). With at least as many values
as unknown bits a clean retrieval decodes exactly, and with fewer the box (the bits are ±1) still
narrows it; the learned decoder, one hidden layer, does not solve that system: at the binary
defaults, N = 16 under ``erase:64``, the trained delta rule reads 7.14 error bits through it and
1.22 through the box read (docs/fast-weights.md).

Private: the models' modules document their own parameters.
"""

from __future__ import annotations

import math

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


def init_decoder(gen: torch.Generator, dim: int, value_dim: int, hidden: int, value_weight: Tensor,
                 decoder: str = "learned") -> dict[str, Tensor]:
    """``decoder="learned"``: Memory Networks' decoder on ``[value (value_dim), query (dim)]``, its
    skip at ``SKIP_GAIN · W_vᵀ`` on the value and ``QUERY_GAIN · I`` on the query;
    ``decoder="box"``: the box read's one parameter (:func:`init_box_decoder`)."""
    if decoder == "box":
        return init_box_decoder()
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
                     trajectory: bool, decoder: str = "learned", decode_steps: int = 30) -> Tensor:
    """Iterate ``x ← decode(retrieve(k(x)))`` ``steps`` times from ``x = q``: with
    ``decoder="learned"`` ``decode(R) = σ(decoder([R, 2q − 1]))``, with ``decoder="box"``
    ``decode(R) = (box_decode(R) + 1) / 2`` by ``decode_steps`` FISTA steps (module docstring).

    ``retrieve``: keys ``(B, M, key_dim)`` -> values ``(B, M, value_dim)``. Returns the last
    iterate ``(B, M, d)``, or every iterate ``(B, steps + 1, M, d)`` (the query first)."""
    enc, dec = params["encoder"], params["decoder"]
    s_q = 2 * queries - 1
    if decoder == "box":
        def decode_value(value):
            return (box_decode(enc, dec["log_pull"], value, s_q, decode_steps) + 1) / 2
    else:
        def decode_value(value):
            return torch.sigmoid(decode(dec, torch.cat([value, s_q], dim=-1)))
    x = queries
    iterates = [queries]
    for _ in range(steps):
        x = decode_value(retrieve(keys_of(enc, x)))
        iterates.append(x)
    return torch.stack(iterates, dim=1) if trajectory else x


#: the box read's initial query pull λ: between what an untrained delta rule (86 × 96, N = 16–96)
#: reads best with under ``erase:64`` (10–100) and under ``replace:64`` (0.3–1)
PULL_INIT = 3.0


def init_box_decoder(pull: float = PULL_INIT) -> dict[str, Tensor]:
    """The box read's one parameter: ``{"log_pull": ()}``, ``λ = exp(log_pull)``."""
    return {"log_pull": torch.tensor(math.log(pull))}


def box_decode(enc: dict[str, Tensor], log_pull: Tensor, retrieved: Tensor, s_q: Tensor, steps: int) -> Tensor:
    """``argmin_{s ∈ [−1, 1]^d} ½‖W_v s + b_v − R‖² + ½λ Σ_i |s_q,i| (s_i − s_q,i)²`` by ``steps``
    FISTA steps from ``s_q``: ``retrieved (..., d_v)``, ``s_q (..., d)`` the query's ±1 image
    (0 where erased) -> ``s (..., d)`` in [−1, 1]."""
    w, b = enc["value_weight"], enc["value_bias"]
    lam = log_pull.exp()
    step = 1.0 / (torch.linalg.matrix_norm(w, ord=2).pow(2) + lam)
    weight = lam * s_q.abs()
    target = retrieved - b
    s = y = s_q
    t = 1.0
    for _ in range(steps):
        grad = (y @ w.T - target) @ w + weight * (y - s_q)
        new = (y - step * grad).clamp(-1.0, 1.0)
        t_next = (1 + (1 + 4 * t * t) ** 0.5) / 2
        y = new + ((t - 1) / t_next) * (new - s)
        s, t = new, t_next
    return s


#: the fast-weight memories' decoders: Memory Networks' learned one, or the box read
DECODERS = ("learned", "box")


def check_decoder(owner: str, decoder: str) -> None:
    if decoder not in DECODERS:
        raise ValueError(f"{owner}.decoder must be one of {DECODERS}, got {decoder!r}")


def check_mask(mask: Tensor | None, patterns: Tensor) -> Tensor:
    """``mask (B, N)`` 0/1 of the stored patterns (None: all) as a float tensor like ``patterns``."""
    if mask is None:
        return patterns.new_ones(patterns.shape[:2])
    if mask.shape != patterns.shape[:2]:
        raise ValueError(f"mask of shape {tuple(mask.shape)} does not match patterns {tuple(patterns.shape)}")
    return mask.to(patterns.dtype)
