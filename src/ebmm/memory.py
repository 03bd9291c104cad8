"""The public memory interface: ``write(patterns) -> state``, ``read(queries, state)``.

Every memory — the meta-learned energy memory and every baseline — subclasses
:class:`AssociativeMemory`, which validates inputs at the boundary (numpy arrays or torch
tensors, values in [0, 1], right dimension, finite, non-empty) and converts results back to
numpy. Subclasses implement the batched, validated core: ``_write(X: (B, N, d)) -> tensors``
and ``_read(Q: (B, M, d), tensors, trajectory) -> (B, [K+1,] M, d)``.
"""

from __future__ import annotations

import json
import warnings
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from .dynamics import keep_known
from .errors import CapacityWarning, CheckpointError
from .files import read_safetensors, save_safetensors

ArrayLike = Any  # numpy.ndarray | torch.Tensor | nested sequences of numbers


@dataclass(frozen=True, eq=False)
class MemoryState:
    """What ``write`` returns: the memory's contents (its writable tensors) after storing.

    ``tensors`` carry a leading episode axis ``B``; ``batched`` says whether the user wrote a
    batch ``(B, N, d)`` or a single set ``(N, d)`` (then ``B = 1`` and reads are unbatched).
    """

    tensors: dict[str, Tensor]
    n_patterns: int
    batch_size: int
    batched: bool
    owner: AssociativeMemory

    def memory_size(self) -> int:
        """Floats held per episode (the one shared count): the memory's own count."""
        return self.owner.memory_size()

    def __len__(self) -> int:
        """Patterns written into this state (per episode), over every ``write`` that built it."""
        return self.n_patterns

    def save(self, path: str | Path) -> Path:
        """Write the state to a ``.safetensors`` file (atomically), with the fingerprint of the
        memory that wrote it; :func:`load_state` (``ebmm.load_state``) reads it back for that
        memory only. The format: the state's tensors (with their leading episode axis) and
        metadata — the format tag, the fingerprint and name of the memory that wrote it, the
        number of patterns, whether it was a batch."""
        meta = {
            "format": STATE_FORMAT,
            "fingerprint": self.owner.fingerprint(),
            "memory": self.owner.name,
            "n_patterns": str(self.n_patterns),
            "batched": json.dumps(self.batched),
            "batch_size": str(self.batch_size),
        }
        return save_safetensors(path, self.tensors, meta)


#: the format tag of a saved :class:`MemoryState`
STATE_FORMAT = "ebmm-state-1"


def load_state(path: str | Path, memory: AssociativeMemory) -> MemoryState:
    """Read a state saved by :meth:`MemoryState.save` for ``memory`` (which must be the memory
    that wrote it, or one with the same fingerprint).

    Raises :class:`~ebmm.errors.CheckpointError` for a missing, corrupt or truncated file and
    ``ValueError`` for a state written by another memory.
    """
    path = Path(path)
    meta, tensors = read_safetensors(path, "state")
    if meta.get("format") != STATE_FORMAT:
        raise CheckpointError(f"{path} is not an ebmm memory state (format {meta.get('format')!r}, expected {STATE_FORMAT!r})")
    try:
        n, batch, batched = int(meta["n_patterns"]), int(meta["batch_size"]), bool(json.loads(meta["batched"]))
    except (KeyError, ValueError, TypeError) as e:
        raise CheckpointError(f"{path} has malformed metadata: {e}") from e
    if meta.get("fingerprint") != memory.fingerprint():
        raise ValueError(f"{path} holds a state written by {meta.get('memory')!r}, not by {memory.name!r}")
    if n < 1 or batch < 1 or any(t.dim() < 1 or t.shape[0] != batch for t in tensors.values()):
        raise CheckpointError(f"{path}: its tensors do not match its metadata ({batch} sets)")
    if not all(torch.isfinite(t).all() for t in tensors.values() if t.is_floating_point()):
        raise CheckpointError(f"{path}: the state holds NaN or infinite values (corrupt?)")
    return MemoryState(tensors, n, batch, batched, memory)


def _numeric_tensor(values: ArrayLike, what: str, expected: str) -> Tensor:
    """``values`` (a tensor, numpy array or nested sequence of numbers) as a CPU tensor of its own
    dtype; ``TypeError`` naming ``what`` for anything that is not numbers."""
    if isinstance(values, Tensor):
        return values.detach().to("cpu")
    try:
        arr = np.asarray(values)
    except Exception as e:  # ragged lists and the like
        raise TypeError(f"{what}: cannot convert to an array ({e})") from e
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise TypeError(f"{what}: expected {expected}, got dtype {arr.dtype}")
    return torch.from_numpy(np.ascontiguousarray(arr))


def as_patterns(values: ArrayLike, event_shape: int | tuple[int, ...], what: str) -> tuple[Tensor, bool]:
    """Validate and convert user input to a float32 tensor ``(B, N, *event_shape)``.

    ``event_shape`` is one pattern's shape: ``(d,)`` (or just ``d``) for vectors,
    ``(C, H, W)`` for images. Returns ``(tensor, batched)``. Raises ``ValueError`` /
    ``TypeError`` with a clear message.
    """
    event = (event_shape,) if isinstance(event_shape, int) else tuple(event_shape)
    e = len(event)
    shown = ", ".join(map(str, event))
    given = _numeric_tensor(values, what, "numbers")
    if given.is_complex():
        raise TypeError(f"{what}: complex values are not patterns")
    t = given.float()
    if t.dim() not in (e + 1, e + 2):
        raise ValueError(f"{what}: expected shape (N, {shown}) or (B, N, {shown}), got {tuple(t.shape)}")
    if tuple(t.shape[-e:]) != event:
        got = t.shape[-1] if e == 1 else tuple(t.shape[-e:])
        kind = f"{event[0]}-dimensional patterns" if e == 1 else f"patterns of shape {event}"
        raise ValueError(f"{what}: this memory stores {kind}, got {'dimension' if e == 1 else 'shape'} {got}")
    if t.shape[-e - 1] == 0 or (t.dim() == e + 2 and t.shape[0] == 0):
        raise ValueError(f"{what}: empty set (shape {tuple(t.shape)})")
    # range checks in the caller's dtype: a float64 beyond float32's range must be reported
    # as out of [0, 1], not turned into inf by the cast
    _check_values(given, what)
    batched = t.dim() == e + 2
    return (t if batched else t.unsqueeze(0)).contiguous(), batched


def as_known(values: ArrayLike, queries: Tensor, batched: bool) -> Tensor:
    """Validate a ``known`` mask against validated ``queries (B, M, *event)``: booleans or 0/1
    numbers of the queries' shape as the user gave them, or of one query's shape (then it applies
    to every query). Returns a bool tensor ``(B, M, *event)``; raises ``ValueError`` /
    ``TypeError`` with a clear message."""
    t = _numeric_tensor(values, "known", "booleans or 0/1")
    if t.dtype != torch.bool:
        if t.is_complex() or not torch.isin(t.float(), torch.tensor([0.0, 1.0])).all():
            raise ValueError("known: expected booleans or 0/1 values (True where the query's entry is intact)")
        t = t != 0
    given = tuple(queries.shape if batched else queries.shape[1:])
    event = tuple(queries.shape[2:])
    if tuple(t.shape) == given:
        t = t if batched else t.unsqueeze(0)
    elif tuple(t.shape) == event:
        t = t.expand(queries.shape)
    else:
        raise ValueError(f"known: expected shape {given} (like the queries) or {event} (one query), got {tuple(t.shape)}")
    return t.expand(queries.shape).contiguous()


def _check_values(t: Tensor, what: str) -> None:
    """Raise ``ValueError`` unless every value of ``t`` is finite and in [0, 1]."""
    if t.numel() == 0:
        return
    if not torch.isfinite(t).all():
        raise ValueError(f"{what}: contains NaN or infinite values")
    if t.min() < 0 or t.max() > 1:
        raise ValueError(
            f"{what}: values must lie in [0, 1] (got [{float(t.min()):g}, {float(t.max()):g}]); "
            "binary patterns are {0, 1}, erased entries 0.5"
        )


class AssociativeMemory(ABC):
    """A memory that stores a set of patterns and retrieves them from distorted queries."""

    #: floats per pattern d
    dim: int

    @property
    def event_shape(self) -> tuple[int, ...]:
        """One pattern's shape: ``(d,)`` for vectors, ``(C, H, W)`` for image memories."""
        return (self.dim,)
    #: most patterns the memory was built or trained to store (None: no stated limit)
    max_patterns: int | None = None
    #: where the memory computes (:meth:`to`); inputs are moved here, results come back as numpy
    device: torch.device = torch.device("cpu")
    #: a short name for tables
    name: str = "memory"

    # --- the validated, batched core each memory implements ---------------------------------
    @abstractmethod
    def _write(self, patterns: Tensor) -> dict[str, Tensor]:
        """``patterns (B, N, *event_shape)`` in [0, 1] -> memory tensors with a leading axis B."""

    @abstractmethod
    def _read(self, queries: Tensor, tensors: dict[str, Tensor], trajectory: bool) -> Tensor:
        """``queries (B, M, *event)`` -> ``(B, M, *event)`` or, with ``trajectory``, ``(B, S, M, *event)``
        whose first entry is the query and last the retrieval."""

    @abstractmethod
    def memory_size(self) -> int:
        """Memory size in float32 numbers (see :func:`ebmm.memory_size`)."""

    def to(self, device: str | torch.device) -> AssociativeMemory:
        """Move the memory to ``device`` (``auto|cpu|cuda|cuda:N|mps``, see
        :func:`ebmm.devices.resolve_device`) and return it. Writes and reads then run there; inputs
        may be numpy arrays or tensors on any device, results are numpy arrays as always. States
        written before the move are moved when used."""
        from .devices import resolve_device

        where = resolve_device(device)
        self._to(where)
        self.device = where
        return self

    def _to(self, device: torch.device) -> None:
        """Move the memory's own tensors (parameters) to ``device``; memories without any keep
        this default."""

    def _on_device(self, tensors: dict[str, Tensor]) -> dict[str, Tensor]:
        return {k: v.to(self.device) for k, v in tensors.items()}

    # --- the public API ---------------------------------------------------------------------
    def write(self, patterns: ArrayLike, state: MemoryState | None = None) -> MemoryState:
        """Store ``patterns`` — ``(N, d)``, or ``(B, N, d)`` for B independent sets — in [0, 1].

        With ``state`` (a state this memory wrote), the patterns are *added* to it: the result
        holds the earlier patterns and these (``len(result) == len(state) + N``); the state
        passed in is not changed. Memories that cannot add to a written state raise
        ``ValueError`` (:attr:`supports_incremental_write`).

        Returns the memory state to pass to :meth:`read`. Warns (:class:`CapacityWarning`)
        when the patterns held exceed what the memory was trained for.
        """
        if state is not None:
            self._check_state(state)
            if not self.supports_incremental_write:
                raise ValueError(f"{self.name} cannot add patterns to a written state; write all of them at once")
        x, batched = as_patterns(patterns, self.event_shape, "patterns")
        if state is not None and (batched != state.batched or x.shape[0] != state.batch_size):
            raise ValueError(f"patterns of shape {tuple(x.shape if batched else x.shape[1:])} do not match the state's "
                             f"{'batch of ' + str(state.batch_size) + ' sets' if state.batched else 'single set'}")
        n = x.shape[1] + (state.n_patterns if state is not None else 0)
        if self.max_patterns is not None and n > self.max_patterns:
            warnings.warn(
                f"{self.name}: holding {n} patterns, more than the {self.max_patterns} it was "
                "trained for; expect retrieval to degrade",
                CapacityWarning,
                stacklevel=2,
            )
        x = x.to(self.device)
        with torch.no_grad():
            tensors = self._write(x) if state is None else self._write_more(x, self._on_device(state.tensors))
        return MemoryState({k: v.detach() for k, v in tensors.items()}, n, x.shape[0], batched, self)

    #: whether :meth:`write` can add patterns to a written state
    supports_incremental_write: bool = False

    def empty_state(self, batch_size: int | None = None) -> MemoryState:
        """A state holding no patterns (``len == 0``), to fill with ``write(patterns,
        state=...)``: the memory's initial weights (θ̄ for EBMM, zeros for a Hopfield network).
        ``batch_size`` B gives B independent empty sets (then write ``(B, N, d)`` batches)."""
        if not self.supports_incremental_write:
            raise ValueError(f"{self.name} cannot add patterns to a written state, so it has no empty state to fill")
        if batch_size is not None and (isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1):
            raise ValueError(f"batch_size must be a positive integer or None, got {batch_size!r}")
        b = batch_size or 1
        tensors = self._on_device(self._empty(b))
        return MemoryState({k: v.detach().clone() for k, v in tensors.items()}, 0, b, batch_size is not None, self)

    def _empty(self, batch_size: int) -> dict[str, Tensor]:
        """The tensors of ``batch_size`` empty states (memories with incremental writes)."""
        raise NotImplementedError

    def _write_more(self, patterns: Tensor, tensors: dict[str, Tensor]) -> dict[str, Tensor]:
        """Add ``patterns (B, N, *event)`` to a written state's tensors (memories with
        :attr:`supports_incremental_write`)."""
        raise NotImplementedError

    def _check_state(self, state: MemoryState) -> None:
        if not isinstance(state, MemoryState):
            raise TypeError(f"state must be the MemoryState returned by write(), got {type(state).__name__}")
        if not self.compatible(state.owner):
            same = " (another memory of that name: its parameters differ)" if state.owner.name == self.name else ""
            raise ValueError(f"this state was written by {state.owner.name}, not by {self.name}{same}")

    def fingerprint(self) -> str:
        """A string that identifies what this memory's states mean (its kind and, for learned
        memories, a hash of its parameters): a saved state loads only into a memory with the
        same fingerprint."""
        return f"{type(self).__name__}:{self.name}:{self.dim}"

    def read(
        self, queries: ArrayLike, state: MemoryState, trajectory: bool = False, known: ArrayLike | None = None
    ) -> np.ndarray:
        """Retrieve from ``queries`` — ``(M, d)``, or ``(B, M, d)`` matching a batched write.

        ``known`` (optional, booleans or 0/1 of the queries' shape, or of one query's shape to
        apply to all): the entries each query has *right*. The read then completes only the
        other entries — *clamped completion*: the energy memory and the Hopfield networks hold
        the known entries fixed at every step of their dynamics, the other memories overwrite
        them in their output — so the known entries of the retrieval equal the query's.

        **Returns:** the retrieved patterns, same shape as ``queries`` (values in [0, 1]); with
        ``trajectory=True``, every iterate: ``(S, M, d)`` (or ``(B, S, M, d)``), where the first
        is the query and the last the retrieval.
        """
        self._check_state(state)
        q, batched = as_patterns(queries, self.event_shape, "queries")
        if batched != state.batched or q.shape[0] != state.batch_size:
            event = ", ".join(map(str, self.event_shape))
            want = f"(B={state.batch_size}, M, {event})" if state.batched else f"(M, {event})"
            raise ValueError(
                f"queries of shape {tuple(q.shape if batched else q.shape[1:])} do not match the written state: expected {want}"
            )
        mask = None if known is None else as_known(known, q, batched).to(self.device)
        q, tensors = q.to(self.device), self._on_device(state.tensors)
        with torch.no_grad():
            out = self._read(q, tensors, trajectory) if mask is None else self._read_known(q, tensors, trajectory, mask)
        out = out.float().clamp(0, 1).cpu().numpy()  # the API returns numpy arrays, from any device
        return out if batched else out[0]

    def _read_known(self, queries: Tensor, tensors: dict[str, Tensor], trajectory: bool, known: Tensor) -> Tensor:
        """:meth:`_read` under clamped completion, ``known (B, M, *event)`` bool. By default the
        known entries overwrite the output (every iterate of a trajectory); memories whose
        dynamics can hold them fixed at every step override this."""
        return keep_known(self._read(queries, tensors, trajectory), queries, known, trajectory)

    def compatible(self, other: AssociativeMemory) -> bool:
        """Whether a state written by ``other`` can be read by this memory."""
        return other is self

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, dim={self.dim}, memory_size={self.memory_size()})"
