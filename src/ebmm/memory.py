"""The public memory interface: ``write(patterns) -> state``, ``read(queries, state)``.

Every memory — the meta-learned energy memory, every learned baseline, every Hopfield network —
is one :class:`AssociativeMemory`: a model (:mod:`ebmm.models`) and its parameters. It
validates inputs at the boundary (:mod:`ebmm.inputs`), runs the model's pure, batched
``write(params, X (B, N, d)) -> state`` and ``read(params, state, Q (B, M, d), trajectory)``,
and converts results back to numpy. :func:`EnergyMemory` and :func:`HopfieldMemory` build the
two kinds a user makes by hand; :func:`ebmm.load` every other.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from .checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from .config import MemoryConfig
from .devices import resolve_device
from .errors import CapacityWarning, CheckpointError
from .files import read_safetensors, save_safetensors
from .inputs import ArrayLike, as_known, as_patterns
from .models.ebmm import EBMM
from .models.hopfield import HopfieldNetwork
from .models.protocol import LearnedModel, MetaParams, read_known


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


class AssociativeMemory:
    """A memory: a model (:class:`~ebmm.models.protocol.LearnedModel` — EBMM, a learned
    baseline, a Hopfield network) plus its parameters, behind ``write`` / ``read``.

    The one public class of every memory. It validates inputs at the boundary (numpy arrays or
    torch tensors, values in [0, 1], the right shape, finite, non-empty), runs the model's pure
    ``write`` / ``read`` on them, and converts results back to numpy; ``known`` (clamped
    completion) is handled here for every model; ``save`` writes one ``.safetensors`` file that
    :func:`ebmm.load` reads back.

    **Arguments:** ``model``; ``params`` its meta-parameters (None: ``model.init_params()``, a
    fresh start; ``{}`` for a Hopfield network); ``name`` for tables (default: the kind);
    ``info`` free metadata kept in saved files.
    """

    def __init__(self, model: LearnedModel, params: MetaParams | None = None, *, name: str | None = None,
                 info: dict | None = None):
        self.model = model
        self.params = params if params is not None else model.init_params()
        #: floats per pattern d
        self.dim: int = model.dim
        #: most patterns the memory was built or trained to store (None: no stated limit)
        self.max_patterns: int | None = model.max_patterns
        #: a short name for tables
        self.name: str = name or model.kind
        self.info = dict(info or {})
        #: where the memory computes (:meth:`to`); inputs are moved here, results come back as numpy
        self.device: torch.device = torch.device("cpu")

    @property
    def event_shape(self) -> tuple[int, ...]:
        """One pattern's shape: ``(d,)`` for vectors, ``(C, H, W)`` for image memories."""
        return tuple(getattr(self.model, "event_shape", (self.dim,)))

    def memory_size(self) -> int:
        """Memory size in float32 numbers (see :func:`ebmm.memory_size`)."""
        return self.model.memory_size()

    @property
    def config(self) -> MemoryConfig:
        """The energy memory's :class:`~ebmm.config.MemoryConfig` (EBMM only; another model's
        configuration is ``model.config_dict()``)."""
        if not isinstance(self.model, EBMM):
            raise AttributeError(f"{self.name} is a {self.model.kind} model; its configuration is model.config_dict()")
        return self.model.config

    @property
    def arch(self) -> EBMM:
        """The EBMM model (EBMM only)."""
        if not isinstance(self.model, EBMM):
            raise AttributeError(f"{self.name} is a {self.model.kind} model, not EBMM")
        return self.model

    def with_read_options(self, **options) -> AssociativeMemory:
        """This memory, its parameters shared, on its device, read with some of its energy's
        read-time options changed (:meth:`~ebmm.models.EBMM.with_read_options`: the image slot
        energy's ``recheck``, ``candidates``, ``region``, …). ``ValueError`` for an option the
        energy does not list, or a model that is not EBMM."""
        if not isinstance(self.model, EBMM):
            raise ValueError(f"{self.name} is a {self.model.kind} model: it has no read-time options")
        memory = AssociativeMemory(self.model.with_read_options(**options), self.params, name=self.name, info=self.info)
        memory.device = self.device
        return memory

    def to(self, device: str | torch.device) -> AssociativeMemory:
        """Move the memory to ``device`` (``auto|cpu|cuda|cuda:N|mps``, see
        :func:`ebmm.devices.resolve_device`) and return it. Writes and reads then run there; inputs
        may be numpy arrays or tensors on any device, results are numpy arrays as always. States
        written before the move are moved when used."""
        where = resolve_device(device)
        self.params = {g: {n: t.to(where) for n, t in d.items()} for g, d in self.params.items()}
        self.device = where
        return self

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
            if state is None:
                tensors = self.model.write(self.params, x)
            else:
                tensors = self.model.write_more(self.params, self._on_device(state.tensors), x)
        return MemoryState({k: v.detach() for k, v in tensors.items()}, n, x.shape[0], batched, self)

    @property
    def supports_incremental_write(self) -> bool:
        """Whether :meth:`write` can add patterns to a written state: the model has a
        ``write_more`` (and, where it depends on the model's settings, ``can_write_more``)."""
        return hasattr(self.model, "write_more") and getattr(self.model, "can_write_more", True)

    def empty_state(self, batch_size: int | None = None) -> MemoryState:
        """A state holding no patterns (``len == 0``), to fill with ``write(patterns,
        state=...)``: the memory's initial weights (θ̄ for EBMM, zeros for a Hopfield network).
        ``batch_size`` B gives B independent empty sets (then write ``(B, N, d)`` batches)."""
        if not self.supports_incremental_write:
            raise ValueError(f"{self.name} cannot add patterns to a written state, so it has no empty state to fill")
        if batch_size is not None and (isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1):
            raise ValueError(f"batch_size must be a positive integer or None, got {batch_size!r}")
        b = batch_size or 1
        tensors = self._on_device(self.model.empty_state(self.params, b))
        return MemoryState({k: v.detach().clone() for k, v in tensors.items()}, 0, b, batch_size is not None, self)

    def _check_state(self, state: MemoryState) -> None:
        if not isinstance(state, MemoryState):
            raise TypeError(f"state must be the MemoryState returned by write(), got {type(state).__name__}")
        if not self.compatible(state.owner):
            same = " (another memory of that name: its parameters differ)" if state.owner.name == self.name else ""
            raise ValueError(f"this state was written by {state.owner.name}, not by {self.name}{same}")

    def fingerprint(self) -> str:
        """What this memory's states mean: the model kind plus a SHA-256 of what a written state
        depends on (the model's ``state_config()`` where it has one, else its whole
        configuration) and every meta-parameter. A saved state loads only into a memory with the
        same fingerprint."""
        state_config = getattr(self.model, "state_config", self.model.config_dict)()
        h = hashlib.sha256(json.dumps({"kind": self.model.kind, "config": state_config}, sort_keys=True,
                                      default=str).encode())
        for group in sorted(self.params):
            for name in sorted(self.params[group]):
                h.update(f"{group}/{name}".encode())
                h.update(self.params[group][name].detach().cpu().contiguous().numpy().tobytes())
        return f"{self.model.kind}:{h.hexdigest()[:32]}"

    def compatible(self, other: AssociativeMemory) -> bool:
        """Whether a state written by ``other`` can be read by this memory: the same memory, or
        one with the same fingerprint (e.g. loaded again from its file)."""
        if other is self or (isinstance(other, AssociativeMemory) and other.model is self.model and other.params is self.params):
            return True
        return isinstance(other, AssociativeMemory) and other.fingerprint() == self.fingerprint()

    def read(
        self, queries: ArrayLike, state: MemoryState, trajectory: bool = False, known: ArrayLike | None = None
    ) -> np.ndarray:
        """Retrieve from ``queries`` — ``(M, d)``, or ``(B, M, d)`` matching a batched write.

        ``known`` (optional, booleans or 0/1 of the queries' shape, or of one query's shape to
        apply to all): the entries each query has *right*. The read then completes only the
        other entries — *clamped completion*: the energy memory and the Hopfield networks hold
        the known entries fixed at every step of their dynamics, the other memories overwrite
        them in their output (:func:`~ebmm.models.protocol.read_known`) — so the known entries
        of the retrieval equal the query's.

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
            if mask is None:
                out = self.model.read(self.params, tensors, q, trajectory)
            else:
                out = read_known(self.model, self.params, tensors, q, trajectory, mask)
        out = out.float().clamp(0, 1).cpu().numpy()  # the API returns numpy arrays, from any device
        return out if batched else out[0]

    def save(self, path: str | Path) -> Path:
        """Write the memory to a ``.safetensors`` file (atomically); ``ebmm.load(path)`` reads it."""
        return save_checkpoint(path, Checkpoint(self.model, self.params, info={"name": self.name, **self.info}))

    @classmethod
    def from_file(cls, path: str | Path, name: str | None = None) -> AssociativeMemory:
        """Load a memory or a training checkpoint (raises :class:`~ebmm.errors.CheckpointError`)."""
        ck = load_checkpoint(path)
        info = dict(ck.info)
        if ck.train_config is not None:
            info.setdefault("trained_patterns", ck.train_config.patterns)
            info.setdefault("trained_distortion", str(ck.train_config.distortion))
            info.setdefault("trained_steps", ck.step)
        stored_name = info.pop("name", None)
        name = name or stored_name or Path(path).stem
        return cls(ck.model, ck.params, name=name, info=info)  # the checkpoint's model, not a rebuilt one

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, dim={self.dim}, memory_size={self.memory_size()})"


def EnergyMemory(config: MemoryConfig | EBMM, params: MetaParams | None = None, *, name: str = "ebmm",
                 info: dict | None = None) -> AssociativeMemory:
    """EBMM as an :class:`AssociativeMemory`, built from an energy memory's configuration (or
    its :class:`~ebmm.models.ebmm.EBMM`) and, if given, its meta-parameters (default: a fresh
    initialisation). Patterns are written into the energy network's writable weights by T
    meta-learned gradient steps and read back by K steps of projected gradient descent on the
    energy.

    >>> import numpy as np, ebmm
    >>> memory = ebmm.load("binary-erase")
    >>> x = np.random.randint(0, 2, (32, 128))
    >>> state = memory.write(x)
    >>> q = x.astype("float32"); q[:, :64] = 0.5
    >>> memory.read(q, state).shape
    (32, 128)
    """
    model = config if isinstance(config, EBMM) else EBMM.from_config(config)
    return AssociativeMemory(model, params, name=name, info=info)


def HopfieldMemory(rule: str = "hebb", dim: int = 128, update: str = "sync", max_sweeps: int | None = None,
                   seed: int = 0) -> AssociativeMemory:
    """A classical Hopfield network (:class:`~ebmm.models.hopfield.HopfieldNetwork`: its rule,
    dimension, update mode, sweeps and async seed) as an :class:`AssociativeMemory`, named
    ``hopfield-RULE`` (``ebmm.load("hopfield-hebb")`` is the same memory).

    >>> from ebmm.tasks import sample_episodes
    >>> x, q = sample_episodes(1, 10, 128, "flip:8")
    >>> mem = HopfieldMemory("pseudo_inverse", dim=128)
    >>> out = mem.read(q[0], mem.write(x[0]))  # (10, 128), values in {0, 1}
    """
    return AssociativeMemory(HopfieldNetwork(rule, dim, update, max_sweeps, seed), {}, name=f"hopfield-{rule}")
