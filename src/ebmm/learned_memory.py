"""A meta-trained memory — the energy memory or a learned baseline — behind the public
:class:`~ebmm.memory.AssociativeMemory` API: :class:`LearnedMemory` for every learned model,
:func:`EnergyMemory` builds one from an energy memory's configuration."""

from __future__ import annotations

from pathlib import Path

from torch import Tensor

from .config import MemoryConfig
from .memory import AssociativeMemory
from .meta.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from .models.ebmm import EBMM
from .models.protocol import LearnedModel, MetaParams, read_known


class LearnedMemory(AssociativeMemory):
    """A :class:`~ebmm.models.protocol.LearnedModel` plus its meta-learned parameters.

    ``write`` runs the model's write on the validated patterns, ``read`` its read; ``save``
    writes one ``.safetensors`` file that :func:`ebmm.load` reads back.
    """

    def __init__(self, model: LearnedModel, params: MetaParams | None = None, *, name: str | None = None, info: dict | None = None):
        self.model = model
        self.params = params if params is not None else model.init_params()
        self.dim = model.dim
        self.max_patterns = model.max_patterns
        self.name = name or model.kind
        self.info = dict(info or {})

    @property
    def config(self) -> MemoryConfig:
        """The energy memory's :class:`~ebmm.config.MemoryConfig` (EBMM only; a learned baseline's
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

    def with_read_options(self, **options) -> LearnedMemory:
        """This memory, its parameters shared, on its device, read with some of its energy's
        read-time options changed (:meth:`~ebmm.models.EBMM.with_read_options`: the image slot
        energy's ``recheck``, ``candidates``, ``region``, …). ``ValueError`` for an option the
        energy does not list, or a model that is not EBMM."""
        if not isinstance(self.model, EBMM):
            raise ValueError(f"{self.name} is a {self.model.kind} model: it has no read-time options")
        memory = LearnedMemory(self.model.with_read_options(**options), self.params, name=self.name, info=self.info)
        memory.device = self.device
        return memory

    def _to(self, device) -> None:
        self.params = {g: {n: t.to(device) for n, t in d.items()} for g, d in self.params.items()}

    def _write(self, patterns: Tensor) -> dict[str, Tensor]:
        return self.model.write(self.params, patterns)

    def _read(self, queries: Tensor, tensors: dict[str, Tensor], trajectory: bool) -> Tensor:
        return self.model.read(self.params, tensors, queries, trajectory)

    @property
    def supports_incremental_write(self) -> bool:  # type: ignore[override]
        """Whether the model can continue writing from a written state (the energy memory can)."""
        return hasattr(self.model, "write_more")

    def _write_more(self, patterns: Tensor, tensors: dict[str, Tensor]) -> dict[str, Tensor]:
        return self.model.write_more(self.params, tensors, patterns)

    def _empty(self, batch_size: int) -> dict[str, Tensor]:
        empty = getattr(self.model, "empty_state", None)  # a baseline's all-zero state
        if empty is not None:
            return empty(batch_size)
        return {k: v.expand(batch_size, *v.shape) for k, v in self.params["init"].items()}  # EBMM: θ̄

    def fingerprint(self) -> str:
        """The model kind plus a SHA-256 of its configuration and every meta-parameter."""
        import hashlib
        import json

        h = hashlib.sha256(json.dumps({"kind": self.model.kind, "config": self.model.config_dict()}, sort_keys=True,
                                      default=str).encode())
        for group in sorted(self.params):
            for name in sorted(self.params[group]):
                h.update(f"{group}/{name}".encode())
                h.update(self.params[group][name].detach().cpu().contiguous().numpy().tobytes())
        return f"{self.model.kind}:{h.hexdigest()[:32]}"

    def _read_known(self, queries: Tensor, tensors: dict[str, Tensor], trajectory: bool, known: Tensor) -> Tensor:
        return read_known(self.model, self.params, tensors, queries, trajectory, known)

    @property
    def event_shape(self) -> tuple[int, ...]:
        return tuple(getattr(self.model, "event_shape", (self.dim,)))

    def memory_size(self) -> int:
        return self.model.memory_size()

    def compatible(self, other: AssociativeMemory) -> bool:
        if other is self or (isinstance(other, LearnedMemory) and other.model is self.model and other.params is self.params):
            return True
        # another instance of the same memory (e.g. loaded again from its file)
        return isinstance(other, LearnedMemory) and other.fingerprint() == self.fingerprint()

    def save(self, path: str | Path) -> Path:
        """Write the memory to a ``.safetensors`` file (atomically); ``ebmm.load(path)`` reads it."""
        return save_checkpoint(path, Checkpoint(self.model, self.params, info={"name": self.name, **self.info}))

    @classmethod
    def from_file(cls, path: str | Path, name: str | None = None) -> LearnedMemory:
        """Load a memory or a training checkpoint (raises :class:`~ebmm.errors.CheckpointError`)."""
        ck = load_checkpoint(path)
        info = dict(ck.info)
        if ck.train_config is not None:
            info.setdefault("trained_patterns", ck.train_config.patterns)
            info.setdefault("trained_distortion", str(ck.train_config.distortion))
            info.setdefault("trained_steps", ck.step)
        stored_name = info.pop("name", None)
        name = name or stored_name or Path(path).stem
        return LearnedMemory(ck.model, ck.params, name=name, info=info)  # the checkpoint's model, not a rebuilt one


def EnergyMemory(config: MemoryConfig | EBMM, params: MetaParams | None = None, *, name: str = "ebmm",
                 info: dict | None = None) -> LearnedMemory:
    """EBMM as a :class:`LearnedMemory` (the one public class of learned memories), built from
    an energy memory's configuration (or its :class:`~ebmm.models.ebmm.EBMM`) and, if
    given, its meta-parameters (default: a fresh initialisation). Patterns are written into the
    energy network's writable weights by T meta-learned gradient steps and read back by K steps
    of projected gradient descent on the energy.

    >>> import numpy as np, ebmm
    >>> memory = ebmm.load("binary-erase")
    >>> x = np.random.randint(0, 2, (32, 128))
    >>> state = memory.write(x)
    >>> q = x.astype("float32"); q[:, :64] = 0.5
    >>> memory.read(q, state).shape
    (32, 128)
    """
    arch = config if isinstance(config, EBMM) else EBMM.from_config(config)
    return LearnedMemory(arch, params, name=name, info=info)
