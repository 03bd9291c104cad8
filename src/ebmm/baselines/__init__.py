"""Baseline memories compared with the meta-learned energy memory."""

from .hopfield import (
    HOPFIELD_RULES,
    HOPFIELD_UPDATES,
    WRITE_RULES,
    HopfieldMemory,
    hebb_weights,
    hopfield_retrieve,
    pack_symmetric,
    pseudo_inverse_weights,
    storkey_weights,
    unpack_symmetric,
)

from .lstm import LSTM
from .memory_networks import MemoryNetwork, slot_layout
from .modern_hopfield import ModernHopfield

__all__ = [
    "LSTM",
    "MemoryNetwork",
    "ModernHopfield",
    "slot_layout",
    "HOPFIELD_RULES",
    "HOPFIELD_UPDATES",
    "WRITE_RULES",
    "HopfieldMemory",
    "hebb_weights",
    "hopfield_retrieve",
    "pack_symmetric",
    "pseudo_inverse_weights",
    "storkey_weights",
    "unpack_symmetric",
]
