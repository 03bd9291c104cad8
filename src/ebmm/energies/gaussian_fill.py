"""The Gaussian residual read of the image slot energy: fill untrusted pixels from a stored image
and from the pixels the query has right.

Each stored image j is a Gaussian in pixel space around its decoded slot ``d_j = m + δ Aᵀk_j``,
whose covariance ``C = Λ⁻¹`` is that of what a c-float code misses — the training images'
residuals after their projection on the code space (:func:`residual_precision`). The read's
energy is the mixture's negative log-likelihood

.. math::

    E(x) = -\\log \\sum_j \\exp\\big(-\\tfrac12 (x - d_j)^\\top \\Lambda (x - d_j)\\big).

With the trusted pixels v held at the query's values and the untrusted ones u free, each
component splits exactly (the Gaussian chain rule) into

.. math::

    \\tfrac12 (x - d_j)^\\top \\Lambda (x - d_j) = c_j + \\tfrac12 (x_u - t_j)^\\top \\Lambda_{uu} (x_u - t_j),

    c_j = \\tfrac12 r_j^\\top (\\Lambda_{vv} - \\Lambda_{vu}\\Lambda_{uu}^{-1}\\Lambda_{uv}) r_j,
    \\qquad t_j = d_{j,u} - \\Lambda_{uu}^{-1}\\Lambda_{uv} r_j, \\qquad r_j = q_v - d_{j,v}:

``c_j`` measures how well stored image j explains the pixels the query has right (the
marginal Mahalanobis distance on v), and ``t_j`` is the Gaussian conditional mean of the hidden
pixels given them — the stored image's decoded square corrected by how the visible residual
continues into it. :func:`read_plan` computes c, t and Λ_uu once per read (the trusted pixels do
not move); the energy the read descends is

.. math::

    E(x_u) = -\\log \\sum_j \\exp\\big(-c_j - \\tfrac{\\gamma}{2} (x_u - t_j)^\\top \\Lambda_{uu} (x_u - t_j)\\big),

the mixture itself at γ = 1; a small learned γ makes the slot choice rest on the trusted pixels
(c_j) rather than on where the hidden ones happen to be. Its gradient is
``γ Λ_uu (x_u − t̄)``, ``t̄ = Σ_j r_j t_j``, ``r = softmax(−E_j)``; the read steps along the
Newton direction ``(γΛ_uu)⁻¹∇E = x_u − t̄`` (:func:`newton_direction`), so a step of size 1
lands on the fill. The read starts at the fill of the slot choice by c alone.

Costs per query: one Cholesky factorisation of Λ_uu (256 × 256 for a 16×16 square) and one
product with Λ per stored image — about 4·10⁹ floating-point operations for 64 queries of 64
stored 32×32 images.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor


def residual_precision(images: Tensor, mean: Tensor, rows: Tensor, ridge: float) -> Tensor:
    """``Λ (D, D)``: the inverse of the covariance of what the code misses — training images
    ``(n, C, H, W)`` minus their projection ``m + AᵀA(x − m)`` on the encoder's rows ``A (c, D)`` —
    plus ``ridge`` on its diagonal (the residual has no variance along the code's directions, the
    ridge gives them some). Computed in float64, returned float32."""
    if ridge <= 0:
        raise ValueError(f"ridge must be > 0, got {ridge}")
    flat = torch.as_tensor(images).flatten(1).double()
    m, a = mean.double(), rows.double()
    res = flat - ((flat - m) @ a.T @ a + m)
    cov = res.T @ res / res.shape[0] + ridge * torch.eye(res.shape[1], dtype=torch.float64)
    prec = torch.linalg.inv(cov)
    return (0.5 * (prec + prec.T)).float()


@dataclass
class ReadPlan:
    """What a read needs from one set of queries ``Q`` (flattened leading axes), once per read:
    ``idx (Q, U)`` the untrusted pixels of each query (padded to the largest count U; ``valid
    (Q, U)`` marks the real ones), ``luu (Q, U, U)`` Λ_uu (identity on padding), ``fills (Q, S, U)``
    t_j, ``costs (Q, S)`` c_j, ``gamma`` γ, and ``logdet (Q,)`` log det Λ_uu — with it, ``c_j + ½ log
    det Λ_uu`` is the negative log-likelihood of the trusted pixels under component j up to a
    constant of the trusted count (log det Σ_vv = log det Λ_uu − log det Λ)."""

    idx: Tensor
    valid: Tensor
    luu: Tensor
    fills: Tensor
    costs: Tensor
    gamma: Tensor
    logdet: Tensor | None = None

    def components(self, xu: Tensor) -> Tensor:
        """``E_j(x_u) = c_j + γ/2 (x_u − t_j)ᵀΛ_uu(x_u − t_j)``, ``(Q, S)``, for the hidden pixels ``xu (Q, U)``."""
        diff = xu.unsqueeze(-2) - self.fills  # (Q, S, U)
        return self.costs + 0.5 * self.gamma * ((diff @ self.luu) * diff).sum(-1)

    def mixture(self, xu: Tensor) -> Tensor:
        """``r (Q, S)``: the slots' responsibilities for the hidden pixels ``xu (Q, U)``."""
        return torch.softmax(-self.components(xu), dim=-1)

    def energy(self, xu: Tensor) -> Tensor:
        """``E(x_u) = −log Σ_j exp(−E_j(x_u))``, ``(Q,)`` (module docstring)."""
        return -torch.logsumexp(-self.components(xu), dim=-1)

    def gather(self, flat: Tensor) -> Tensor:
        """The untrusted pixels ``(Q, U)`` of images ``flat (Q, D)`` (0 on padding)."""
        return torch.gather(flat, -1, self.idx) * self.valid

    def scatter(self, values: Tensor, like: Tensor) -> Tensor:
        """``values (Q, U)`` placed at the untrusted pixels of a zero tensor shaped ``like (Q, D)``."""
        return torch.zeros_like(like).scatter_add(-1, self.idx, values * self.valid)

    def start(self, flat: Tensor) -> Tensor:
        """Images ``flat (Q, D)`` with the hidden pixels at the fill of the slot choice by c alone."""
        fill = (torch.softmax(-self.costs, dim=-1).unsqueeze(-2) @ self.fills).squeeze(-2)
        return flat - self.scatter(self.gather(flat), flat) + self.scatter(fill, flat)

    def newton_direction(self, flat: Tensor) -> Tensor:
        """``(γΛ_uu)⁻¹∇E = x_u − t̄`` on the hidden pixels of ``flat (Q, D)``, 0 elsewhere."""
        xu = self.gather(flat)
        target = (self.mixture(xu).unsqueeze(-2) @ self.fills).squeeze(-2)
        return self.scatter(xu - target, flat)


def read_plan(precision: Tensor, decoded: Tensor, queries: Tensor, held: Tensor, gamma: Tensor) -> ReadPlan:
    """The read's constants for queries ``(Q, D)`` (flattened), their trusted pixels ``held (Q, D)``
    and the decoded slots ``decoded (Q, S, D)`` (each query's episode's), under the residual
    precision ``Λ (D, D)``; see the module docstring."""
    q, d = queries.shape
    lam = 0.5 * (precision + precision.T)
    untrusted = ~held
    counts = untrusted.sum(-1)
    u = max(int(counts.max()), 1)
    order = torch.argsort(held.to(torch.int8), dim=-1, stable=True)  # untrusted pixels first
    idx = order[:, :u]
    valid = torch.arange(u, device=queries.device) < counts.unsqueeze(-1)  # (Q, U)
    pair = valid.unsqueeze(-1) & valid.unsqueeze(-2)
    eye = torch.eye(u, dtype=lam.dtype, device=lam.device)
    luu = torch.where(pair, lam[idx.unsqueeze(-1), idx.unsqueeze(-2)], eye)  # (Q, U, U)
    resid = (queries.unsqueeze(-2) - decoded) * held.unsqueeze(-2)  # (Q, S, D): r_j on v, 0 on u
    full = resid @ lam  # (Q, S, D); at the untrusted pixels it is Λ_uv r_j, r_j being 0 there
    y = torch.gather(full, -1, idx.unsqueeze(-2).expand(-1, full.shape[-2], -1)) * valid.unsqueeze(-2)  # (Q, S, U)
    chol = torch.linalg.cholesky(luu)
    sol = torch.cholesky_solve(y.transpose(-1, -2), chol).transpose(-1, -2)  # Λ_uu⁻¹ Λ_uv r_j
    costs = 0.5 * ((full * resid).sum(-1) - (y * sol).sum(-1))
    fills = torch.gather(decoded, -1, idx.unsqueeze(-2).expand(-1, decoded.shape[-2], -1)) - sol
    logdet = 2.0 * chol.diagonal(dim1=-2, dim2=-1).log().sum(-1)
    return ReadPlan(idx, valid, luu, fills * valid.unsqueeze(-2), costs, gamma, logdet)
