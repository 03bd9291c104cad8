"""Writing: T steps of gradient descent on the writable weights (paper eqs. 3–4).

    W(x, θ) = E(x; θ) + α‖∇ₓE(x; θ)‖² + β‖θ − θ̄‖²
    θ_{t+1} = θ_t − Σ_terms r[t, layer, term] · ∇_θ (1/N Σ_i term(x_i, θ_t)),   θ_0 = θ̄

The weights α, β are folded into the learned per-layer, per-term rates ``r`` (appendix).
The gradient-norm term is differentiated through ∇ₓE (second order), and the whole write is
differentiable with respect to θ̄, the rates and the static weights.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ..config import WRITE_TERMS
from ..energies import Params
from .read import EnergyFn, energy_grad


def masked_mean(values: Tensor, mask: Tensor | None) -> Tensor:
    """Mean over the last axis, counting only entries where ``mask`` is 1 (all when None)."""
    if mask is None:
        return values.mean(-1)
    return (values * mask).sum(-1) / mask.sum(-1).clamp_min(1.0)


def sum_event(values: Tensor, event_dims: int = 1) -> Tensor:
    """Sum over the last ``event_dims`` axes — one pattern's entries (1 for vectors ``(d,)``,
    3 for images ``(C, H, W)``)."""
    return values.sum(dim=tuple(range(-event_dims, 0)))


def writing_terms(
    energy_fn: EnergyFn,
    theta: Params,
    patterns: Tensor,
    mask: Tensor | None = None,
    reduction: str = "mean",
    event_dims: int = 1,
) -> tuple[Tensor, Tensor]:
    """The data terms of the writing loss over ``patterns (..., N, *event)``: ``(E, ‖∇ₓE‖²)``
    averaged (``reduction="mean"``, the paper's eq. 4) or summed (``"sum"``) over patterns,
    and summed over any leading episode axes (episodes are independent, so each episode's
    weights get only their own gradient). ``mask (..., N)`` marks which patterns are stored
    (episodes of different sizes padded to one shape). A pattern has ``event_dims`` trailing
    axes (1 for vectors, 3 for images), which the gradient norm sums over.

    With the mean, each pattern's share of a write step shrinks as 1/N, so the scale of the
    written weights — and the read step size that suits them — depends on N; with the sum
    each pattern leaves the same imprint whatever N, as in Hebb's rule."""
    energy = energy_fn(theta, patterns)
    grad_sq = sum_event(energy_grad(energy_fn, theta, patterns).pow(2), event_dims)
    if reduction == "sum":
        m = 1.0 if mask is None else mask
        return (energy * m).sum(), (grad_sq * m).sum()
    return masked_mean(energy, mask).sum(), masked_mean(grad_sq, mask).sum()


def write(
    energy_fn: EnergyFn,
    theta_init: Params,
    patterns: Tensor,
    rates: Tensor,
    layers: list[list[str]],
    terms: tuple[str, ...] = WRITE_TERMS,
    mask: Tensor | None = None,
    reduction: str = "mean",
    event_dims: int = 1,
) -> Params:
    """Store ``patterns (N, *event)`` (``(N, d)`` for vectors); return the new writable weights
    (``theta_init`` is untouched).

    Batched: with ``patterns (B, N, *event)`` and every ``theta_init`` tensor given a leading
    episode axis B (e.g. ``expand``), each episode is written into its own weights.

    **Arguments:** ``rates (T, L, 3)`` non-negative rates per step, layer and term (in the
    order of :data:`ebmm.config.WRITE_TERMS`); ``layers`` the writable names grouped into the
    ``L`` layers; ``terms`` which terms are on; ``mask (..., N)`` which patterns count (for
    padded batches of episodes with different N; None: all); ``reduction`` ``"mean"`` or
    ``"sum"`` over patterns (see :func:`writing_terms`); ``event_dims`` the number of
    trailing axes of one pattern (1 for vectors, 3 for images ``(C, H, W)``).
    """
    use_e, use_g, use_p = (t in terms for t in WRITE_TERMS)
    theta = dict(theta_init)
    for t in range(rates.shape[0]):
        if use_e or use_g:
            (e, g), vjp_fn = torch.func.vjp(
                lambda th: writing_terms(energy_fn, th, patterns, mask, reduction, event_dims), theta
            )
            one, zero = torch.ones_like(e), torch.zeros_like(e)
            grad_e = vjp_fn((one, zero))[0] if use_e else None
            grad_g = vjp_fn((zero, one))[0] if use_g else None
        new = {}
        for li, names in enumerate(layers):
            r = rates[t, li]
            for name in names:
                step = torch.zeros_like(theta[name])
                if use_e:
                    step = step + r[0] * grad_e[name]
                if use_g:
                    step = step + r[1] * grad_g[name]
                if use_p:
                    step = step + r[2] * 2.0 * (theta[name] - theta_init[name])
                new[name] = theta[name] - step
        theta = new
    return theta
