"""The meta-learned energy memory behind the public :class:`~ebmm.memory.AssociativeMemory` API."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor

from .config import MemoryConfig
from .energies import memory_size
from .memory import AssociativeMemory
from .meta.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from .meta.model import Architecture, MetaParams, init_params, read_batch, write_batch


class EnergyMemory(AssociativeMemory):
    """EBMM: patterns are written into an energy network's writable weights by T meta-learned
    gradient steps, and read back by K steps of projected gradient descent on the energy.

    >>> import numpy as np, ebmm
    >>> memory = ebmm.load("binary-erase")           # doctest: +SKIP
    >>> x = np.random.randint(0, 2, (32, 128))        # doctest: +SKIP
    >>> state = memory.write(x)                        # doctest: +SKIP
    >>> retrieved = memory.read(queries, state)       # doctest: +SKIP
    """

    def __init__(self, config: MemoryConfig, params: MetaParams | None = None, *, name: str = "ebmm", info: dict | None = None):
        self.config = config
        self.arch = Architecture.from_config(config)
        self.params = params if params is not None else init_params(self.arch)
        self.dim = config.energy.dim
        self.max_patterns = config.max_patterns
        self.name = name
        self.info = dict(info or {})

    # --- core ---------------------------------------------------------------------------------
    def _write(self, patterns: Tensor) -> dict[str, Tensor]:
        return write_batch(self.arch, self.params, patterns)

    def _read(self, queries: Tensor, tensors: dict[str, Tensor], trajectory: bool) -> Tensor:
        iterates = read_batch(self.arch, self.params, tensors, queries)  # (B, K, M, d)
        if not trajectory:
            return iterates[:, -1]
        return torch.cat([queries.unsqueeze(1), iterates], dim=1)

    def memory_size(self) -> int:
        return memory_size(self.arch.energy)

    def compatible(self, other: AssociativeMemory) -> bool:
        return other is self or (isinstance(other, EnergyMemory) and other.config == self.config and other.params is self.params)

    # --- persistence --------------------------------------------------------------------------
    def save(self, path: str | Path) -> Path:
        """Write the memory to a ``.safetensors`` file (atomically); ``ebmm.load(path)`` reads it."""
        return save_checkpoint(path, Checkpoint(self.config, self.params, info={"name": self.name, **self.info}))

    @classmethod
    def from_file(cls, path: str | Path, name: str | None = None) -> EnergyMemory:
        """Load a memory or a training checkpoint (raises :class:`~ebmm.errors.CheckpointError`)."""
        ck = load_checkpoint(path)
        info = dict(ck.info)
        if ck.train_config is not None:
            info.setdefault("trained_patterns", ck.train_config.patterns)
            info.setdefault("trained_distortion", ck.train_config.distortion)
            info.setdefault("trained_steps", ck.step)
        return cls(ck.memory_config, ck.params, name=name or info.pop("name", None) or Path(path).stem, info=info)
