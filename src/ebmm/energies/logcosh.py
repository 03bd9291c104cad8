"""Our own energy for binary patterns: a writable log-cosh layer, a static log-cosh layer and a
per-dimension quadratic."""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from ._base import EnergyModel, WritableLinear, logcosh


class LogCoshEnergy(EnergyModel):
    r"""A dense-associative-memory–like energy with writable projections.

    .. math::

        E(x) = -\sum_j v_j \log\cosh(w_j^\top s + b_j)
               -\sum_l r_l \log\cosh(u_l^\top [s, h] + c_l)
               + \tfrac12 \sum_i a_i (x_i - m_i)^2,   s = 2x - 1,  h = \tanh(Ws + b)

    where ``(W, b)`` — ``memory = Linear(d -> hidden)`` — is writable: with d = 128 and
    hidden = 64 that is 64·129 = 8256 floats, exactly the binary task's budget. ``v`` and
    the optional static layer ``(U, c, r)``, which sees the input and the writable features,
    are slow weights; ``a = softplus(.)`` and ``m``
    give a per-dimension quadratic that keeps reading stable inside [0, 1]. Inputs are
    centred (``s`` is the ±1 image of a binary pattern, erased entries 0), so a write step's
    Hebbian-like update is not dominated by the patterns' common mean.

    Writing by gradient descent on ``E`` at stored patterns is a Hebbian-like update of the
    rows of ``W`` towards the patterns; the gradient-norm term of the writing loss makes them
    stationary points. Cheap: one matmul per energy, 30–60× cheaper than the gated RNN.

    **Arguments:** ``dim`` d; ``hidden`` writable units; ``static_hidden`` static units
    (0 for none); ``quadratic`` adds the per-dimension quadratic; ``init_scale`` scales the
    initial writable weights (std ``init_scale/√d``).
    """

    def __init__(
        self,
        dim: int = 128,
        hidden: int = 64,
        static_hidden: int = 0,
        quadratic: bool = True,
        init_scale: float = 1.0,
    ):
        super().__init__()
        self.dim, self.hidden = dim, hidden
        self.memory = WritableLinear(dim, hidden)
        nn.init.normal_(self.memory.weight, std=init_scale / math.sqrt(dim))
        nn.init.zeros_(self.memory.bias)
        self.v = nn.Parameter(torch.ones(hidden))
        self.static = nn.Linear(dim + hidden, static_hidden) if static_hidden > 0 else None
        if self.static is not None:
            nn.init.normal_(self.static.weight, std=1.0 / math.sqrt(dim + hidden))
            nn.init.zeros_(self.static.bias)
            self.s = nn.Parameter(torch.full((static_hidden,), 0.1))
        self.quad_raw = nn.Parameter(torch.full((dim,), -2.0)) if quadratic else None
        self.quad_center = nn.Parameter(torch.full((dim,), 0.5)) if quadratic else None

    def forward(self, x: Tensor) -> Tensor:
        """``x: (..., d) -> energy (...)``."""
        s = 2.0 * x - 1.0
        h = self.memory(s)  # (..., hidden)
        e = -(logcosh(h) * self.v).sum(-1)
        if self.static is not None:
            z = torch.cat([s, torch.tanh(h)], dim=-1)
            e = e - (logcosh(self.static(z)) * self.s).sum(-1)
        if self.quad_raw is not None:
            a = torch.nn.functional.softplus(self.quad_raw)
            e = e + 0.5 * (a * (x - self.quad_center) ** 2).sum(-1)
        return e
