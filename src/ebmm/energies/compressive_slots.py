r"""Compressive slots: one slot per stored pattern, the code width following how many are held.

The binary memory's budget is B floats (8256). Holding n patterns, the memory gives each a code
of ``c(n) = min(d, ⌊B / n⌋)`` floats — the first c rows of a square, orthonormal encoder A —
so the table never holds more than B numbers, whatever n:

.. math::

    E(x) = \tfrac{\mu}{2}\|\phi_c\|^2
           - \tfrac{1}{\beta}\log\sum_{j<n}\exp\big(\beta\,(k_j^\top\phi_c - \tfrac12\|k_j\|^2)\big),
    \qquad \phi_c = P_c\,(A(2x - 1) + a)

(``P_c`` keeps the first c coordinates). Up to n = 64 patterns of d = 128 bits a code is the
whole pattern; at n = 96 it is 86 floats (the shipped ``binary-erase`` layout); at 128, 160,
192 and 256 it is 64, 51, 43 and 32.

**Writing** stores pattern i in the slot at the head of the table, by one gradient step of
size ω on the writing loss ``E_w(k) = −k·φ + ½‖k‖²`` from an empty slot (``k = ωφ``), and
truncates every slot to the new width: the codes are *nested* (orthonormal rows, the narrower
code a prefix of the wider), so narrowing the table is exactly re-encoding what it holds. A
write is therefore one matrix product however many patterns it stores (chunk-parallel), and
writing N₁ patterns and then N₂ more gives exactly the table of writing all N₁ + N₂ at once
(tested). The written count rides along as ``memory.count`` (an integer in the state, not a
float of the budget).

**A floor on the width** (``min_width`` c₀ > 0): the code stops narrowing at c₀ floats, so the
memory holds ``⌊B / c₀⌋`` patterns (129 at 64) and its table is a ring — pattern p goes to row
p mod that many, the newest are kept and the oldest dropped — still one matrix product per
write, still the same table written at once or in parts. Under ``replace:64`` the read decodes
a code of 64 floats and cannot decode one of 43 or 32, and the error per pattern against the
width is not convex: holding fewer patterns at a width that decodes costs less on average than
holding all at one that does not (docs/binary-memories.md, *A floor on the code width*).

**The novelty test** (``novelty`` τ, ``novelty_misfit`` λ; read-time options). Once the memory
has dropped patterns (its count exceeds its slots), the read gives back the query — every
iterate — where its end x overrode more of the query than a held pattern's read does:
``Σ_i |2q_i − 1| |x_i − q_i| + λ min_j ‖φ_c(x̄) − k_j‖² > τ Σ_i |2q_i − 1| / d``, x̄ = [x > ½]
(the query evidence overridden, plus how far the nearest stored code is from the end's bits;
τ counts per bit the query states). A dropped pattern's query otherwise descends into another
slot and ends about 50 bits from its pattern.

**Reading** is gradient descent on the energy plus the query's own evidence: a read of query q
descends

.. math::

    E(x) + \eta \sum_i |2q_i - 1|\,|x_i - q_i|

— the stored code pulls x towards the slot the query matches (least squares through A on the
c coordinates kept), and each entry of x is held to the query in proportion to the query's
confidence in it, |2q_i − 1| (1 for a 0/1 entry, 0 for ½). A query entry at ½ says nothing
about its bit, so only the code decides it; an entry at 0 or 1 changes only where the code
pays more than η for it — the ℓ1 pull makes a *sparse* change of the query cheap, the convex
relaxation of decoding a few wrong bits (``anchor_norm = 2`` gives the quadratic pull
``½ η (2q − 1)² (x − q)²`` instead). With c < d the code alone is an under-determined system,
and a free read without the term drifts the bits the query states (measured, untrained,
erase:64, N = 128: 2.7 error bits without it, 0.00 with it). η follows the code width,
``softplus(a + b log(d / c))``, and a, b are meta-learned. Under ``replace:64`` every query
entry is 0 or 1, the term weighs them all alike, and only the code can tell a wrong bit: no
value of an entry marks it. Under erasure the ½ of an erased bit is what the erasure channel
means — the query says it does not know that bit — and every system is given the same query.

**Candidates** (``candidates`` R > 0, a read-time option). With β large the read commits at
once to the slot whose code is nearest the query's, and a query whose code lies nearer another
slot's — a replaced query with more wrong bits than most, or a narrow code — then descends into
that slot's basin although its own slot explains the query at a lower energy. With R candidates
the read descends once towards each of the R slots whose codes are nearest the query's (on the
energy of that slot alone plus the query term) and keeps the descent that ends at the lowest
energy — the whole energy, every slot, plus the query term. Every descent is the same projected
gradient descent; the energy chooses among their ends. Measured on the shipped memories (R = 4;
docs/binary-memories.md): under ``replace:64`` at N = 96 the wrong-slot captures go (0.65 → 0.04
error bits), under ``erase:64`` N = 256 goes from 9.41 to 7.05; a read costs about 3× one
descent at N = 64 and less at N = 256.

**Arguments:** ``dim`` d; ``budget`` B (floats the table may hold); ``capacity`` the most
patterns one state holds (the table's rows; more raise ``ValueError``; with a floor the table
has ``min(capacity, ⌊B / min_width⌋)`` rows and more drop the oldest); ``beta`` initial β;
``curvature`` initial μ; ``anchor`` the initial η at full width and ``anchor_slope`` the initial b
(η = softplus(a + b log(d / c))); ``anchor_norm`` 1 (the pull ``η w |x − q|``, w = |2q − 1|: a sparse change of the
query is cheap, the convex relaxation of decoding a few wrong bits) or 2 (``½ η w² (x − q)²``);
``candidates`` R, descents per query (0: one descent on the whole energy; a read-time option,
``memory.with_read_options(candidates=R)``); ``min_width`` c₀ the narrowest code (0: no floor;
at most d); ``novelty`` τ ≥ 0 (0: off) and ``novelty_misfit`` λ ≥ 0, the novelty test.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from ._base import ConditionedRead, EnergyModel, Params
from .memory_trust import gather_slots


class CompressiveTable(nn.Module):
    """The writable table ``weight (capacity, d)`` (per episode ``(..., capacity, d)``) of which the
    first ``count`` rows and first ``c(count)`` columns hold the stored codes, and ``count``."""

    def __init__(self, capacity: int, dim: int):
        super().__init__()
        self.weight = nn.Parameter(torch.zeros(capacity, dim))
        self.count = nn.Parameter(torch.zeros(()))


class CompressiveSlotEnergy(EnergyModel):
    """Slots whose code width follows the number of stored patterns; see the module docstring."""

    closed_form_terms = ("energy",)

    READ_OPTIONS = ("candidates", "novelty", "novelty_misfit")

    def __init__(self, dim: int = 128, budget: int = 8256, capacity: int = 512, beta: float = 1e5,
                 curvature: float = 1.0, anchor: float = 4.0, anchor_norm: int = 1, anchor_slope: float = 0.0,
                 candidates: int = 0, min_width: int = 0, novelty: float = 0.0, novelty_misfit: float = 0.0):
        super().__init__()
        for name, v in (("dim", dim), ("budget", budget), ("capacity", capacity)):
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"{name} must be a positive integer, got {v!r}")
        if isinstance(candidates, bool) or not isinstance(candidates, int) or candidates < 0:
            raise ValueError(f"candidates must be an integer >= 0 (0: one descent on the whole energy), got {candidates!r}")
        if capacity > budget:
            raise ValueError(f"capacity ({capacity}) cannot exceed the budget ({budget} floats): each pattern needs one")
        for name, v in (("beta", beta), ("curvature", curvature), ("anchor", anchor)):
            if not v > 0:
                raise ValueError(f"{name} must be > 0, got {v}")
        if anchor_norm not in (1, 2):
            raise ValueError(f"anchor_norm must be 1 or 2, got {anchor_norm!r}")
        if isinstance(min_width, bool) or not isinstance(min_width, int) or not 0 <= min_width <= dim:
            raise ValueError(f"min_width must be an integer in [0, dim = {dim}] (0: the code narrows without limit), got {min_width!r}")
        if isinstance(novelty, bool) or not isinstance(novelty, (int, float)) or not (novelty >= 0 and math.isfinite(novelty)):
            raise ValueError(f"novelty must be a finite number >= 0 (0: every read keeps its descent), got {novelty!r}")
        if isinstance(novelty_misfit, bool) or not isinstance(novelty_misfit, (int, float)) or not (novelty_misfit >= 0 and math.isfinite(novelty_misfit)):
            raise ValueError(f"novelty_misfit must be a finite number >= 0, got {novelty_misfit!r}")
        self.dim, self.budget, self.capacity, self.anchor_norm = dim, budget, capacity, anchor_norm
        self.candidates, self.min_width, self.novelty = candidates, min_width, float(novelty)
        self.novelty_misfit = float(novelty_misfit)
        # the table's rows: one per pattern up to `capacity`, or, with a floor on the width, the
        # ⌊B / min_width⌋ slots that fill the budget at that width (the newest patterns are kept)
        self.slots = capacity if min_width == 0 else min(capacity, budget // min_width)
        self.memory = CompressiveTable(self.slots, dim)
        self.encoder = nn.Linear(dim, dim)
        with torch.no_grad():
            q, _ = torch.linalg.qr(torch.randn(dim, dim))
            self.encoder.weight.copy_(q.T)
            self.encoder.bias.zero_()
        self.log_beta = nn.Parameter(torch.tensor(math.log(beta)))
        self.curvature_raw = nn.Parameter(torch.tensor(_inv_softplus(curvature)))
        self.anchor_raw = nn.Parameter(torch.tensor(_inv_softplus(anchor)))
        self.anchor_slope = nn.Parameter(torch.tensor(float(anchor_slope)))

    @property
    def stored_floats(self) -> int:
        """The floats a written state holds at most (the budget), what :func:`memory_size` counts."""
        return self.budget

    @property
    def read_descents(self) -> int:
        """Descents per query: one per candidate (one without candidates)."""
        return max(1, self.candidates)

    # --- the energy -----------------------------------------------------------------------------
    def forward(self, x: Tensor, trust: Tensor | None = None) -> Tensor:
        """``x (..., M, d) -> (..., M)`` (``(d,) -> ()``); ``trust (..., M, 2, d)`` the read's
        query evidence — per-entry weights w (η|2q − 1|, or η(2q − 1)² with ``anchor_norm = 2``)
        and the query q (:meth:`condition_read`) — or ``(..., M, 3, d)``, the third row a slot's
        code k: then the energy of that slot alone (the candidate read's descents)."""
        static = {"encoder.weight": self.encoder.weight, "encoder.bias": self.encoder.bias,
                  "log_beta": self.log_beta, "curvature_raw": self.curvature_raw}
        theta = {"memory.weight": self.memory.weight, "memory.count": self.memory.count}
        return _energy(static, theta, x, trust, self.budget, self.anchor_norm, self.min_width)

    def grad_x(self, static: Params, theta: Params, x: Tensor, trust: Tensor | None = None) -> Tensor:
        """``∇ₓE = 2 Aᵀ P_c (μ φ_c − Σ_j r_j k_j)`` plus the query term's ``w ⊙ sign(x − q)``
        (``w ⊙ (x − q)`` with ``anchor_norm = 2``); with a slot's code in ``trust`` (three
        rows) ``r`` is that slot alone."""
        if trust is not None and trust.shape[-2] == 3:
            mu = nn.functional.softplus(static["curvature_raw"])
            phi = _code(static, theta, x, self.budget, self.min_width)
            target = trust[..., 2, : phi.shape[-1]]
        else:
            phi, sims, beta, mu = _pieces(static, theta, x, self.budget, self.min_width)
            target = torch.softmax(beta * sims, dim=-1) @ held_slots(theta)[..., : phi.shape[-1]]  # (..., M, w)
        g = 2.0 * (mu * phi - target) @ static["encoder.weight"][: phi.shape[-1]]
        if x.dim() == 1:
            g = g.squeeze(0)
        if trust is not None:
            gap = x - trust[..., 1, :]
            g = g + trust[..., 0, :] * (torch.sign(gap) if self.anchor_norm == 1 else gap)
        return g

    def condition_read(self, static: Params, theta: Params, queries: Tensor,
                       known: Tensor | None = None) -> ConditionedRead:
        """The read starts at the query and descends E plus the query's evidence (module
        docstring); with ``candidates`` R > 0, once towards each of the R slots whose codes are
        nearest the query's, keeping the descent that ends at the lowest E."""
        eta = anchor_weight(static, theta["memory.count"], self.dim, self.budget, self.min_width).unsqueeze(-1).unsqueeze(-1)  # (..., 1, 1)
        confidence = (2.0 * queries - 1.0).abs()
        weights = eta * (confidence if self.anchor_norm == 1 else confidence.pow(2))
        trust = torch.stack([weights, queries], dim=-2)  # (..., M, 2, d)
        keep_query = self._novelty_test(static, theta, queries, confidence)
        if self.candidates == 0:
            # with a choice to make (the novelty test) the read takes `held` as it is: the clamped entries included
            held = torch.zeros_like(queries, dtype=torch.bool) if known is None or keep_query is None else known.expand(queries.shape)
            return ConditionedRead(queries, held, trust, None, keep_query)
        _, sims, _, _ = _pieces(static, theta, queries, self.budget, self.min_width)  # (..., M, S)
        r = min(self.candidates, sims.shape[-1])
        near, top = sims.topk(r, dim=-1)  # (..., M, R): the slots nearest the query's code
        empty = near < -1e8  # fewer slots written than R in this episode: no descent there counts
        codes = gather_slots(held_slots(theta), top)  # (..., M, R, d)

        m_axis = top.dim() - 2  # the queries' axis M

        def rows(t: Tensor) -> Tensor:  # (..., M, *rest) -> (..., M·R, *rest), each query R times
            t = t.unsqueeze(m_axis + 1)
            return t.expand(*top.shape, *t.shape[m_axis + 2:]).flatten(m_axis, m_axis + 1)

        start = rows(queries)
        held = torch.zeros_like(start, dtype=torch.bool) if known is None else rows(known.expand(queries.shape))
        rows_trust = torch.cat([rows(trust), codes.flatten(-3, -2).unsqueeze(-2)], dim=-2)  # (..., M·R, 3, d)

        def choose(iterates: Tensor) -> Tensor:
            """``(K, ..., M·R, d) -> (K, ..., M, d)``: each query's descent of lowest energy (the
            whole energy, every slot, at its last iterate)."""
            last = _energy(static, theta, iterates[-1], rows_trust[..., :2, :], self.budget, self.anchor_norm, self.min_width)
            last = last.unflatten(-1, top.shape[-2:]).masked_fill(empty, float("inf"))  # (..., M, R)
            pick = last.argmin(-1)  # (..., M)
            steps = iterates.unflatten(-2, top.shape[-2:])  # (K, ..., M, R, d)
            index = pick.unsqueeze(-1).unsqueeze(-1).expand(*pick.shape, 1, steps.shape[-1])
            chosen = torch.gather(steps, -2, index.expand(steps.shape[0], *index.shape)).squeeze(-2)
            return chosen if keep_query is None else keep_query(chosen)

        return ConditionedRead(start, held, rows_trust, None, choose)

    def _novelty_test(self, static: Params, theta: Params, queries: Tensor, confidence: Tensor):
        """With ``novelty`` τ > 0, once the memory has dropped patterns (more written than it has
        slots), a function ``(K, ..., M, d) -> (K, ..., M, d)`` that gives back the query, every
        iterate, where the read's end x overrode more of the query's evidence than τ bits per
        128 the query states, counting also how far the stored codes are from the end's bits
        (λ = ``novelty_misfit``):

        ``Σ_i |2q_i − 1| |x_i − q_i| + λ min_j ‖φ_c(x̄) − k_j‖² > τ · Σ_i |2q_i − 1| / d``,  x̄ = [x > ½]

        — such a query is likelier one the memory no longer holds than one it does (module
        docstring). A query stating every bit (``replace``) is held to τ; one with half its bits
        erased (at ½) to τ / 2. None when there is nothing to test."""
        if self.novelty == 0.0 or self.min_width == 0:
            return None
        dropped = theta["memory.count"] > self.slots  # (...): has this memory forgotten anything?
        if not bool(dropped.any()):
            return None

        def keep_query(iterates: Tensor) -> Tensor:
            end = iterates[-1]
            score = query_overridden(end, queries)  # (..., M)
            if self.novelty_misfit > 0:
                score = score + self.novelty_misfit * code_misfit(static, theta, end, self.budget, self.min_width)
            stated = confidence.sum(-1) / confidence.shape[-1]  # (..., M) the share of its bits the query states
            novel = (score > self.novelty * stated) & dropped.unsqueeze(-1)
            return torch.where(novel.unsqueeze(-1), queries.expand_as(iterates), iterates)

        return keep_query

    # --- the write ------------------------------------------------------------------------------
    def direct_write(self, static: Params, theta: Params, patterns: Tensor, rates: dict[str, Tensor],
                     mask: Tensor | None = None) -> Params:
        """Store ``patterns (..., N, d)`` (those of ``mask (..., N)``, None: all) after the
        ``count`` already held: slot ``count + i`` (modulo the slots, with a floor) gets ``ω φ(x_i)``,
        then every slot keeps the first ``c(count + N)`` coordinates. One matrix product for any
        N. ``ValueError`` past ``capacity`` without a floor; with one the oldest are dropped."""
        slots, count = theta["memory.weight"], theta["memory.count"]
        m = torch.ones(patterns.shape[:-1], dtype=patterns.dtype, device=patterns.device) if mask is None else mask
        m = m.to(patterns.dtype)
        held = count.detach().round()  # the count is an integer; it carries no gradient
        new_count = held + m.sum(-1)
        most = int(new_count.max().item()) if new_count.numel() else 0
        if self.min_width == 0 and most > self.capacity:
            raise ValueError(f"this memory holds at most {self.capacity} patterns per set (its capacity); "
                             f"writing these would hold {most}")
        most = min(max(most, 1), self.slots)  # only the first `most` rows can hold anything: the rest stay zero
        pos = held.unsqueeze(-1) + torch.cumsum(m, -1) - m  # (..., N) each pattern's place in the order written
        # with a floor on the width the table is a ring of `slots` rows: pattern p goes to row
        # p mod slots, and only the newest `slots` patterns written survive (one pass, any N)
        m = m * (pos >= (new_count - self.slots).unsqueeze(-1)).to(m.dtype)
        row = torch.remainder(pos, self.slots)
        onehot = (row.unsqueeze(-1) == torch.arange(most, device=slots.device, dtype=pos.dtype)).to(slots.dtype)
        onehot = onehot * m.unsqueeze(-1)  # (..., N, most)
        phi = (2.0 * patterns - 1.0) @ static["encoder.weight"].T + static["encoder.bias"]
        omega = rates["energy"][0, 0]
        head = slots[..., :most, :]
        written = onehot.sum(-2).unsqueeze(-1)  # (..., most, 1): 1 for the slots written now
        head = head * (1.0 - written) + omega * (onehot.transpose(-1, -2) @ phi)
        cols = code_columns(new_count, self.dim, self.budget, floor=self.min_width).unsqueeze(-2)  # (..., 1, d)
        rows = (torch.arange(most, device=slots.device, dtype=new_count.dtype) < new_count.unsqueeze(-1)).to(head.dtype)
        head = head * cols * rows.unsqueeze(-1)
        tail = slots.new_zeros(*slots.shape[:-2], self.slots - most, self.dim)
        return {"memory.weight": torch.cat([head, tail], dim=-2), "memory.count": new_count}


def query_overridden(x: Tensor, queries: Tensor) -> Tensor:
    """``Σ_i |2q_i − 1| |x_i − q_i|``: how much of the query's evidence a read's end x overrode
    (``(..., d) -> (...)``), the novelty test's first term."""
    return ((2.0 * queries - 1.0).abs() * (x - queries).abs()).sum(-1)


def code_misfit(static: Params, theta: Params, x: Tensor, budget: int, floor: int = 0) -> Tensor:
    """``min_j ‖φ_c(x̄) − k_j‖²``, x̄ = [x > ½]: how far the nearest stored code is from the bits of a
    read's end (``(..., M, d) -> (..., M)``; 0 where they are a stored pattern), the novelty
    test's second term."""
    phi, sims, _, _ = _pieces(static, theta, (x > 0.5).to(x.dtype), budget, floor)
    return phi.pow(2).sum(-1) - 2.0 * sims.max(-1).values


def anchor_weight(static: Params, count: Tensor, dim: int, budget: int, floor: int = 0) -> Tensor:
    """η holding ``count (...)`` patterns: ``softplus(a + b log(d / c))``, c the code width — how
    much the query's evidence weighs may change as the code narrows (a and b meta-learned)."""
    width = code_width(count, dim, budget, floor=floor)
    return nn.functional.softplus(static["anchor_raw"] + static["anchor_slope"] * torch.log(dim / width))


def code_width(count: Tensor, dim: int, budget: int, overhead: int = 0, floor: int = 0) -> Tensor:
    """Floats of code per stored pattern holding ``count`` (float) patterns in ``budget`` floats:
    ``min(d, max(floor, ⌊budget / count⌋ − overhead))``, ``overhead`` the floats each slot spends
    on anything else (a written flag: 1, for the baselines' ``width_follows_n`` layout), ``floor``
    the narrowest code kept (0: none; past ``⌊budget / floor⌋`` patterns the oldest are dropped)."""
    width = torch.div(budget, count.clamp_min(1.0), rounding_mode="floor") - overhead
    return torch.clamp(width.clamp_min(floor), max=dim)


def code_columns(count: Tensor, dim: int, budget: int, overhead: int = 0, floor: int = 0) -> Tensor:
    """``(..., d)`` 0/1: the code coordinates in use holding ``count (...)`` patterns
    (:func:`code_width`)."""
    width = code_width(count, dim, budget, overhead, floor)
    return (torch.arange(dim, device=count.device, dtype=count.dtype) < width.unsqueeze(-1)).to(count.dtype)


def _energy(static: Params, theta: Params, x: Tensor, trust: Tensor | None, budget: int, anchor_norm: int,
            floor: int = 0) -> Tensor:
    """E(x) plus the query term: ``x (..., M, d) -> (..., M)`` (``(d,) -> ()``); ``trust`` as in
    :meth:`CompressiveSlotEnergy.forward` (a third row: the energy of that slot's code alone)."""
    if trust is not None and trust.shape[-2] == 3:
        mu = nn.functional.softplus(static["curvature_raw"])
        phi = _code(static, theta, x, budget, floor)
        k = trust[..., 2, : phi.shape[-1]]
        e = 0.5 * mu * phi.pow(2).sum(-1) - (phi * k).sum(-1) + 0.5 * k.pow(2).sum(-1)
    else:
        phi, sims, beta, mu = _pieces(static, theta, x, budget, floor)
        e = 0.5 * mu * phi.pow(2).sum(-1) - torch.logsumexp(beta * sims, dim=-1) / beta
    if trust is not None:
        gap = x - trust[..., 1, :]
        held = gap.abs() if anchor_norm == 1 else 0.5 * gap.pow(2)
        e = e + (trust[..., 0, :] * held).sum(-1)
    return e.squeeze(0) if x.dim() == 1 else e


def _code(static: Params, theta: Params, x: Tensor, budget: int, floor: int = 0) -> Tensor:
    """``φ_c (..., M, w)``: the query's code, zero past each episode's code width c, computed only
    up to the widest code of the batch, w (``x (d,)`` gives ``(1, w)``): at N = 256 a quarter of
    the encoder's rows."""
    count, dim = theta["memory.count"], static["encoder.weight"].shape[-1]
    w = int(code_width(count.min(), dim, budget, floor=floor).item()) if count.numel() else dim
    cols = code_columns(count, dim, budget, floor=floor)[..., :w].unsqueeze(-2)  # (..., 1, w)
    phi = (2.0 * x - 1.0) @ static["encoder.weight"][:w].T + static["encoder.bias"][:w]
    return (phi.unsqueeze(0) if phi.dim() == 1 else phi) * cols


def _pieces(static: Params, theta: Params, x: Tensor, budget: int, floor: int = 0) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """``φ_c (..., M, w)`` (:func:`_code`), slot similarities ``(..., M, S)`` (−10⁹ for slots not
    written), β and μ."""
    phi, count = _code(static, theta, x, budget, floor), theta["memory.count"]
    slots = held_slots(theta)[..., : phi.shape[-1]]
    held = torch.arange(slots.shape[-2], device=slots.device, dtype=count.dtype) < count.unsqueeze(-1)  # (..., S)
    sims = phi @ slots.transpose(-1, -2) - 0.5 * slots.pow(2).sum(-1).unsqueeze(-2)
    sims = torch.where(held.unsqueeze(-2), sims, torch.full_like(sims, -1e9))
    return phi, sims, static["log_beta"].exp(), nn.functional.softplus(static["curvature_raw"])


def held_slots(theta: Params) -> Tensor:
    """The table's rows that can hold a pattern, ``(..., max count, d)`` (at least one row): the
    rows past every episode's count are zero and never read, so a read skips them."""
    rows = max(int(theta["memory.count"].max().item()) if theta["memory.count"].numel() else 0, 1)
    return theta["memory.weight"][..., :rows, :]


def _inv_softplus(v: float) -> float:
    return v + math.log(-math.expm1(-v))
