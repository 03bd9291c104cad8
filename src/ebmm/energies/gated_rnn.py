"""The paper's gated-RNN energy for binary patterns (appendix B.1)."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ._base import EnergyModel, WritableLinear


class GatedRNNEnergy(EnergyModel):
    """Gated recurrent energy unrolled ``hops`` times from a zero state.

    Each hop, with ``z = [x, state]``::

        c = tanh([memory(x), static(z)])        # memory: Linear(d -> m), writable
        u = sigmoid(gate(z))
        state = u * c + (1 - u) * state

    and ``E(x) = out(state)``. Paper sizes: d = 128, hidden = 1024, m = 63, 5 hops
    (writable floats: 128·63 + 63 = 8127 within the 8256 budget).

    **Arguments:** ``dim`` d; ``hidden`` state size; ``memory_units`` m (< hidden);
    ``hops``; ``out_scale`` multiplies the initial output weights (PyTorch's default init
    gives energy gradients too small for read or write to move anything; 16 fixes it).
    """

    def __init__(
        self,
        dim: int = 128,
        hidden: int = 1024,
        memory_units: int = 63,
        hops: int = 5,
        out_scale: float = 16.0,
    ):
        super().__init__()
        if not 0 < memory_units < hidden:
            raise ValueError(f"memory_units must be in (0, hidden={hidden}), got {memory_units}")
        self.dim, self.hidden, self.hops = dim, hidden, hops
        self.memory = WritableLinear(dim, memory_units)
        self.static = nn.Linear(dim + hidden, hidden - memory_units)
        self.gate = nn.Linear(dim + hidden, hidden)
        self.out = nn.Linear(hidden, 1)
        for lin in (self.memory, self.static, self.gate):
            nn.init.kaiming_normal_(lin.weight, nonlinearity="tanh")
            nn.init.zeros_(lin.bias)
        with torch.no_grad():
            self.out.weight.mul_(out_scale)

    def forward(self, x: Tensor) -> Tensor:
        """``x: (..., d) -> energy (...)``."""
        state = x.new_zeros(*x.shape[:-1], self.hidden)
        mem = self.memory(x)  # (..., m): depends on x only, computed once
        for _ in range(self.hops):
            z = torch.cat([x, state], dim=-1)  # (..., d + hidden)
            c = torch.tanh(torch.cat([mem, self.static(z)], dim=-1))
            u = torch.sigmoid(self.gate(z))
            state = u * c + (1 - u) * state
        return self.out(state).squeeze(-1)
