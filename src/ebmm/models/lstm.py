"""The LSTM baseline (Hochreiter & Schmidhuber 1997), meta-trained on the binary task.

Its memory is the recurrent state: writing runs the LSTM over the ``N`` patterns, one per
time step, from a learned initial state; the state ``{h, c}`` it ends in (``2·H`` floats)
is all that is kept. Reading feeds one query from that state — every query starts from the
same written state, so queries never see each other — and decodes the new hidden state::

    write:  (h, c) ← LSTM(s_t, (h, c))   for t = 1..N,   s_t = 2 x_t − 1   (±1, erased 0)
    read:   (h', ·) = LSTM(2 q − 1, (h, c)), b_query added to its gates;   x̂ = sigmoid(W_out h' + b_out)

The read step adds a learned gate bias ``b_query`` (zero at the start): the weight of an
input flag that is 1 on the query step alone, the usual phase marker of sequence tasks, so
that the cell can tell a query from one more pattern to store (a flipped query looks like one).

Gates follow ``torch.nn.LSTMCell`` (input, forget, cell, output; forget bias initialised to
1, Jozefowicz et al. 2015). With ``recurrent_rank = r > 0`` the recurrent matrix is factored,
``W_hh = W_up W_down`` with ``W_down (r, H)`` and ``W_up (4H, r)`` (the F-LSTM of Kuchaiev &
Ginsburg 2017, applied to the recurrent part only): the state keeps its full ``2H`` floats
while the cost per step falls from ``4H²`` to ``5Hr``. This is what makes the paper's
budget — ``2H = 8256``, ``H = 4128`` — trainable on a CPU; a full ``W_hh`` at that size has
68 M weights. ``recurrent_rank = 0`` gives the plain LSTM.

References:
    S. Hochreiter, J. Schmidhuber, "Long short-term memory", Neural Computation 9 (1997).
    R. Jozefowicz, W. Zaremba, I. Sutskever, "An empirical exploration of recurrent network
    architectures", ICML 2015.
    O. Kuchaiev, B. Ginsburg, "Factorization tricks for LSTM networks", ICLR workshop 2017.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import Tensor

from .protocol import MetaParams
from ._common import LearnedBaseline, blend


@dataclass(frozen=True)
class LSTM(LearnedBaseline):
    """An LSTM whose state after reading the patterns is the memory: the ``"lstm"``
    :class:`~ebmm.models.protocol.LearnedModel`.

    **Fields:** ``dim`` pattern dimension d; ``max_patterns`` N it is trained for; ``hidden``
    H (the memory is ``h`` and ``c``: ``2H`` floats, 8256 at the default); ``recurrent_rank``
    r of the recurrent matrix (0: full rank, ``4H²`` weights).

    ``MetaParams``::

        {"cell":    {"w_ih": (4H, d), "bias": (4H,), "query_bias": (4H,),
                     "w_hh": (4H, H)                                     # r = 0, or
                     | "w_hh_down": (r, H), "w_hh_up": (4H, r)},         # r > 0
         "init":    {"h": (H,), "c": (H,)},
         "readout": {"weight": (d, H), "bias": (d,)}}
    """

    kind: ClassVar[str] = "lstm"
    dim: int = 128
    max_patterns: int = 96
    hidden: int = 4128  # 2·4128 = 8256 = 128·127/2 + 128, the binary budget
    recurrent_rank: int = 256  # 0: a full W_hh (68 M weights at H = 4128; too slow on a CPU)

    def __post_init__(self):
        for name, least in (("dim", 1), ("max_patterns", 1), ("hidden", 1), ("recurrent_rank", 0)):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < least:
                raise ValueError(f"LSTM.{name} must be an integer >= {least}, got {v!r}")

    # --- LearnedModel protocol (config, loss, memory_size: LearnedBaseline's) -----------------
    def init_params(self, seed: int = 0) -> MetaParams:
        """``torch.nn.LSTMCell``'s initialisation, U(±1/√H) (a factored ``W_hh`` gets
        U(±1/√H) and U(±1/√r)), forget-gate bias 1, zero initial state and query bias, seeded."""
        gen = torch.Generator().manual_seed(seed)
        h, d, r = self.hidden, self.dim, self.recurrent_rank

        def uniform(*shape: int, bound: float) -> Tensor:
            return (2 * torch.rand(shape, generator=gen) - 1) * bound

        k = 1 / math.sqrt(h)
        bias = uniform(4 * h, bound=k)
        bias[h : 2 * h] += 1.0  # forget gate
        cell = {"w_ih": uniform(4 * h, d, bound=k), "bias": bias, "query_bias": torch.zeros(4 * h)}
        if r:
            cell["w_hh_down"] = uniform(r, h, bound=k)
            cell["w_hh_up"] = uniform(4 * h, r, bound=1 / math.sqrt(r))
        else:
            cell["w_hh"] = uniform(4 * h, h, bound=k)
        return {
            "cell": cell,
            "init": {"h": torch.zeros(h), "c": torch.zeros(h)},
            "readout": {"weight": uniform(d, h, bound=k), "bias": torch.zeros(d)},
        }

    def write(self, params: MetaParams, patterns: Tensor, mask: Tensor | None = None) -> dict[str, Tensor]:
        """``patterns (B, N, d)`` -> ``{"h": (B, H), "c": (B, H)}``; a pattern left out by
        ``mask (B, N)`` (0/1, None: none) is a step that keeps the state as it is."""
        cell = params["cell"]
        b, n, _ = patterns.shape
        h = params["init"]["h"].expand(b, -1)
        c = params["init"]["c"].expand(b, -1)
        inputs = input_gates(cell, 2 * patterns - 1)  # (B, N, 4H), all steps in one product
        for t in range(n):
            h_new, c_new = lstm_update(inputs[:, t] + recurrent_gates(cell, h), c)
            if mask is None:
                h, c = h_new, c_new
            else:
                keep = mask[:, t : t + 1]  # (B, 1)
                h, c = blend(keep, h_new, h), blend(keep, c_new, c)
        return {"h": h, "c": c}

    def read(self, params: MetaParams, state: dict[str, Tensor], queries: Tensor, trajectory: bool) -> Tensor:
        """``queries (B, M, d)`` -> ``(B, M, d)`` (``(B, 2, M, d)`` with ``trajectory``)."""
        cell = params["cell"]
        # every query steps from the same written state: its recurrent term is shared
        rec = recurrent_gates(cell, state["h"]).unsqueeze(1)  # (B, 1, 4H)
        gates = input_gates(cell, 2 * queries - 1) + cell["query_bias"] + rec  # (B, M, 4H)
        h, _ = lstm_update(gates, state["c"].unsqueeze(1))
        out = torch.sigmoid(h @ params["readout"]["weight"].T + params["readout"]["bias"])  # (B, M, d)
        return torch.stack([queries, out], dim=1) if trajectory else out

    def _state_shapes(self) -> dict[str, tuple[int, ...]]:
        return {"h": (self.hidden,), "c": (self.hidden,)}


def input_gates(cell: dict[str, Tensor], x: Tensor) -> Tensor:
    """``x (..., d)`` -> the input's share of the gate pre-activations, bias included ``(..., 4H)``."""
    return x @ cell["w_ih"].T + cell["bias"]


def recurrent_gates(cell: dict[str, Tensor], h: Tensor) -> Tensor:
    """``h (..., H)`` -> ``W_hh h (..., 4H)``, with ``W_hh = w_hh`` or ``w_hh_up @ w_hh_down``."""
    if "w_hh" in cell:
        return h @ cell["w_hh"].T
    return (h @ cell["w_hh_down"].T) @ cell["w_hh_up"].T


def lstm_update(gates: Tensor, c: Tensor) -> tuple[Tensor, Tensor]:
    """``torch.nn.LSTMCell``'s state update from the gate pre-activations ``(..., 4H)``
    (input, forget, cell, output) and the cell state ``c (..., H)``: returns ``(h', c')``."""
    i, f, g, o = gates.chunk(4, dim=-1)
    c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    return torch.sigmoid(o) * torch.tanh(c), c
