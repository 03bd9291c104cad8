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

__all__ = [
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
