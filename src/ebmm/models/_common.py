"""What the learned baselines share: the meta-training objective, seeded initialisers, slot
memories within a budget, masked updates, and the :class:`~ebmm.models.protocol.LearnedModel`
boilerplate of a frozen-dataclass model (:class:`LearnedBaseline`).

Private: the public names are re-exported where they were first defined
(:mod:`ebmm.models.memory_networks`).
"""

from __future__ import annotations

import math
from dataclasses import asdict
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from ..energies import memory_size
from ..energies.compressive_slots import code_columns
from .protocol import MetaParams, read_known


# --- the objective -----------------------------------------------------------------------------
def reconstruction_loss(retrieved: Tensor, patterns: Tensor, mask: Tensor | None = None) -> Tensor:
    """The meta-training objective of every baseline (EBMM's, for one read-out): squared
    error summed over d, averaged over each episode's stored patterns (``mask (B, N)``), then
    over episodes — so that an episode of 16 patterns weighs as much as one of 256, as in
    :func:`ebmm.models.ebmm.meta_loss` (averaged over all patterns at once, large episodes
    dominate: EBMM measured 0.16 → 2.7 error bits at N = 16). Without a mask every episode
    holds the same N and the two averages agree."""
    sq = (retrieved - patterns).pow(2).sum(-1)  # (B, N)
    if mask is None:
        return sq.mean()
    return ((sq * mask).sum(-1) / mask.sum(-1).clamp_min(1.0)).mean()


# --- seeded initialisers -----------------------------------------------------------------------
def dense(gen: torch.Generator, fan_out: int, fan_in: int, gain: float = 1.0) -> Tensor:
    """A Glorot-uniform ``(fan_out, fan_in)`` weight matrix, seeded."""
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return (2 * torch.rand(fan_out, fan_in, generator=gen) - 1) * bound


def dense_layer(gen: torch.Generator, fan_out: int, fan_in: int, gain: float = 1.0) -> tuple[Tensor, Tensor]:
    """A linear layer's Glorot-uniform ``weight (fan_out, fan_in)`` and zero ``bias (fan_out,)``."""
    return dense(gen, fan_out, fan_in, gain), torch.zeros(fan_out)


def orthonormal_rows(rows: int, cols: int, gen: torch.Generator) -> Tensor:
    """A random ``(rows, cols)`` matrix with orthonormal rows (``rows <= cols``), seeded."""
    q, _ = torch.linalg.qr(torch.randn(cols, rows, generator=gen))
    return q.T.contiguous()


# --- masking -----------------------------------------------------------------------------------
def blend(keep: Tensor, new: Tensor, old: Tensor) -> Tensor:
    """``keep · new + (1 − keep) · old``: a recurrent state's update where ``keep`` (0/1,
    broadcast against the state) marks the episodes whose pattern is really stored."""
    return keep * new + (1 - keep) * old


def masked_softmax(logits: Tensor, written: Tensor) -> Tensor:
    """``softmax`` over the last axis ``(B, M, S)`` restricted to written slots ``(B, S)``."""
    return torch.softmax(logits.masked_fill(~written.unsqueeze(-2), -math.inf), dim=-1)


# --- slot memories within a budget (Memory Networks, modern Hopfield) --------------------------
def slot_layout(dim: int, max_patterns: int, budget: int) -> tuple[int, int]:
    """``(slots, width)`` of a slot memory of at most ``budget`` floats.

    If ``max_patterns`` slots of ``dim + 1`` floats (a pattern and its written flag) fit, the
    slots are ``dim + 1`` wide and as many as fit (verbatim storage); otherwise there is one
    slot per pattern, ``budget // max_patterns`` wide (compressed storage).

    Example: ``slot_layout(128, 64, 8256) == (64, 129)``; ``slot_layout(128, 96, 8256) == (96, 86)``.
    """
    if max_patterns * (dim + 1) <= budget:
        return budget // (dim + 1), dim + 1
    return max_patterns, budget // max_patterns


def write_slots(codes: Tensor, slots: int, mask: Tensor | None = None) -> Tensor:
    """``codes (B, N, c)`` -> slot matrix ``(B, slots, c + 1)``: each stored code followed by a
    written flag 1, empty slots all zero.

    The stored codes (``mask (B, N)`` 0/1, None: all) fill the slots in order, as a ring
    buffer: with more than ``slots`` of them the last ``slots`` are kept (first in, first out).
    """
    b, n, _ = codes.shape
    stored = codes.new_ones(b, n) if mask is None else mask.to(codes.dtype)
    ordinal = stored.cumsum(1) - 1  # (B, N): index among the stored codes
    kept = stored * (ordinal >= stored.sum(1, keepdim=True) - slots)  # the last `slots` stored
    where = F.one_hot(ordinal.clamp(min=0).long() % slots, slots).to(codes.dtype) * kept.unsqueeze(-1)  # (B, N, S)
    flagged = torch.cat([codes, codes.new_ones(b, n, 1)], dim=-1)  # (B, N, c + 1)
    return where.transpose(1, 2) @ flagged


def split_slots(memory: Tensor) -> tuple[Tensor, Tensor]:
    """Slot matrix ``(B, S, c + 1)`` -> codes ``(B, S, c)`` and the written mask ``(B, S)`` (bool)."""
    return memory[..., :-1], memory[..., -1] > 0.5


# --- the LearnedModel boilerplate --------------------------------------------------------------
class LearnedBaseline:
    """Mixin for a learned baseline that is a frozen dataclass: its config is its fields, its
    loss is :func:`reconstruction_loss` of ``read(write(patterns), queries)``, and its memory
    size is counted from the per-episode state shapes it declares in :meth:`_state_shapes`."""

    def config_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_config_dict(cls, d: dict[str, Any]) -> Any:
        return cls(**d)

    def loss(
        self, params: MetaParams, patterns: Tensor, queries: Tensor, mask: Tensor | None = None,
        known: Tensor | None = None,
    ) -> tuple[Tensor, Tensor]:
        """:func:`~ebmm.models.memory_networks.reconstruction_loss` of the retrievals;
        ``mask (B, N)`` the stored patterns; ``known (B, N, d)`` the intact query entries, which
        overwrite the output (clamped completion)."""
        state = self.write(params, patterns, mask)
        retrieved = self.read(params, state, queries, False) if known is None else read_known(self, params, state, queries, False, known)
        return reconstruction_loss(retrieved, patterns, mask), retrieved.detach()

    def memory_size(self) -> int:
        return memory_size({name: torch.zeros(shape) for name, shape in self._state_shapes().items()})

    def empty_state(self, params: MetaParams, batch_size: int) -> dict[str, Tensor]:
        """The state of ``batch_size`` memories holding nothing: zeros of the declared shapes
        (whatever the parameters)."""
        return {name: torch.zeros(batch_size, *shape) for name, shape in self._state_shapes().items()}

    def _state_shapes(self) -> dict[str, tuple[int, ...]]:
        """The shape of each tensor of one episode's memory state."""
        raise NotImplementedError

    def _check_positive_ints(self, *names: str) -> None:
        for name in names:
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"{type(self).__name__}.{name} must be a positive integer, got {v!r}")


class SlotMemory(LearnedBaseline):
    """A :class:`LearnedBaseline` storing its patterns in a slot memory of :func:`slot_layout`
    within ``budget`` floats (fields ``dim``, ``max_patterns``, ``budget``).

    With ``width_follows_n`` (a field of the memories that offer it) the layout follows how
    many patterns are held instead of ``max_patterns``: one slot per pattern (up to
    ``max_patterns``), each code ``min(d, budget // n − 1)`` floats wide plus its flag — the
    first coordinates of a ``d``-wide code, the rest zero (:meth:`follow_columns`), so the
    written slots never hold more than ``budget`` floats. The same layout as EBMM's compressive
    slots (:class:`~ebmm.energies.CompressiveSlotEnergy`), so that neither memory gets a
    layout the other could not have."""

    width_follows_n: bool = False

    @property
    def slots(self) -> int:
        """Slots (rows) of the stored matrix."""
        if self.width_follows_n:
            return self.max_patterns
        return slot_layout(self.dim, self.max_patterns, self.budget)[0]

    @property
    def code_width(self) -> int:
        """Floats per stored pattern (a slot's width less its flag): ``d`` when verbatim, less
        when compressed (with ``width_follows_n``: at most ``d``, see :meth:`follow_columns`)."""
        if self.width_follows_n:
            return self.dim
        return slot_layout(self.dim, self.max_patterns, self.budget)[1] - 1

    def follow_columns(self, count: Tensor) -> Tensor | None:
        """With ``width_follows_n``: ``(B, 1, c)`` 0/1, the code coordinates in use when each
        episode holds ``count (B,)`` patterns (``min(d, budget // n − 1)`` of them); else None."""
        if not self.width_follows_n:
            return None
        return code_columns(count.to(torch.float32), self.dim, self.budget, overhead=1).unsqueeze(-2)  # the flag: 1 float

    def narrow_to_count(self, memory: Tensor) -> Tensor:
        """A slot matrix ``(B, S, c + 1)`` with every code cut to the width its count of written
        slots allows (unchanged without ``width_follows_n``)."""
        cols = self.follow_columns((memory[..., -1] > 0.5).sum(-1))
        if cols is None:
            return memory
        return torch.cat([memory[..., :-1] * cols.to(memory.dtype), memory[..., -1:]], dim=-1)

    def memory_size(self) -> int:
        if self.width_follows_n:
            return self.budget
        return super().memory_size()

    def _check_budget(self, unit: str) -> None:
        if self.budget < 2 * self.max_patterns:
            name = type(self).__name__
            raise ValueError(f"{name}: a budget of {self.budget} floats cannot hold {self.max_patterns} {unit}")
