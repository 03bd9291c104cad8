"""ebmm — meta-learned energy-based associative memory (Bartunov et al., 2019).

Quick start::

    import numpy as np, ebmm
    memory = ebmm.load("binary-erase")                  # a shipped pretrained memory
    patterns = np.random.randint(0, 2, (32, 128))
    state = memory.write(patterns)                      # store
    queries = patterns.astype(float); queries[:, :64] = 0.5   # erase half of every pattern
    retrieved = memory.read(queries, state)             # retrieve, (32, 128) in [0, 1]

Public names are re-exported here once; submodules hold the pieces (``energies``,
``dynamics``, ``models``, ``meta``, ``tasks``, ``evaluation``).
"""

from .config import EnergyConfig, MemoryConfig, ReadConfig, TrainConfig, WriteConfig
from .energies import EnergyModel, GatedRNNEnergy, LogCoshEnergy, memory_size
from .devices import DeviceError, resolve_device
from .errors import CapacityWarning, CheckpointError, EBMMError, PackageDataError, TrainingInterrupted, UnknownMemoryError
from .memory import AssociativeMemory, EnergyMemory, HopfieldMemory, MemoryState, load_state
from .registry import available, load, pretrained

__version__ = "0.1.0"

__all__ = [
    "AssociativeMemory",
    "CapacityWarning",
    "CheckpointError",
    "DeviceError",
    "EBMMError",
    "EnergyConfig",
    "EnergyMemory",
    "EnergyModel",
    "GatedRNNEnergy",
    "HopfieldMemory",
    "LogCoshEnergy",
    "MemoryConfig",
    "MemoryState",
    "PackageDataError",
    "ReadConfig",
    "TrainConfig",
    "TrainingInterrupted",
    "UnknownMemoryError",
    "WriteConfig",
    "available",
    "load",
    "load_state",
    "memory_size",
    "pretrained",
    "resolve_device",
]


def __getattr__(name: str):
    """``LearnedMemory``, the old name of :class:`AssociativeMemory` (when only learned models
    stood behind it), for one release (a ``DeprecationWarning``)."""
    if name == "LearnedMemory":
        import warnings

        warnings.warn("ebmm.LearnedMemory is now ebmm.AssociativeMemory, the one class of every memory; the old name "
                      "goes in the next release", DeprecationWarning, stacklevel=2)
        return AssociativeMemory
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
