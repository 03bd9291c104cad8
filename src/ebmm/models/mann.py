"""Memory-augmented neural network (MANN) with least-recently-used access (Santoro et al. 2016).

A controller maps each pattern to a key; an external memory ``M (S, W)`` of S slots stores
the keys, addressed by least-recently-used access (LRUA). Writing processes the N patterns
one at a time (``t = 1..N``), with ``s = 2x − 1`` the ±1 image of a pattern (erased → 0)::

    h_t   = tanh(W_c s_t + b_c)                          controller
    k_t   = tanh(W_k h_t + b_k),  β_t = 1 + softplus(·),  g_t = σ(·)   heads
    w^w_t = g_t · w^r_{t−1} + (1 − g_t) · w^lu_{t−1}     write weights (LRUA)
    M_t   = M_{t−1} ⊙ (1 − w^lu_{t−1}) + w^w_t k_tᵀ      clear the least-used slot, then add
    w^r_t = softmax_i(β_t · cos(k_t, M_t(i)))            content-based read weights
    w^u_t = γ · w^u_{t−1} + w^r_t + w^w_t                usage, decaying with γ
    w^lu_t = one_hot(argmin_i w^u_t(i))                  least-used slot

Reading a query ``q`` (each independently, memory unchanged): ``h = tanh(W_c s_q + b_c)``,
key and strength from the same heads, ``r = Σ_i softmax_i(β cos(k, M(i))) M(i)``, and the
retrieval ``sigmoid(decoder([r, h]))`` with a one-hidden-layer decoder.

The memory state is everything LRUA carries from one write to the next: ``"memory" (S, W)``,
``"usage" (S,)`` and ``"read_weights" (S,)`` (``w^r``, which the next write gate reads).
The controller is feed-forward (Santoro et al. use an LSTM; the Neural Turing Machine design
they build on allows either): it keeps no state across patterns, so nothing else persists,
and every float the memory needs to go on writing is counted. ``S·W + 2S`` with S = 64
slots of width W = 127 is exactly the binary budget ``64·127 + 2·64 = 8256 = 128·127/2 + 128``.
With more patterns than slots (N = 96), the later ones overwrite the least recently used.

Meta-training minimises the project's squared reconstruction error of the retrievals.

Departures from the paper, all small:
    - the least-used weights are the one-hot argmin of usage (first slot on ties), the
      ``n = 1`` read-head case of the paper's threshold at the n-th smallest usage, whose
      ties would otherwise spread the first writes over every empty slot;
    - a learned key strength β sharpens the cosine read, as in the Neural Turing Machine (the
      paper's softmax of raw cosines cannot single out one of 64 slots);
    - the write gate g_t is emitted by the controller and γ is meta-learned;
    - the controller does not see the previous read vector (a feed-forward controller has
      no use for it while writing, and reads are independent of each other).

References:
    A. Santoro, S. Bartunov, M. Botvinick, D. Wierstra, T. Lillicrap, "Meta-learning with
    memory-augmented neural networks", ICML 2016.
    A. Graves, G. Wayne, I. Danihelka, "Neural Turing machines", arXiv:1410.5401 (2014).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor

from ..dynamics import inverse_softplus, logit
from .protocol import MetaParams
from ._common import LearnedBaseline, blend, dense_layer

_EPS = 1e-6


def cosine_weights(keys: Tensor, memory: Tensor, strength: Tensor) -> Tensor:
    """``softmax_i(β · cos(k, M(i)))``: ``keys (B, M, W)``, ``memory (B, S, W)``, ``strength (B, M)``
    -> ``(B, M, S)``. Empty (all-zero) slots have cosine 0."""
    sim = keys @ memory.transpose(-1, -2)  # (B, M, S)
    norms = keys.norm(dim=-1, keepdim=True) * memory.norm(dim=-1).unsqueeze(-2)
    return torch.softmax(strength.unsqueeze(-1) * sim / (norms + _EPS), dim=-1)


@dataclass(frozen=True)
class MANN(LearnedBaseline):
    """MANN with LRUA memory and a feed-forward controller: a :class:`~ebmm.models.protocol.LearnedModel`.

    **Fields:** ``dim`` pattern dimension d; ``max_patterns`` N it is trained for; ``slots`` S
    and ``width`` W of the memory matrix (state ``S·W + 2S`` floats: 8256 at the defaults);
    ``hidden`` controller and decoder width.
    """

    kind: ClassVar[str] = "mann"
    dim: int = 128
    max_patterns: int = 96
    slots: int = 64  # S memory rows
    width: int = 127  # W: 64·127 + 2·64 = 8256, the binary budget
    hidden: int = 256  # controller and decoder hidden units

    def __post_init__(self):
        self._check_positive_ints("dim", "max_patterns", "slots", "width", "hidden")

    # --- LearnedModel protocol (config, loss, memory_size: LearnedBaseline's) -----------------
    def init_params(self, seed: int = 0) -> MetaParams:
        g = torch.Generator().manual_seed(seed)
        d, h, w = self.dim, self.hidden, self.width
        cw, cb = dense_layer(g, h, d)
        kw, kb = dense_layer(g, w, h)
        sw, _ = dense_layer(g, 1, h, gain=0.1)
        gw, _ = dense_layer(g, 1, h, gain=0.1)
        dw1, db1 = dense_layer(g, h, w + h)
        dw2, db2 = dense_layer(g, d, h)
        return {
            "controller": {"weight": cw, "bias": cb},
            "heads": {
                "key_weight": kw, "key_bias": kb,
                # β starts near 10: sharp enough to tell slots apart, soft enough to learn
                "strength_weight": sw, "strength_bias": torch.full((1,), inverse_softplus(9.0)),
                # the write gate starts mostly on the least-used slot
                "gate_weight": gw, "gate_bias": torch.full((1,), -2.0),
            },
            "decoder": {"hidden_weight": dw1, "hidden_bias": db1, "out_weight": dw2, "out_bias": db2},
            "usage": {"decay_logit": torch.tensor(logit(0.95))},
        }

    def write(self, params: MetaParams, patterns: Tensor, mask: Tensor | None = None,
              state: dict[str, Tensor] | None = None) -> dict[str, Tensor]:
        """``patterns (B, N, d)`` -> ``{"memory": (B, S, W), "usage": (B, S), "read_weights": (B, S)}``;
        a pattern left out by ``mask (B, N)`` (0/1, None: none) leaves the state as it is. From
        ``state`` (None: an empty memory) the writes continue exactly as if every pattern had
        been written in one call."""
        b, n, _ = patterns.shape
        keys, strength, gate = self.heads(params, controller(params, patterns))  # (B,N,W) (B,N) (B,N)
        gamma = torch.sigmoid(params["usage"]["decay_logit"])
        if state is None:
            memory = patterns.new_zeros(b, self.slots, self.width)
            usage = patterns.new_zeros(b, self.slots)
            w_read = patterns.new_zeros(b, self.slots)
        else:
            memory, usage, w_read = state["memory"], state["usage"], state["read_weights"]
        for t in range(n):
            w_lu = F.one_hot(usage.argmin(dim=-1), self.slots).to(patterns.dtype)  # (B, S)
            g = gate[:, t].unsqueeze(-1)
            w_write = g * w_read + (1 - g) * w_lu
            k = keys[:, t]  # (B, W)
            new_memory = memory * (1 - w_lu).unsqueeze(-1) + w_write.unsqueeze(-1) * k.unsqueeze(-2)
            new_read = cosine_weights(k.unsqueeze(1), new_memory, strength[:, t : t + 1]).squeeze(1)
            new_usage = gamma * usage + new_read + w_write
            if mask is None:
                memory, w_read, usage = new_memory, new_read, new_usage
            else:
                keep = mask[:, t : t + 1]  # (B, 1)
                memory = blend(keep.unsqueeze(-1), new_memory, memory)
                w_read = blend(keep, new_read, w_read)
                usage = blend(keep, new_usage, usage)
        return {"memory": memory, "usage": usage, "read_weights": w_read}

    def write_more(self, params: MetaParams, state: dict[str, Tensor], patterns: Tensor) -> dict[str, Tensor]:
        """Add ``patterns (B, N, d)`` to a written state (the LRUA writes simply continue)."""
        return self.write(params, patterns, state=state)

    def read(self, params: MetaParams, state: dict[str, Tensor], queries: Tensor, trajectory: bool) -> Tensor:
        """``queries (B, M, d)`` -> retrievals ``(B, M, d)`` (or ``(B, 2, M, d)``: query, retrieval)."""
        h = controller(params, queries)  # (B, M, H)
        keys, strength, _ = self.heads(params, h)
        weights = cosine_weights(keys, state["memory"], strength)  # (B, M, S)
        r = weights @ state["memory"]  # (B, M, W)
        dec = params["decoder"]
        hid = torch.tanh(F.linear(torch.cat([r, h], dim=-1), dec["hidden_weight"], dec["hidden_bias"]))
        out = torch.sigmoid(F.linear(hid, dec["out_weight"], dec["out_bias"]))
        return torch.stack([queries, out], dim=1) if trajectory else out

    def _state_shapes(self) -> dict[str, tuple[int, ...]]:
        return {"memory": (self.slots, self.width), "usage": (self.slots,), "read_weights": (self.slots,)}

    # --- helpers ------------------------------------------------------------------------------
    def heads(self, params: MetaParams, h: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Controller output ``h (..., H)`` -> key ``(..., W)``, strength β ``(...)``, write gate ``(...)``."""
        p = params["heads"]
        key = torch.tanh(F.linear(h, p["key_weight"], p["key_bias"]))
        strength = 1 + F.softplus(F.linear(h, p["strength_weight"], p["strength_bias"])).squeeze(-1)
        gate = torch.sigmoid(F.linear(h, p["gate_weight"], p["gate_bias"])).squeeze(-1)
        return key, strength, gate


def controller(params: MetaParams, x: Tensor) -> Tensor:
    """``x (..., d)`` in [0, 1] -> ``tanh(W_c (2x − 1) + b_c) (..., H)``."""
    c = params["controller"]
    return torch.tanh(F.linear(2 * x - 1, c["weight"], c["bias"]))
