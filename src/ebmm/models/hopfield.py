"""Classical Hopfield memories: Hebb, Storkey and pseudo-inverse write rules, sign dynamics.

A binary pattern ``x ∈ {0, 1}^d`` is stored through its ±1 image ``s = 2x − 1`` (an erased
entry 0.5 maps to 0). Writing computes a symmetric coupling matrix ``W (d, d)``; reading iterates

    s ← sign(W s),   sign(0) = the unit's current value,

synchronously (all units at once) or asynchronously (one unit at a time, in a random order
each sweep) until no unit changes, or ``max_sweeps`` sweeps.

**The rules** (:data:`WRITE_RULES`; a memory's name is ``hopfield-`` + the rule, ``_`` → ``-``):

- ``hebb`` — Hopfield (1982): ``W = (1/d) Σ_μ s_μ s_μᵀ``, zero diagonal.
- ``storkey`` — Storkey (1997), as published: ``W_ij ← W_ij + (1/d)(s_i s_j − s_i h_ji − h_ij s_j)``
  with ``h_ij = Σ_{k≠i,j} W_ik s_k``, zero diagonal.
- ``storkey_local`` — the common local-field variant of it, with ``h_i = Σ_{k≠i} W_ik s_k`` in
  place of ``h_ij`` (what many implementations call Storkey's rule; it lacks the original's
  ``+(2/d) W_ij``).
- ``pseudo_inverse`` — Personnaz, Guyon & Dreyfus (1985): the projection ``W = S⁺ S`` onto the
  span of the patterns, **with** its diagonal.
- ``pseudo_inverse_zero_diagonal`` — the same projection with its diagonal set to zero (Kanter &
  Sompolinsky 1987): stored patterns stay exact fixed points and the basins widen, but at high
  load the zero-diagonal projection has eigenvalues near ``−N/d`` and synchronous reading falls
  into 2-cycles (random patterns, d = 128: every query at N = 96).

**The state** holds exactly ``d(d−1)/2 + d`` floats per episode — the paper's budget, a
symmetric matrix with its diagonal: the strict upper triangle of ``W`` (``"weights_upper"``)
and its diagonal (``"diagonal"``, zero for every rule but ``pseudo_inverse``). The rules have
no thresholds, so no floats are spent on biases.

Every function here is batched over a leading episode axis ``B`` and is a pure function of
its inputs. A synchronous read that reaches ``max_sweeps`` without settling returns the state
of its last sweep, which may be one phase of a 2-cycle rather than a fixed point.

References:
    J. J. Hopfield, "Neural networks and physical systems with emergent collective
    computational abilities", PNAS 79 (1982).
    A. Storkey, "Increasing the capacity of a Hopfield network without sacrificing
    functionality", ICANN 1997.
    L. Personnaz, I. Guyon, G. Dreyfus, "Information storage and retrieval in spin-glass like
    neural networks", J. Physique Lettres 46 (1985).
    I. Kanter, H. Sompolinsky, "Associative recall of memory without errors", Phys. Rev. A 35
    (1987).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, ClassVar

import torch
from torch import Tensor

from ..energies import memory_size
from ._common import reconstruction_loss
from .protocol import MetaParams

HOPFIELD_RULES = ("hebb", "storkey", "storkey_local", "pseudo_inverse", "pseudo_inverse_zero_diagonal")
"""Names of the write rules, as accepted by :class:`HopfieldNetwork`."""

HOPFIELD_UPDATES = ("sync", "async")
"""Names of the update modes, as accepted by :class:`HopfieldNetwork`."""

DEFAULT_MAX_SWEEPS = {"sync": 100, "async": 20}
"""Sweeps allowed before reading stops, per update mode, when ``max_sweeps`` is not given."""


# --- ±1 images ---------------------------------------------------------------------------------
def to_spins(x: Tensor) -> Tensor:
    """``x ∈ [0, 1]`` -> ``s = 2x − 1 ∈ [−1, 1]`` (binary 0/1 -> −1/+1, erased 0.5 -> 0)."""
    return 2.0 * x - 1.0


def from_spins(s: Tensor) -> Tensor:
    """``s ∈ [−1, 1]`` -> ``x = (s + 1) / 2 ∈ [0, 1]`` (the inverse of :func:`to_spins`)."""
    return (s + 1.0) / 2.0


def _zero_diagonal(w: Tensor) -> Tensor:
    return w * (1.0 - torch.eye(w.shape[-1], dtype=w.dtype, device=w.device))


# --- write rules: s (B, N, d) -> W (B, d, d), symmetric, zero diagonal --------------------------
def hebb_weights(s: Tensor) -> Tensor:
    """Hebb's outer-product rule (Hopfield 1982).

        W = (1/d) Σ_μ s_μ s_μᵀ,   W_ii = 0

    **Arguments:** ``s (B, N, d)`` — the ±1 images of the N patterns of each episode.

    **Returns:** ``W (B, d, d)``, symmetric with zero diagonal.
    """
    d = s.shape[-1]
    return _zero_diagonal(s.transpose(-1, -2) @ s / d)  # (B, d, d)


def _storkey(s: Tensor, original: bool, w: Tensor | None = None) -> Tensor:
    """Storkey's updates for the patterns ``s (B, N, d)`` in order, from ``w`` (None: zeros)."""
    b, n, d = s.shape
    w = s.new_zeros(b, d, d) if w is None else w
    for mu in range(n):
        x = s[:, mu, :].unsqueeze(-1)  # (B, d, 1)
        h = w @ x  # (B, d, 1): h_i = Σ_{k≠i} W_ik s_k (W_ii = 0)
        xt, ht = x.transpose(-1, -2), h.transpose(-1, -2)
        step = x @ xt - x @ ht - h @ xt
        if original:  # h_ij = h_i − W_ij s_j, so the update gains (1/d)(2 W_ij) (s_j² = 1)
            step = step + 2.0 * w
        w = _zero_diagonal(w + step / d)
    return w


def storkey_weights(s: Tensor) -> Tensor:
    """Storkey's rule as published (Storkey 1997), one pattern after another::

        h_ij = Σ_{k≠i,j} W_ik s_k
        W_ij ← W_ij + (1/d) (s_i s_j − s_i h_ji − h_ij s_j),   W_ii = 0

    With ``h_i = Σ_{k≠i} W_ik s_k`` this is ``h_ij = h_i − W_ij s_j``, so each update is the
    local-field one (:func:`storkey_local_weights`) plus ``(2/d) W_ij`` — vectorised over
    episodes and units; the loop runs over the N patterns. From ``W = 0`` the first pattern's
    update is Hebb's.

    **Arguments:** ``s (B, N, d)`` — the ±1 images of the N patterns of each episode.

    **Returns:** ``W (B, d, d)``, symmetric with zero diagonal.
    """
    return _storkey(s, original=True)


def storkey_local_weights(s: Tensor) -> Tensor:
    """The local-field variant of Storkey's rule, one pattern after another::

        h = W s_μ   (h_i = Σ_{k≠i} W_ik s_k, since W_ii = 0)
        W ← W + (1/d) (s_μ s_μᵀ − s_μ hᵀ − h s_μᵀ),   W_ii = 0

    **Arguments:** ``s (B, N, d)``. **Returns:** ``W (B, d, d)``, symmetric with zero diagonal.
    """
    return _storkey(s, original=False)


def _projection(s: Tensor) -> Tensor:
    s64 = s.double()
    p = torch.linalg.pinv(s64) @ s64  # (B, d, N) @ (B, N, d) -> (B, d, d)
    return (p + p.transpose(-1, -2)) / 2  # exactly symmetric


def pseudo_inverse_weights(s: Tensor) -> Tensor:
    """The pseudo-inverse (projection) rule (Personnaz, Guyon & Dreyfus 1985)::

        W = Sᵀ (S Sᵀ)⁺ S = S⁺ S

    the orthogonal projection onto the span of the patterns, diagonal included: every stored
    pattern is a fixed point with no crosstalk while the patterns are linearly independent
    (``N < d`` for random patterns). Computed in float64, returned in the input's dtype.

    **Arguments:** ``s (B, N, d)``. **Returns:** ``W (B, d, d)``, symmetric.
    """
    return _projection(s).to(s.dtype)


def pseudo_inverse_zero_diagonal_weights(s: Tensor) -> Tensor:
    """:func:`pseudo_inverse_weights` with the diagonal set to zero (see the module docstring).

    **Arguments:** ``s (B, N, d)``. **Returns:** ``W (B, d, d)``, symmetric with zero diagonal.
    """
    return _zero_diagonal(_projection(s)).to(s.dtype)


def project_more(p: Tensor, s: Tensor, tol: float = 1e-9) -> Tensor:
    """Extend the orthogonal projection ``P (B, d, d)`` onto the span of the stored patterns by
    the patterns ``s (B, N, d)``, one at a time (Gram–Schmidt: ``r = s − P s``,
    ``P ← P + r rᵀ / ‖r‖²``; a pattern already in the span, ``‖r‖² ≤ tol·d``, changes nothing).
    The result equals :func:`pseudo_inverse_weights` of all the patterns. Float64 inside."""
    p64, s64 = p.double(), s.double()
    d = s.shape[-1]
    for mu in range(s.shape[1]):
        x = s64[:, mu, :].unsqueeze(-1)  # (B, d, 1)
        r = x - p64 @ x
        norm = (r * r).sum((-1, -2), keepdim=True)  # (B, 1, 1)
        keep = norm > tol * d
        p64 = p64 + torch.where(keep, r @ r.transpose(-1, -2) / norm.clamp_min(1e-300), torch.zeros_like(p64))
    return ((p64 + p64.transpose(-1, -2)) / 2).to(p.dtype)


#: rules with an incremental form: ``(W (B, d, d), s (B, N, d)) -> W`` after adding the patterns
WRITE_MORE_RULES: dict[str, Callable[[Tensor, Tensor], Tensor]] = {
    "hebb": lambda w, s: w + hebb_weights(s),
    "storkey": lambda w, s: _storkey(s, True, w),
    "storkey_local": lambda w, s: _storkey(s, False, w),
    "pseudo_inverse": project_more,
    # the zero-diagonal pseudo-inverse has lost the projection's diagonal: it cannot be extended
}


WRITE_RULES: dict[str, Callable[[Tensor], Tensor]] = {
    "hebb": hebb_weights,
    "storkey": storkey_weights,
    "storkey_local": storkey_local_weights,
    "pseudo_inverse": pseudo_inverse_weights,
    "pseudo_inverse_zero_diagonal": pseudo_inverse_zero_diagonal_weights,
}
"""Write rule by name: ``s (B, N, d) -> W (B, d, d)``."""


# --- packing the symmetric matrix into its strict upper triangle --------------------------------
def pack_symmetric(w: Tensor) -> Tensor:
    """Strict upper triangle of ``W (B, d, d)``, row by row: ``-> (B, d(d−1)/2)``.

    ``W`` is taken to be symmetric: its diagonal and lower triangle are not read.
    """
    d = w.shape[-1]
    i, j = torch.triu_indices(d, d, offset=1, device=w.device)
    return w[..., i, j]


def unpack_symmetric(v: Tensor, d: int) -> Tensor:
    """The symmetric ``W (B, d, d)`` with zero diagonal whose strict upper triangle is
    ``v (B, d(d−1)/2)``; the inverse of :func:`pack_symmetric`."""
    if v.shape[-1] != d * (d - 1) // 2:
        raise ValueError(f"a packed {d}x{d} triangle has {d * (d - 1) // 2} entries, got {v.shape[-1]}")
    i, j = torch.triu_indices(d, d, offset=1, device=v.device)
    w = v.new_zeros(*v.shape[:-1], d, d)
    w[..., i, j] = v
    w[..., j, i] = v
    return w


# --- read dynamics ------------------------------------------------------------------------------
def sign_update(field: Tensor, s: Tensor) -> Tensor:
    """``sign(field)`` where it is nonzero, the current ``s`` where it is exactly zero."""
    return torch.where(field > 0, 1.0, torch.where(field < 0, -1.0, s))


def sync_sweep(s: Tensor, w: Tensor, known: Tensor | None = None) -> Tensor:
    """All units at once: ``s (B, M, d) -> sign(W s)`` with ``W (B, d, d)``; units where
    ``known (B, M, d)`` (bool, None: none) is True keep their value."""
    new = sign_update(s @ w, s)  # W symmetric: s W = (W s)ᵀ
    return new if known is None else torch.where(known, s, new)


def async_sweep(s: Tensor, w: Tensor, order: Tensor, known: Tensor | None = None) -> Tensor:
    """One unit at a time: unit ``order[b, m, t]`` of query ``(b, m)`` is updated at step t.

    **Arguments:** ``s (B, M, d)``, ``W (B, d, d)``, ``order (B, M, d)`` a permutation of the
    units per query; ``known (B, M, d)`` bool (None: none), units that are never updated.

    **Returns:** the state after all d single-unit updates, ``(B, M, d)``.
    """
    s = s.clone()
    bsz, m, d = s.shape
    episode = torch.arange(bsz, device=s.device).unsqueeze(-1).expand(bsz, m)  # (B, M)
    for t in range(d):
        unit = order[..., t : t + 1]  # (B, M, 1)
        rows = w[episode, unit.squeeze(-1)]  # (B, M, d): row W_unit of each query's episode
        field = (rows * s).sum(-1, keepdim=True)
        current = s.gather(-1, unit)
        new = sign_update(field, current)
        if known is not None:
            new = torch.where(known.gather(-1, unit), current, new)
        s.scatter_(-1, unit, new)
    return s


def hopfield_retrieve(
    s: Tensor,
    w: Tensor,
    *,
    update: str = "sync",
    max_sweeps: int = 100,
    generator: torch.Generator | None = None,
    known: Tensor | None = None,
) -> Tensor:
    """Run the sign dynamics from ``s`` until no unit of any query changes, at most
    ``max_sweeps`` sweeps.

    **Arguments:** ``s (B, M, d)`` the queries' ±1 images (0 for erased entries), ``W (B, d, d)``
    symmetric; ``update`` ``"sync"`` or ``"async"`` (a fresh random order per
    query and sweep, drawn from ``generator``); ``known (B, M, d)`` bool (None: none), the
    units held at the query's values (clamped completion: only the others are updated).

    **Returns:** the trajectory ``(S, B, M, d)``: the query, then the state after each sweep
    that changed some query. A query that settles earlier repeats its fixed point, so all
    queries have the same length; ``S ≤ max_sweeps + 1``.
    """
    if update not in HOPFIELD_UPDATES:
        raise ValueError(f"unknown update {update!r}; choose one of {HOPFIELD_UPDATES}")
    states = [s]
    for _ in range(max_sweeps):
        if update == "sync":
            new = sync_sweep(s, w, known)
        else:
            order = torch.rand(s.shape, generator=generator, device=s.device).argsort(dim=-1)
            new = async_sweep(s, w, order, known)
        if torch.equal(new, s):
            break
        s = new
        states.append(s)
    return torch.stack(states)


# --- the model ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class HopfieldNetwork:
    """A classical Hopfield network as a :class:`~ebmm.models.protocol.LearnedModel` with no
    meta-parameters (``init_params() == {}``): the ``"hopfield"`` kind. Its memory is
    ``ebmm.HopfieldMemory(rule, dim, ...)`` or ``ebmm.load("hopfield-RULE")``.

    **Fields:**
        rule: one of :data:`HOPFIELD_RULES` (see :data:`WRITE_RULES` and the module docstring).
        dim: pattern dimension d.
        update: ``"sync"`` (all units at once) or ``"async"`` (one at a time, random order).
        max_sweeps: sweeps before reading stops; None: 100 (sync) or 20 (async).
        seed: seeds the async update order; every read starts from it afresh, so reads are
            deterministic.

    The state holds ``d(d−1)/2 + d`` floats per episode: ``"weights_upper"`` (the packed
    strict upper triangle of W) and ``"diagonal"`` (W's diagonal). The read holds a clamped
    query's known units fixed (``clamps_in_read``): they are never updated.
    """

    kind: ClassVar[str] = "hopfield"
    #: nothing to meta-train: not a ``--model`` of ``ebmm train`` (:func:`ebmm.models.system_kinds`)
    trainable: ClassVar[bool] = False
    clamps_in_read: ClassVar[bool] = True
    rule: str = "hebb"
    dim: int = 128
    update: str = "sync"
    max_sweeps: int | None = None
    seed: int = 0
    #: no stated limit: a Hopfield network holds any number of patterns (and degrades)
    max_patterns: ClassVar[None] = None

    def __post_init__(self):
        if self.rule not in HOPFIELD_RULES:
            raise ValueError(f"unknown Hopfield rule {self.rule!r}; choose one of {HOPFIELD_RULES}")
        if self.update not in HOPFIELD_UPDATES:
            raise ValueError(f"unknown update {self.update!r}; choose one of {HOPFIELD_UPDATES}")
        if isinstance(self.dim, bool) or not isinstance(self.dim, int) or self.dim < 2:
            raise ValueError(f"dim must be an integer >= 2, got {self.dim!r}")
        sweeps = DEFAULT_MAX_SWEEPS[self.update] if self.max_sweeps is None else self.max_sweeps
        if isinstance(sweeps, bool) or not isinstance(sweeps, int) or sweeps < 1:
            raise ValueError(f"max_sweeps must be a positive integer, got {sweeps!r}")
        object.__setattr__(self, "max_sweeps", sweeps)
        object.__setattr__(self, "seed", int(self.seed))

    # --- LearnedModel protocol ----------------------------------------------------------------
    def config_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_config_dict(cls, d: dict[str, Any]) -> HopfieldNetwork:
        return cls(**d)

    def init_params(self, seed: int = 0) -> MetaParams:
        """No meta-parameters: the write rule is fixed."""
        return {}

    def loss(self, params: MetaParams, patterns: Tensor, queries: Tensor, mask: Tensor | None = None,
             known: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """The reconstruction error of the read (nothing in it has a gradient: no parameters)."""
        if mask is not None and not bool(mask.all()):
            raise ValueError("a Hopfield network writes every pattern it is given; pass only the patterns to store")
        retrieved = self.read(params, self.write(params, patterns), queries, False, known=known)
        return reconstruction_loss(retrieved, patterns), retrieved

    def write(self, params: MetaParams, patterns: Tensor) -> dict[str, Tensor]:
        """``patterns (B, N, d)`` -> ``{"weights_upper": (B, d(d−1)/2), "diagonal": (B, d)}``."""
        return self._state(WRITE_RULES[self.rule](to_spins(patterns)))  # W (B, d, d)

    @property
    def can_write_more(self) -> bool:
        """Hebb, both Storkey rules and the pseudo-inverse (with its diagonal) add patterns to a
        written state exactly as if all had been written at once; the zero-diagonal
        pseudo-inverse cannot (its zeroed diagonal is lost)."""
        return self.rule in WRITE_MORE_RULES

    def write_more(self, params: MetaParams, state: dict[str, Tensor], patterns: Tensor) -> dict[str, Tensor]:
        """Add ``patterns (B, N, d)`` to a written state (``ValueError`` unless :attr:`can_write_more`)."""
        if not self.can_write_more:
            raise ValueError(f"the {self.rule} rule cannot add patterns to a written state")
        return self._state(WRITE_MORE_RULES[self.rule](self._matrix(state), to_spins(patterns)))

    def empty_state(self, params: MetaParams, batch_size: int) -> dict[str, Tensor]:
        """``batch_size`` empty networks: W = 0."""
        d = self.dim
        return {"weights_upper": torch.zeros(batch_size, d * (d - 1) // 2), "diagonal": torch.zeros(batch_size, d)}

    def state_config(self) -> dict[str, Any]:
        """What a written state depends on: the rule and d (a state written with one update mode
        reads with the other)."""
        return {"rule": self.rule, "dim": self.dim}

    def read(self, params: MetaParams, state: dict[str, Tensor], queries: Tensor, trajectory: bool,
             known: Tensor | None = None) -> Tensor:
        """``queries (B, M, d)`` -> ``(B, M, d)`` in {0, 1}, or ``(B, S, M, d)`` with ``trajectory``;
        ``known (B, M, d)`` bool: units never updated."""
        generator = torch.Generator(device=queries.device).manual_seed(self.seed)
        traj = hopfield_retrieve(to_spins(queries), self._matrix(state), update=self.update, max_sweeps=self.max_sweeps,
                                 generator=generator, known=known)  # (S, B, M, d)
        out = from_spins(traj)
        return out.transpose(0, 1) if trajectory else out[-1]

    def memory_size(self) -> int:
        d = self.dim
        return memory_size({"weights_upper": torch.empty(d * (d - 1) // 2, device="meta"),
                            "diagonal": torch.empty(d, device="meta")})

    # --- helpers ------------------------------------------------------------------------------
    @staticmethod
    def _state(w: Tensor) -> dict[str, Tensor]:
        """``W (B, d, d)`` -> the state's ``weights_upper`` and ``diagonal``."""
        return {"weights_upper": pack_symmetric(w), "diagonal": torch.diagonal(w, dim1=-2, dim2=-1).clone()}

    def _matrix(self, state: dict[str, Tensor]) -> Tensor:
        """The state's tensors -> ``W (B, d, d)``."""
        return unpack_symmetric(state["weights_upper"], self.dim) + torch.diag_embed(state["diagonal"])
