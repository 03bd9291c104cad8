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
    pseudo_inverse_zero_diagonal_weights,
    storkey_local_weights,
    storkey_weights,
    unpack_symmetric,
)

from .flat_images import IMAGE_BASELINES, FlatImages, image_baseline
from .kanerva import KANERVA_ADDRESSING, KanervaMachine
from .lstm import LSTM
from .mann import MANN
from .memory_networks import MemoryNetwork, slot_layout
from .modern_hopfield import ModernHopfield
from .plasticity import DifferentiablePlasticity

__all__ = [
    "IMAGE_BASELINES",
    "DifferentiablePlasticity",
    "FlatImages",
    "image_baseline",
    "KANERVA_ADDRESSING",
    "KanervaMachine",
    "LSTM",
    "MANN",
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
    "pseudo_inverse_zero_diagonal_weights",
    "storkey_local_weights",
    "storkey_weights",
    "unpack_symmetric",
]
