"""The meta-learned energy memory (EBMM) as a public memory object."""

from __future__ import annotations

from .config import MemoryConfig
from .learned_memory import LearnedMemory
from .meta.model import Architecture
from .meta.protocol import MetaParams


class EnergyMemory(LearnedMemory):
    """EBMM: patterns are written into an energy network's writable weights by T meta-learned
    gradient steps, and read back by K steps of projected gradient descent on the energy.

    >>> import numpy as np, ebmm
    >>> memory = ebmm.load("binary-erase")
    >>> x = np.random.randint(0, 2, (32, 128))
    >>> state = memory.write(x)
    >>> q = x.astype("float32"); q[:, :64] = 0.5
    >>> memory.read(q, state).shape
    (32, 128)
    """

    def __init__(self, config: MemoryConfig, params: MetaParams | None = None, *, name: str = "ebmm", info: dict | None = None):
        super().__init__(Architecture.from_config(config), params, name=name, info=info)
        self.config = config

    @property
    def arch(self) -> Architecture:
        return self.model  # type: ignore[return-value]
