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

import torch
from torch import Tensor

from ..energies import memory_size
from ..memory import AssociativeMemory

HOPFIELD_RULES = ("hebb", "storkey", "storkey_local", "pseudo_inverse", "pseudo_inverse_zero_diagonal")
"""Names of the write rules, as accepted by :class:`HopfieldMemory`."""

HOPFIELD_UPDATES = ("sync", "async")
"""Names of the update modes, as accepted by :class:`HopfieldMemory`."""

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


# --- the memory ---------------------------------------------------------------------------------
class HopfieldMemory(AssociativeMemory):
    """A classical Hopfield network behind the ``write`` / ``read`` interface.

    **Arguments:**
        rule: one of :data:`HOPFIELD_RULES` (see :data:`WRITE_RULES` and the module docstring).
        dim: pattern dimension d.
        update: ``"sync"`` (all units at once) or ``"async"`` (one at a time, random order).
        max_sweeps: sweeps before reading stops; default 100 (sync) or 20 (async).
        seed: seeds the async update order; every read starts from it afresh, so reads are
            deterministic.

    The state holds ``d(d−1)/2 + d`` floats per episode: ``"weights_upper"`` (the packed
    strict upper triangle of W) and ``"diagonal"`` (W's diagonal).

    Example:
        >>> from ebmm.tasks import sample_episodes
        >>> x, q = sample_episodes(1, 10, 128, "flip:8")
        >>> mem = HopfieldMemory("pseudo_inverse", dim=128)
        >>> out = mem.read(q[0], mem.write(x[0]))  # (10, 128), values in {0, 1}
    """

    max_patterns = None

    def __init__(
        self,
        rule: str = "hebb",
        dim: int = 128,
        update: str = "sync",
        max_sweeps: int | None = None,
        seed: int = 0,
    ) -> None:
        if rule not in HOPFIELD_RULES:
            raise ValueError(f"unknown Hopfield rule {rule!r}; choose one of {HOPFIELD_RULES}")
        if update not in HOPFIELD_UPDATES:
            raise ValueError(f"unknown update {update!r}; choose one of {HOPFIELD_UPDATES}")
        if isinstance(dim, bool) or not isinstance(dim, int) or dim < 2:
            raise ValueError(f"dim must be an integer >= 2, got {dim!r}")
        if max_sweeps is None:
            max_sweeps = DEFAULT_MAX_SWEEPS[update]
        if isinstance(max_sweeps, bool) or not isinstance(max_sweeps, int) or max_sweeps < 1:
            raise ValueError(f"max_sweeps must be a positive integer, got {max_sweeps!r}")
        self.rule = rule
        self.dim = dim
        self.update = update
        self.max_sweeps = max_sweeps
        self.seed = int(seed)
        self.name = f"hopfield-{rule}"

    def _write(self, patterns: Tensor) -> dict[str, Tensor]:
        s = to_spins(patterns)  # (B, N, d)
        return self._state(WRITE_RULES[self.rule](s))  # W (B, d, d)

    @property
    def supports_incremental_write(self) -> bool:  # type: ignore[override]
        """Hebb, both Storkey rules and the pseudo-inverse (with its diagonal) add patterns to a
        written state exactly as if all had been written at once; the zero-diagonal
        pseudo-inverse cannot (its zeroed diagonal is lost)."""
        return self.rule in WRITE_MORE_RULES

    def _write_more(self, patterns: Tensor, tensors: dict[str, Tensor]) -> dict[str, Tensor]:
        return self._state(WRITE_MORE_RULES[self.rule](self._matrix(tensors), to_spins(patterns)))

    def fingerprint(self) -> str:
        return f"HopfieldMemory:{self.rule}:{self.dim}"

    @staticmethod
    def _state(w: Tensor) -> dict[str, Tensor]:
        """``W (B, d, d)`` -> the state's ``weights_upper`` and ``diagonal``."""
        return {"weights_upper": pack_symmetric(w), "diagonal": torch.diagonal(w, dim1=-2, dim2=-1).clone()}

    def _matrix(self, tensors: dict[str, Tensor]) -> Tensor:
        """The state's tensors -> ``W (B, d, d)``."""
        return unpack_symmetric(tensors["weights_upper"], self.dim) + torch.diag_embed(tensors["diagonal"])

    def _empty(self, batch_size: int) -> dict[str, Tensor]:
        d = self.dim
        return {"weights_upper": torch.zeros(batch_size, d * (d - 1) // 2), "diagonal": torch.zeros(batch_size, d)}

    def _read(self, queries: Tensor, tensors: dict[str, Tensor], trajectory: bool) -> Tensor:
        return self._retrieve(queries, tensors, trajectory, None)

    def _read_known(self, queries: Tensor, tensors: dict[str, Tensor], trajectory: bool, known: Tensor) -> Tensor:
        return self._retrieve(queries, tensors, trajectory, known)  # known units are never updated

    def _retrieve(self, queries: Tensor, tensors: dict[str, Tensor], trajectory: bool, known: Tensor | None) -> Tensor:
        w = self._matrix(tensors)  # (B, d, d)
        generator = torch.Generator(device=queries.device).manual_seed(self.seed)
        traj = hopfield_retrieve(
            to_spins(queries),
            w,
            update=self.update,
            max_sweeps=self.max_sweeps,
            generator=generator,
            known=known,
        )  # (S, B, M, d)
        out = from_spins(traj)
        return out.transpose(0, 1) if trajectory else out[-1]  # (B, S, M, d) or (B, M, d)

    def memory_size(self) -> int:
        d = self.dim
        state = {
            "weights_upper": torch.empty(d * (d - 1) // 2, device="meta"),
            "diagonal": torch.empty(d, device="meta"),
        }
        return memory_size(state)

    def compatible(self, other: AssociativeMemory) -> bool:
        return isinstance(other, HopfieldMemory) and other.rule == self.rule and other.dim == self.dim
