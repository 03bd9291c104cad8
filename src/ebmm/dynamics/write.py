"""Writing: T steps of gradient descent on the writable weights (paper eqs. 3–4).

    W(x, θ) = E(x; θ) + α‖∇ₓE(x; θ)‖² + β‖θ − θ̄‖²
    θ_{t+1} = θ_t − Σ_terms r_term[t, layer] · ∇_θ (1/N Σ_i term(x_i, θ_t)),   θ_0 = θ̄

The weights α, β are folded into the learned per-layer, per-term rates ``r`` (appendix).
The gradient-norm term is differentiated through ∇ₓE (second order), and the whole write is
differentiable with respect to θ̄, the rates and the static weights.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

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


ParamGradFn = Callable[[Params, Tensor, Tensor | None, bool, bool], tuple[Params | None, Params | None]]
"""``param_grad_fn(theta, patterns (..., n, *event), weights (..., n) | None, energy, grad_norm)``
``-> (∇_θ Σ_i w_i E(x_i), ∇_θ Σ_i w_i ‖∇ₓE(x_i)‖²)``, each None unless asked for: closed forms of
the data terms' gradients (see ``write_param_grads`` of :class:`ebmm.energies.SlotEnergy` and
:class:`ebmm.energies.LogCoshEnergy`)."""


def write(
    energy_fn: EnergyFn,
    theta_init: Params,
    patterns: Tensor,
    rates: Mapping[str, Tensor],
    layers: list[list[str]],
    mask: Tensor | None = None,
    reduction: str = "mean",
    event_dims: int = 1,
    chunk: int = 0,
    param_grad_fn: ParamGradFn | None = None,
) -> Params:
    """Store ``patterns (N, *event)`` (``(N, d)`` for vectors); return the new writable weights
    (``theta_init`` is untouched).

    Batched: with ``patterns (B, N, *event)`` and every ``theta_init`` tensor given a leading
    episode axis B (e.g. ``expand``), each episode is written into its own weights.

    **Arguments:** ``rates`` non-negative rates per term that is on (keys of
    :data:`ebmm.config.WRITE_TERMS`): ``(T, L)`` per pass and layer, for ``"prior"`` ``(T − 1, L)``
    when ``chunk == 0`` (its gradient ``2(θ − θ̄)`` is zero at the first step, so the first step
    has no prior rate); ``layers`` the writable names grouped into the ``L`` layers; ``mask
    (..., N)`` which patterns count (for padded batches of episodes with different N; None: all);
    ``reduction`` ``"mean"`` or ``"sum"`` over patterns (see :func:`writing_terms`);
    ``event_dims`` the number of trailing axes of one pattern (1 for vectors, 3 for images);
    ``chunk`` 0 writes every pattern in every step (the paper's eq. 4); ``chunk = c`` writes the
    patterns c at a time, in order, one gradient step per chunk and pass (``T`` passes of
    ``⌈N/c⌉`` steps) — with ``c = 1`` a competitive energy gives each pattern its own share of
    the weights (see :class:`ebmm.energies.SlotEnergy`); ``param_grad_fn`` closed forms of the
    data terms' gradients, used instead of ``torch.func`` when given.
    """
    use_e, use_g, use_p = (t in rates for t in WRITE_TERMS)
    n = patterns.shape[-1 - event_dims]
    bounds = [(0, n)] if chunk <= 0 else [(a, min(a + chunk, n)) for a in range(0, n, chunk)]
    theta = dict(theta_init)
    for t in range(_passes(rates, chunk)):
        for a, b in bounds:
            part = patterns.narrow(-1 - event_dims, a, b - a)
            part_mask = None if mask is None else mask[..., a:b]
            grad_e = grad_g = None
            if param_grad_fn is not None and (use_e or use_g):
                weights = _pattern_weights(part_mask, part, event_dims, reduction)
                grad_e, grad_g = param_grad_fn(theta, part, weights, use_e, use_g)
            elif use_e or use_g:
                (e, g), vjp_fn = torch.func.vjp(
                    lambda th: writing_terms(energy_fn, th, part, part_mask, reduction, event_dims), theta
                )
                one, zero = torch.ones_like(e), torch.zeros_like(e)
                grad_e = vjp_fn((one, zero))[0] if use_e else None
                grad_g = vjp_fn((zero, one))[0] if use_g else None
            prior_t = t - 1 if chunk <= 0 else t  # batch writes: no prior step at t = 0
            new = {}
            for li, names in enumerate(layers):
                for name in names:
                    step = torch.zeros_like(theta[name])
                    if use_e:
                        step = step + rates["energy"][t, li] * grad_e[name]
                    if use_g:
                        step = step + rates["grad_norm"][t, li] * grad_g[name]
                    if use_p and prior_t >= 0:
                        step = step + rates["prior"][prior_t, li] * 2.0 * (theta[name] - theta_init[name])
                    new[name] = theta[name] - step
            theta = new
    return theta


def _passes(rates: Mapping[str, Tensor], chunk: int) -> int:
    """The number of passes T the rates describe."""
    for term in ("energy", "grad_norm"):
        if term in rates:
            return rates[term].shape[0]
    return rates["prior"].shape[0] + (1 if chunk <= 0 else 0)


def _pattern_weights(mask: Tensor | None, part: Tensor, event_dims: int, reduction: str) -> Tensor | None:
    """Per-pattern weights of the energy term in one write step: the mask, divided by the number
    of stored patterns for the ``"mean"`` reduction."""
    if reduction == "sum":
        return mask
    if mask is None:
        return torch.full(part.shape[: part.dim() - event_dims], 1.0 / part.shape[-1 - event_dims],
                          dtype=part.dtype, device=part.device)
    return mask / mask.sum(-1, keepdim=True).clamp_min(1.0)
