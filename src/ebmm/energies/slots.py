r"""A slot energy: writable slots compared to an encoding of the pattern by Euclidean similarity.

.. math::

    E(x) = \tfrac{\mu}{2}\|\phi\|^2
           - \tfrac{1}{\beta}\log\sum_{j=1}^{S}\exp\big(\beta\,(k_j^\top\phi - \tfrac12\|k_j\|^2)\big),
    \qquad \phi = A(2x - 1) + a

The writable weights are the slot table ``K = (k_1 … k_S)`` — ``memory.weight (S, c)``; the
encoder ``(A, a)``, the sharpness β and the curvature μ are slow weights. With S = 96 slots of
c = 86 floats the table holds 8256 floats, the binary task's budget.

Why this energy (see ``benchmarks/results/quality_vs_compute.md`` for the measurements):

* **Writing is competitive.** The energy term's gradient for slot j at a pattern is
  ``-r_j (φ - k_j)`` with ``r = softmax(β sim)``: one gradient step moves the slot the pattern
  matches best towards the pattern's code. The ``-½‖k_j‖²`` in the similarity (the Euclidean
  similarity of Universal Hopfield Networks, up to a term common to all slots) makes a slot
  that already holds a pattern *unattractive* to an unrelated pattern, while θ̄ — small
  random slots, meta-learned — leaves the free slots near zero similarity and breaks their
  symmetry. Written pattern by pattern (``WriteConfig.chunk = 1``) each pattern therefore
  takes a free slot of its own; written all at once (the paper's batch step) patterns that
  hash to the same free slot collide.
* **Reading is least squares.** With the right slot selected, ``∇ₓE = 2Aᵀ(μφ − k)``: projected
  gradient descent on x solves ``A s ≈ k/μ`` in the box ``[0, 1]^d``. A code of c = 86 floats
  for 64 erased bits is an over-determined system, so a few Nesterov steps recover the
  erased bits exactly; a stored 128-bit pattern is compressed to 86 floats.
* **Closed-form gradients.** Both the write step and ∇ₓE are a few matrix products
  (:meth:`SlotEnergy.grad_x`, :meth:`SlotEnergy.write_param_grads`), so the meta-gradient needs
  only first-order autodiff through the unrolled write and read. ``torch.func`` on
  :meth:`forward` gives the same numbers (tested in float64) and stays the reference path.

**The writing energy.** The write descends a writing loss whose energy term is

.. math::

    E_w(x) = \tfrac{\mu}{2}\|\phi\|^2
             - \tfrac{1}{\beta}\log\sum_j\exp\big(\beta\,(k_j^\top\phi - \tfrac{\lambda}{2}\|k_j\|^2)\big)

— the energy with its slot-norm penalty scaled by λ (``write_norm``; λ = 1 is E itself, the
paper's writing loss). One energy cannot serve both decisions well: a new pattern should
*avoid* a slot that holds another pattern, a query should *find* the slot that holds its own.
With E alone a pattern shares a written slot when its overlap with that slot's pattern
exceeds ω/2, and a query is captured by a free slot when its overlap with its own pattern
falls below the same ω/2 (ω the write rate); with E_w the write's threshold is λω/2 and the
read's stays ω/2, so both can be right (measured, untrained, erase:64, 10,000 patterns per N,
N = 16/32/48/64/96: ω = 0.8, λ = 1 → 0.079/0.131/0.182/0.221/0.301 error bits; ω = 0.5,
λ = 2.4 → 0.012/0.013/0.016/0.014/0.013). From a free slot (k ≈ 0) the step is unchanged:
the slot moves a fraction ω of the way to the pattern's code.

**Arguments:** ``dim`` d; ``slots`` S; ``code`` c (floats per slot); ``beta`` initial β;
``curvature`` initial μ; ``init_scale`` the std of θ̄'s entries; ``write_norm`` initial λ.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from ._base import EnergyModel, Params


class SlotTable(nn.Module):
    """The writable slot table ``weight (S, c)`` (``(..., S, c)`` once written per episode)."""

    def __init__(self, slots: int, code: int):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(slots, code))


class SlotEnergy(EnergyModel):
    """Euclidean-similarity slot energy; see the module docstring."""

    #: the writing-loss terms whose gradients :meth:`write_param_grads` gives in closed form
    closed_form_terms = ("energy",)

    def __init__(
        self,
        dim: int = 128,
        slots: int = 96,
        code: int = 86,
        beta: float = 300.0,
        curvature: float = 0.8,
        init_scale: float = 0.1,
        write_norm: float = 1.0,
    ):
        super().__init__()
        if code > dim:
            raise ValueError(f"code ({code}) must not exceed dim ({dim}): the encoder has orthonormal rows")
        self.dim, self.slots, self.code = dim, slots, code
        self.memory = SlotTable(slots, code)
        nn.init.normal_(self.memory.weight, std=init_scale)
        self.encoder = nn.Linear(dim, code)
        with torch.no_grad():  # orthonormal rows: the code keeps as much of the pattern as c allows
            q, _ = torch.linalg.qr(torch.randn(dim, code))
            self.encoder.weight.copy_(q.T)
            self.encoder.bias.zero_()
        self.log_beta = nn.Parameter(torch.tensor(math.log(beta)))
        self.curvature_raw = nn.Parameter(torch.tensor(curvature + math.log(-math.expm1(-curvature))))
        if write_norm <= 0:
            raise ValueError(f"write_norm must be > 0, got {write_norm}")
        self.log_write_norm = nn.Parameter(torch.tensor(math.log(write_norm)))

    # --- the energy -----------------------------------------------------------------------------
    #: ``forward(x, write=True)`` is the writing energy E_w (see the module docstring)
    has_write_energy = True

    def forward(self, x: Tensor, write: bool = False) -> Tensor:
        """``x: (..., d) -> energy (...)``; with per-episode slots ``(B, S, c)``, ``x (B, M, d)``.
        ``write=True`` gives the writing energy E_w (slot-norm penalty × λ)."""
        static = {"encoder.weight": self.encoder.weight, "encoder.bias": self.encoder.bias,
                  "log_beta": self.log_beta, "curvature_raw": self.curvature_raw,
                  "log_write_norm": self.log_write_norm}
        phi, sims, beta, mu = _pieces(static, self.memory.weight, x, write)
        e = 0.5 * mu * phi.pow(2).sum(-1) - torch.logsumexp(beta * sims, dim=-1) / beta
        return e.squeeze(0) if x.dim() == 1 else e

    # --- closed forms (the fast path; checked against torch.func in the tests) -------------------
    @staticmethod
    def grad_x(static: Params, theta: Params, x: Tensor) -> Tensor:
        """``∇ₓE (..., d) = 2 Aᵀ (μ φ − Σ_j r_j k_j)``, ``r = softmax(β sim)``, as a pure function
        of the static weights, the slot table ``theta`` and ``x (..., M, d)``."""
        slots = theta["memory.weight"]
        phi, sims, beta, mu = _pieces(static, slots, x)
        r = torch.softmax(beta * sims, dim=-1)  # (..., M, S)
        g = 2.0 * (mu * phi - r @ slots) @ static["encoder.weight"]
        return g.squeeze(0) if x.dim() == 1 else g

    @staticmethod
    def write_param_grads(static: Params, theta: Params, x: Tensor, weights: Tensor | None = None,
                          energy: bool = True, grad_norm: bool = False) -> tuple[Params | None, None]:
        """Gradient of ``Σ_i w_i E_w(x_i)`` (the writing energy) with respect to the slot table:
        ``−Σ_i w_i r_ij (φ_i − λ k_j)`` for every slot j, ``r = softmax(β (kᵀφ − λ‖k‖²/2))``. (The gradient-norm term has no closed
        form here: an architecture that writes with it differentiates with ``torch.func``.)

        **Arguments:** ``x (..., N, d)`` patterns (leading episode axes match the slots');
        ``weights (..., N)`` per-pattern weights (None: all 1).
        **Returns:** ``({"memory.weight": (..., S, c)}, None)``.
        """
        if grad_norm:
            raise ValueError("the slot energy has no closed form of the gradient-norm term; use closed_form=False")
        if not energy:
            return None, None
        slots = theta["memory.weight"]
        phi, sims, beta, _ = _pieces(static, slots, x, write=True)
        lam = static["log_write_norm"].exp() if "log_write_norm" in static else 1.0
        return {"memory.weight": slot_write_grad(slots, phi, sims, beta, lam, weights)}, None


def slot_write_grad(slots: Tensor, phi: Tensor, sims: Tensor, beta: Tensor, lam: Tensor | float,
                    weights: Tensor | None = None) -> Tensor:
    """The writing energy's gradient with respect to the slot table, ``−Σ_i w_i r_ij (φ_i − λ k_j)``,
    from the codes ``φ (..., N, c)`` and writing similarities ``(..., N, S)`` of the patterns
    (``r = softmax(β sim)``); shared by every slot energy whatever its code."""
    r = torch.softmax(beta * sims, dim=-1)  # (..., N, S)
    if weights is not None:
        r = r * weights.unsqueeze(-1)
    pulled = r.transpose(-1, -2) @ phi  # (..., S, c): Σ_i r_ij φ_i
    return lam * r.sum(-2).unsqueeze(-1) * slots - pulled


def _pieces(static: Params, slots: Tensor, x: Tensor, write: bool = False) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """``φ (..., M, c)``, similarities ``k_j·φ − ½‖k_j‖² (..., M, S)`` (``write``: the writing
    energy's, ``k_j·φ − (λ/2)‖k_j‖²``), β and μ."""
    phi = (2.0 * x - 1.0) @ static["encoder.weight"].T + static["encoder.bias"]
    if phi.dim() == 1:
        phi = phi.unsqueeze(0)
    norm = 0.5 * slots.pow(2).sum(-1).unsqueeze(-2)
    if write and "log_write_norm" in static:
        norm = norm * static["log_write_norm"].exp()
    sims = phi @ slots.transpose(-1, -2) - norm
    beta = static["log_beta"].exp()
    mu = nn.functional.softplus(static["curvature_raw"])
    return phi, sims, beta, mu
