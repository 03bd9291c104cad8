"""The modern Hopfield network / dense associative memory baseline (Ramsauer et al. 2020;
Krotov & Hopfield 2016), meta-trained on the binary task.

The stored patterns are the memory, as rows of a matrix ``X (S, c)``; retrieval iterates the
update of the continuous modern Hopfield network, one step of the concave–convex procedure on
its energy ``E(ξ) = −β⁻¹ log Σ_i exp(β x_iᵀ ξ) + ½ ξᵀξ + const``::

    ξ_0 = P s_q,    ξ_t = Xᵀ softmax(β X ξ_{t−1})   for t = 1..steps,    s = 2x − 1 (erased → 0)
    x̂_t = sigmoid(g · D ξ_t + a · s_q)

**Storage within the budget** follows :func:`~ebmm.models.memory_networks.slot_layout`:
each row is a stored code followed by a written flag (empty rows are left out of the
softmax). When ``max_patterns`` patterns of ``d + 1`` floats fit the budget, the rows hold
the ±1 images verbatim (``P = D = I``, nothing to learn but β, g and a) — at d = 128, 64 rows
of 129 = 8256. Beyond that, one row per pattern, ``c = budget // max_patterns − 1`` wide, with
a learned projection ``P (c, d)`` (applied to stored patterns and queries alike) and a learned
linear read-out ``D (d, c)`` — at ``max_patterns = 96``, 96 rows of 86 = 8256. Writing more
patterns than rows keeps the last ``S``.

Meta-learned: β (one inverse temperature for every step), the output gain ``g``, the weight
``a`` of the query in the output (0 at the start: the pure Hopfield read-out; learning may
let the query's intact bits through when retrieval is uncertain) and, when compressing, ``P``
and ``D``. With large β and few patterns one step retrieves the nearest stored pattern
exactly (Ramsauer et al.: for a well-separated pattern the update converges in one step to a
fixed point exponentially close to it).

References:
    H. Ramsauer et al., "Hopfield networks is all you need", ICLR 2021 (arXiv:2008.02217, 2020).
    D. Krotov, J. J. Hopfield, "Dense associative memory for pattern recognition", NeurIPS 2016.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import Tensor

from .protocol import MetaParams
from ._common import SlotMemory, masked_softmax, orthonormal_rows, split_slots, write_slots


@dataclass(frozen=True)
class ModernHopfield(SlotMemory):
    """A continuous modern Hopfield network storing its patterns in at most ``budget`` floats:
    the ``"modern_hopfield"`` :class:`~ebmm.models.protocol.LearnedModel`.

    **Fields:** ``dim`` pattern dimension d; ``max_patterns`` N it is trained for; ``budget``
    the most floats the stored rows may hold (8256, the binary task's); ``steps`` update steps
    per read; ``beta_init`` the initial inverse temperature β (≈ 3/√128; Ramsauer et al. use
    1/√c, softer than binary retrieval wants); ``width_follows_n`` one row per pattern, its
    width following how many are held (:class:`~ebmm.models._common.SlotMemory`; the rows are
    then always learned projections).

    ``MetaParams``::

        {"retrieval":  {"log_beta": (), "gain": (), "query_weight": ()},
         "projection": {"encode": (c, d), "decode": (d, c)}}     # only when compressing (c < d)
    """

    kind: ClassVar[str] = "modern_hopfield"
    dim: int = 128
    max_patterns: int = 96
    budget: int = 8256  # 128·127/2 + 128, the binary task's
    steps: int = 3
    beta_init: float = 0.25
    width_follows_n: bool = False

    def __post_init__(self):
        self._check_positive_ints("dim", "max_patterns", "budget", "steps")
        self._check_budget("rows")
        if not self.beta_init > 0:
            raise ValueError(f"ModernHopfield.beta_init must be positive, got {self.beta_init!r}")

    @property
    def projected(self) -> bool:
        """Whether the rows are learned projections (``code_width < d``), not verbatim ±1 images."""
        return self.code_width < self.dim or self.width_follows_n

    # --- LearnedModel protocol (config, loss, memory_size: SlotMemory's) ----------------------
    def init_params(self, seed: int = 0) -> MetaParams:
        """β = ``beta_init``, gain 4, query weight 0; a projection starts as a random
        orthonormal ``P`` (seeded) with ``D = Pᵀ``, its pseudo-inverse."""
        params: MetaParams = {
            "retrieval": {
                "log_beta": torch.tensor(math.log(self.beta_init)),
                "gain": torch.tensor(4.0),
                "query_weight": torch.tensor(0.0),
            }
        }
        if self.projected:
            p = orthonormal_rows(self.code_width, self.dim, torch.Generator().manual_seed(seed))
            params["projection"] = {"encode": p, "decode": p.T.contiguous()}
        return params

    def write(self, params: MetaParams, patterns: Tensor, mask: Tensor | None = None) -> dict[str, Tensor]:
        """``patterns (B, N, d)`` (those of ``mask (B, N)``, None: all) -> ``{"patterns": (B, S, c + 1)}``:
        codes and written flags."""
        return {"patterns": self.narrow_to_count(write_slots(self._encode(params, 2 * patterns - 1), self.slots, mask))}

    def read(self, params: MetaParams, state: dict[str, Tensor], queries: Tensor, trajectory: bool) -> Tensor:
        """``queries (B, M, d)`` -> ``(B, M, d)``, or every iterate ``(B, steps + 1, M, d)``."""
        stored, written = split_slots(state["patterns"])  # (B, S, c), (B, S)
        r = params["retrieval"]
        beta = r["log_beta"].exp()
        s = 2 * queries - 1
        xi = self._encode(params, s)  # (B, M, c)
        cols = self.follow_columns(written.sum(-1))  # with width_follows_n: the coordinates in use
        if cols is not None:
            xi = xi * cols
        outputs = [queries]
        for _ in range(self.steps):
            xi = masked_softmax(beta * xi @ stored.transpose(-1, -2), written) @ stored
            if trajectory:
                outputs.append(self._output(params, xi, s))
        if not trajectory:
            return self._output(params, xi, s)
        return torch.stack(outputs, dim=1)

    def _state_shapes(self) -> dict[str, tuple[int, ...]]:
        return {"patterns": (self.slots, self.code_width + 1)}

    # --- helpers ------------------------------------------------------------------------------
    def _encode(self, params: MetaParams, s: Tensor) -> Tensor:
        """±1 images ``(..., d)`` -> codes ``(..., c)``."""
        return s @ params["projection"]["encode"].T if self.projected else s

    def _output(self, params: MetaParams, xi: Tensor, s: Tensor) -> Tensor:
        """``sigmoid(g · D ξ + a · s_q)``: codes ``(..., c)`` -> patterns in [0, 1] ``(..., d)``."""
        r = params["retrieval"]
        pattern = xi @ params["projection"]["decode"].T if self.projected else xi
        return torch.sigmoid(r["gain"] * pattern + r["query_weight"] * s)
