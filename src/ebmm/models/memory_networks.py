"""The Memory Networks baseline (Weston et al. 2014), end-to-end (Sukhbaatar et al. 2015),
meta-trained on the binary task.

Writing embeds every pattern into a slot of a memory of ``S`` slots of width ``W``; reading
attends over the slots with a softmax of cosine similarities at a learned temperature and
decodes what it read. With ``s = 2x − 1`` the ±1 image of a pattern (erased → 0)::

    write:  m_i = [E s_i + e, 1]                          code (W − 1 floats) and a written flag
    read:   u = Q s_q + e_q
            p_i = softmax_i(β_k cos(u, m_i)),  o = Σ_i p_i m_i   over written slots, k = 1..hops
            u ← H u + o                                    between hops (layer-wise weights)
            x̂ = sigmoid(decoder([o, s_q]))                 one hidden layer plus a linear skip

**Slots within the budget** (:func:`slot_layout`). The state is the slot matrix alone, ``S·W``
floats. When ``max_patterns`` patterns of ``d`` floats plus their flag fit the budget, the
slots are ``d + 1`` wide and as many as fit — at d = 128, 64 slots of 129 = 8256: room to
hold every pattern verbatim (the embedding is square). Beyond that, one slot per pattern,
``W = budget // max_patterns`` wide: the embedding *compresses* each pattern to ``W − 1``
floats (at ``max_patterns = 96``, 96 slots of 86 = 8256) and the decoder learns to undo it.
Writing more patterns than slots keeps the last ``S`` (first in, first out).

Departures from the papers, all small:
    - one stored vector per slot serves as both key and value (MemN2N stores two embeddings,
      ``A x_i`` and ``C x_i``; that would halve the slots within the budget);
    - cosine attention with a learned temperature per hop (as in the Neural Turing Machine),
      rather than raw dot products, so the attention's sharpness is one learned number;
    - the answer is a pattern, not a word: a learned decoder to ``[0, 1]^d`` replaces
      MemN2N's softmax over a vocabulary, and it sees the query beside the read vector (under
      erasure the query's intact bits are exact, so a compressed code need only supply the
      erased ones: 85 floats per slot are then enough to retrieve nearly every bit);
    - the written flag (one float per slot, counted) marks which slots hold a pattern.

References:
    J. Weston, S. Chopra, A. Bordes, "Memory networks", arXiv:1410.3916 (2014).
    S. Sukhbaatar, A. Szlam, J. Weston, R. Fergus, "End-to-end memory networks", NeurIPS 2015.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor

from .protocol import MetaParams

# the slot helpers, the objective and the initialisers live in ``_common`` (shared with the
# other baselines) and are re-exported here, where they were first defined
from ._common import (  # noqa: F401
    SlotMemory,
    dense,
    masked_softmax,
    orthonormal_rows,
    reconstruction_loss,
    slot_layout,
    split_slots,
    write_slots,
)


# --- the model ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class MemoryNetwork(SlotMemory):
    """An end-to-end memory network over a slot memory within ``budget`` floats: the
    ``"memory_networks"`` :class:`~ebmm.models.protocol.LearnedModel`.

    **Fields:** ``dim`` pattern dimension d; ``max_patterns`` N it is trained for; ``budget``
    the most floats the slots may hold (8256, the binary task's); ``hops`` attention hops;
    ``hidden`` the decoder's hidden units. The slots follow :func:`slot_layout`, or with
    ``width_follows_n`` the number held (:class:`~ebmm.models._common.SlotMemory`).

    ``MetaParams`` (``c = W − 1`` the code width)::

        {"embed":     {"memory": (c, d), "memory_bias": (c,), "query": (c, d), "query_bias": (c,)},
         "attention": {"log_beta": (hops,)},
         "hop":       {"weight": (c, c)},                     # only with hops > 1
         "decoder":   {"hidden_weight": (h, c + d), "hidden_bias": (h,),
                       "out_weight": (d, h), "out_bias": (d,), "skip_weight": (d, c + d)}}
    """

    kind: ClassVar[str] = "memory_networks"
    dim: int = 128
    max_patterns: int = 96
    budget: int = 8256  # 128·127/2 + 128, the binary task's
    hops: int = 1
    hidden: int = 256
    width_follows_n: bool = False

    def __post_init__(self):
        self._check_positive_ints("dim", "max_patterns", "budget", "hops", "hidden")
        self._check_budget("slots")

    # --- LearnedModel protocol (config, loss, memory_size: SlotMemory's) ----------------------
    def init_params(self, seed: int = 0) -> MetaParams:
        """Seeded. Both embeddings start as the same random orthonormal projection ``E`` (the
        identity up to a rotation when the code is ``d`` wide), β at 10, and the decoder's skip
        at ``4 Eᵀ`` on the read vector, so that a sharp read of the right slot already decodes
        to its pattern."""
        gen = torch.Generator().manual_seed(seed)
        c, d, h = self.code_width, self.dim, self.hidden
        embed = orthonormal_rows(c, d, gen)
        params: MetaParams = {
            "embed": {
                "memory": embed, "memory_bias": torch.zeros(c),
                "query": embed.clone(), "query_bias": torch.zeros(c),
            },
            "attention": {"log_beta": torch.full((self.hops,), math.log(10.0))},
        }
        if self.hops > 1:
            params["hop"] = {"weight": torch.eye(c)}
        params["decoder"] = {
            "hidden_weight": dense(gen, h, c + d), "hidden_bias": torch.zeros(h),
            "out_weight": dense(gen, d, h, gain=0.1), "out_bias": torch.zeros(d),
            "skip_weight": torch.cat([4.0 * embed.T, torch.zeros(d, d)], dim=1),
        }
        return params

    def write(self, params: MetaParams, patterns: Tensor, mask: Tensor | None = None) -> dict[str, Tensor]:
        """``patterns (B, N, d)`` (those of ``mask (B, N)``, None: all) -> ``{"slots": (B, S, W)}``."""
        e = params["embed"]
        codes = (2 * patterns - 1) @ e["memory"].T + e["memory_bias"]  # (B, N, c)
        return {"slots": self.narrow_to_count(write_slots(codes, self.slots, mask))}

    def write_more(self, params: MetaParams, state: dict[str, Tensor], patterns: Tensor) -> dict[str, Tensor]:
        """Add ``patterns (B, N, d)`` to a written state: their codes fill the next free slots, as
        if written in one call. The state does not record which slot is oldest once every slot
        is written, so adding beyond the free slots raises ``ValueError``."""
        slots = state["slots"]
        held = (slots[..., -1] > 0.5).sum(-1)  # (B,) written slots, filled in order from slot 0
        n = patterns.shape[1]
        if int(held.max()) + n > self.slots:
            raise ValueError(f"memory_networks: {int(held.max())} of its {self.slots} slots are written; adding {n} "
                             "patterns would overwrite in an order its state does not record — write them all at once")
        e = params["embed"]
        codes = (2 * patterns - 1) @ e["memory"].T + e["memory_bias"]  # (B, N, c)
        position = held.unsqueeze(1) + torch.arange(n, device=patterns.device)  # (B, N)
        where = F.one_hot(position, self.slots).to(codes.dtype)  # (B, N, S)
        flagged = torch.cat([codes, codes.new_ones(*codes.shape[:-1], 1)], dim=-1)
        return {"slots": self.narrow_to_count(slots + where.transpose(1, 2) @ flagged)}

    def read(self, params: MetaParams, state: dict[str, Tensor], queries: Tensor, trajectory: bool) -> Tensor:
        """``queries (B, M, d)`` -> ``(B, M, d)`` (``(B, 2, M, d)`` with ``trajectory``)."""
        codes, written = split_slots(state["slots"])  # (B, S, c), (B, S)
        keys = F.normalize(codes, dim=-1)
        beta = params["attention"]["log_beta"].exp()
        s = 2 * queries - 1
        u = s @ params["embed"]["query"].T + params["embed"]["query_bias"]  # (B, M, c)
        cols = self.follow_columns(written.sum(-1))  # (B, 1, c) with width_follows_n: the coordinates in use
        if cols is not None:
            u = u * cols
        o = torch.zeros_like(u)
        for k in range(self.hops):
            if k:  # hop: u ← H u + o (end-to-end memory networks)
                u = u @ params["hop"]["weight"].T + o
                u = u if cols is None else u * cols
            p = masked_softmax(beta[k] * F.normalize(u, dim=-1) @ keys.transpose(-1, -2), written)  # (B, M, S)
            o = p @ codes  # (B, M, c)
        out = torch.sigmoid(decode(params["decoder"], torch.cat([o, s], dim=-1)))
        return torch.stack([queries, out], dim=1) if trajectory else out

    def _state_shapes(self) -> dict[str, tuple[int, ...]]:
        return {"slots": (self.slots, self.code_width + 1)}


def decode(dec: dict[str, Tensor], z: Tensor) -> Tensor:
    """One hidden ReLU layer plus a linear skip: ``z (..., c + d)`` -> logits ``(..., d)``."""
    hidden = torch.relu(z @ dec["hidden_weight"].T + dec["hidden_bias"])
    return hidden @ dec["out_weight"].T + dec["out_bias"] + z @ dec["skip_weight"].T
