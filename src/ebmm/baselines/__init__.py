"""The classical baselines: Hopfield networks (Hebb, Storkey, pseudo-inverse rules; no meta-learning).
The learned baselines (LSTM, Memory Networks, MANN, ...) are models, in :mod:`ebmm.models`."""

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

__all__ = [
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
