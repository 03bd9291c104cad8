"""Reading: projected gradient descent on x with Nesterov momentum (paper eq. 1, appendix A).

    x̂   = proj(x_k + ψ_k v_{k-1})
    v_k = ψ_k v_{k-1} − γ_k ∇ₓE(x̂)
    x_{k+1} = proj(x_k + v_k)
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from ..energies import Params

EnergyFn = Callable[[Params, Tensor], Tensor]
"""``energy_fn(theta, x: (..., *event)) -> (...)``: the energy under writable weights ``theta``
(``event`` = ``(d,)`` for vectors, ``(C, H, W)`` for images)."""


def project(x: Tensor, leak: float = 0.0) -> Tensor:
    """Clip into [0, 1]. With ``leak > 0`` the value is still clipped but that fraction of the
    gradient passes outside the bounds (used only while meta-training)."""
    y = x.clamp(0.0, 1.0)
    if leak > 0.0:
        outside = x - y
        y = y + leak * (outside - outside.detach())
    return y


def energy_grad(energy_fn: EnergyFn, theta: Params, x: Tensor) -> Tensor:
    """``∇ₓE`` pattern by pattern: ``x (..., *event) -> (..., *event)``."""
    return torch.func.grad(lambda x_: energy_fn(theta, x_).sum())(x)


def read(
    energy_fn: EnergyFn,
    theta: Params,
    queries: Tensor,
    step_sizes: Tensor,
    momenta: Tensor,
    leak: float = 0.0,
    grad_fn: Callable[[Params, Tensor], Tensor] | None = None,
    known: Tensor | None = None,
) -> Tensor:
    """Retrieve from ``queries (M, *event)`` by ``K = len(step_sizes)`` projected Nesterov steps.

    A pure function of the writable weights ``theta``. ``grad_fn(theta, x)`` is a closed form of
    ``∇ₓE`` (e.g. :meth:`ebmm.energies.SlotEnergy.grad_x`); None differentiates ``energy_fn``
    with ``torch.func``. ``known (M, *event)`` bool (broadcastable), None for none: entries the
    query has right, held at the query's values — projected back after every step (the
    *clamped completion* protocol: only the unknown entries move).

    **Returns:** the iterates ``x_1 … x_K`` as ``(K, M, *event)``; the retrieval is the last.
    """
    x = queries
    v = torch.zeros_like(queries)
    grad = grad_fn or (lambda th, x_: energy_grad(energy_fn, th, x_))

    def proj(y: Tensor) -> Tensor:
        y = project(y, leak)
        return y if known is None else torch.where(known, queries, y)

    iterates = []
    for k in range(step_sizes.shape[0]):
        x_ahead = proj(x + momenta[k] * v)
        v = momenta[k] * v - step_sizes[k] * grad(theta, x_ahead)
        x = proj(x + v)
        iterates.append(x)
    return torch.stack(iterates)
