"""Differentiable plasticity (Miconi, Clune & Stanley 2018): a recurrent network whose
connections are a fixed part plus a plastic Hebbian part.

One neuron per bit; a pattern ``x ∈ [0, 1]^d`` enters as the input ``g · s`` with
``s = 2x − 1`` its ±1 image (an erased bit 0.5 enters as 0, exactly Miconi's half-zeroed
pattern-completion task) and a fixed input gain g (Miconi's 20). Every step::

    y_{t+1} = tanh(y_t (W + α ⊙ H) + g · s_t + b)                      (row vector y)
    H       ← (1 − η) H + η · y_{t+1} y_{t+1}ᵀ                          (only while writing)

W (d×d), the plasticity coefficients α (d×d), the bias b and the trace rate η are
meta-learned; the Hebbian trace H, starting at zero in each episode, is the memory.

Writing presents the N patterns in order, each for ``present_steps`` steps, from y = 0.
Reading freezes H and presents each query, from y = 0, for ``read_steps`` steps; the
retrieval is ``(y + 1) / 2`` after the last step (the trajectory holds every step).

Memory budget: the trace is built from outer products ``y yᵀ`` of one activity vector, so
it is symmetric and is stored as its strict upper triangle ``"trace_upper"`` (d(d−1)/2) and
its diagonal ``"trace_diag"`` (d): d(d+1)/2 = 8256 floats at d = 128, the binary budget.

Departures from Miconi et al., made for the budget and for independent reads:
    - the Hebbian term is the outer product of the post-synaptic activity with itself,
      ``y_{t+1} y_{t+1}ᵀ``, not Miconi's pre- × post-synaptic ``y_t y_{t+1}ᵀ``: it is
      symmetric (so it fits the budget: a full 128×128 trace would need 16384 floats) and
      does not associate a pattern with its predecessor, so no zero-input pause between
      presentations is needed. While a pattern is held the two differ little;
    - no bias neuron (its plastic row would cost d more floats); a fixed bias b instead;
    - one presentation cycle (Miconi: two, 6 steps each, 4-step pauses) to keep the unrolled
      graph small at N = 96;
    - the trace is frozen while reading and every query starts from y = 0, so reading one
      query cannot change what another reads;
    - η is kept in (0, 1) by a sigmoid.

Reference:
    T. Miconi, J. Clune, K. O. Stanley, "Differentiable plasticity: training plastic neural
    networks with backpropagation", ICML 2018.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import Tensor

from ..dynamics import logit
from .protocol import MetaParams
from ._common import LearnedBaseline, blend, reconstruction_loss
from .hopfield import pack_symmetric, unpack_symmetric


@dataclass(frozen=True)
class DifferentiablePlasticity(LearnedBaseline):
    """A plastic recurrent network: a :class:`~ebmm.models.protocol.LearnedModel`.

    **Fields:** ``dim`` pattern dimension d (also the number of neurons); ``max_patterns`` N
    it is trained for; ``present_steps`` steps per pattern while writing; ``read_steps``
    recurrent steps per query; ``input_gain`` g; ``init_scale`` std of W and α at
    initialisation; ``eta_init`` the initial trace rate η. State: d(d+1)/2 floats.
    """

    kind: ClassVar[str] = "plasticity"
    dim: int = 128
    max_patterns: int = 96
    present_steps: int = 2  # steps each pattern is shown while writing
    read_steps: int = 6  # Miconi's PRESTIMETEST
    input_gain: float = 20.0  # Miconi's input scale: presented bits saturate their neuron
    init_scale: float = 0.01  # Miconi's W, α ~ 0.01·N(0, 1)
    eta_init: float = 0.01  # Miconi's η

    def __post_init__(self):
        self._check_positive_ints("dim", "max_patterns", "present_steps", "read_steps")
        if self.dim < 2:
            raise ValueError(f"DifferentiablePlasticity.dim must be >= 2, got {self.dim}")
        if not self.input_gain > 0 or not self.init_scale >= 0:
            raise ValueError("input_gain must be positive and init_scale non-negative")
        if not 0 < self.eta_init < 1:
            raise ValueError(f"eta_init must lie in (0, 1), got {self.eta_init}")

    # --- LearnedModel protocol (config, memory_size: LearnedBaseline's) -----------------------
    def init_params(self, seed: int = 0) -> MetaParams:
        g = torch.Generator().manual_seed(seed)
        d = self.dim
        return {
            "recurrent": {
                "weight": self.init_scale * torch.randn(d, d, generator=g),
                "bias": torch.zeros(d),
            },
            "plasticity": {
                "alpha": self.init_scale * torch.randn(d, d, generator=g),
                "eta_logit": torch.tensor(logit(self.eta_init)),
            },
        }

    def loss(
        self, params: MetaParams, patterns: Tensor, queries: Tensor, mask: Tensor | None = None
    ) -> tuple[Tensor, Tensor]:
        """:func:`~ebmm.models.memory_networks.reconstruction_loss` of the retrievals;
        ``mask (B, N)`` the stored patterns."""
        trace = self.write_trace(params, patterns, mask)
        out = self.read_trace(params, trace, queries)[:, -1]
        return reconstruction_loss(out, patterns, mask), out.detach()

    def write(self, params: MetaParams, patterns: Tensor, mask: Tensor | None = None) -> dict[str, Tensor]:
        """``patterns (B, N, d)`` -> ``{"trace_upper": (B, d(d−1)/2), "trace_diag": (B, d)}``;
        a pattern left out by ``mask (B, N)`` (0/1, None: none) is not presented."""
        trace = self.write_trace(params, patterns, mask)
        return {"trace_upper": pack_symmetric(trace), "trace_diag": trace.diagonal(dim1=-2, dim2=-1)}

    def read(self, params: MetaParams, state: dict[str, Tensor], queries: Tensor, trajectory: bool) -> Tensor:
        """``queries (B, M, d)`` -> ``(B, M, d)``, or ``(B, 1 + read_steps, M, d)`` with the trajectory."""
        trace = unpack_symmetric(state["trace_upper"], self.dim) + torch.diag_embed(state["trace_diag"])
        steps = self.read_trace(params, trace, queries)
        return torch.cat([queries.unsqueeze(1), steps], dim=1) if trajectory else steps[:, -1]

    def _state_shapes(self) -> dict[str, tuple[int, ...]]:
        d = self.dim
        return {"trace_upper": (d * (d - 1) // 2,), "trace_diag": (d,)}

    # --- the network --------------------------------------------------------------------------
    def write_trace(self, params: MetaParams, patterns: Tensor, mask: Tensor | None = None) -> Tensor:
        """Present ``patterns (B, N, d)`` in order, skipping those left out by ``mask (B, N)``;
        returns the Hebbian trace ``H (B, d, d)``."""
        b, n, d = patterns.shape
        w, bias = params["recurrent"]["weight"], params["recurrent"]["bias"]
        alpha = params["plasticity"]["alpha"]
        eta = torch.sigmoid(params["plasticity"]["eta_logit"])
        drive = self.input_gain * (2 * patterns - 1) + bias  # (B, N, d)
        y = patterns.new_zeros(b, 1, d)
        trace = patterns.new_zeros(b, d, d)
        for t in range(n):
            y_old, trace_old = y, trace
            for _ in range(self.present_steps):
                y = torch.tanh(y @ (w + alpha * trace) + drive[:, t : t + 1])  # (B, 1, d)
                trace = (1 - eta) * trace + eta * (y.transpose(-1, -2) @ y)
            if mask is not None:
                keep = mask[:, t].view(b, 1, 1)
                y, trace = blend(keep, y, y_old), blend(keep, trace, trace_old)
        return trace

    def read_trace(self, params: MetaParams, trace: Tensor, queries: Tensor) -> Tensor:
        """Run each query ``(B, M, d)`` for ``read_steps`` steps with the trace ``H (B, d, d)``
        frozen; returns every step mapped to [0, 1]: ``(B, read_steps, M, d)``."""
        weights = params["recurrent"]["weight"] + params["plasticity"]["alpha"] * trace  # (B, d, d)
        drive = self.input_gain * (2 * queries - 1) + params["recurrent"]["bias"]
        y = torch.zeros_like(queries)
        steps = []
        for _ in range(self.read_steps):
            y = torch.tanh(y @ weights + drive)
            steps.append((y + 1) / 2)
        return torch.stack(steps, dim=1)
