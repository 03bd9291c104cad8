"""Energy networks whose writable weights are the memory."""

from ._base import EnergyModel, Params, is_writable, memory_size, split_params
from .conv import ResNetConvEnergy, ResNetFCEnergy, writable_width_for
from .gated_rnn import GatedRNNEnergy
from .image_slots import ImageSlotEnergy, pca_encoder
from .logcosh import LogCoshEnergy
from .slots import SlotEnergy

ENERGIES: dict[str, type[EnergyModel]] = {
    "gated_rnn": GatedRNNEnergy,
    "image_slots": ImageSlotEnergy,
    "logcosh": LogCoshEnergy,
    "resnet_fc": ResNetFCEnergy,
    "resnet_conv": ResNetConvEnergy,
    "slots": SlotEnergy,
}


def build_energy(kind: str, **kwargs) -> EnergyModel:
    """Build an energy model by registry name (a key of :data:`ENERGIES`)."""
    if kind not in ENERGIES:
        raise ValueError(f"unknown energy {kind!r}; choose one of {sorted(ENERGIES)}")
    return ENERGIES[kind](**kwargs)


__all__ = [
    "ENERGIES",
    "EnergyModel",
    "GatedRNNEnergy",
    "ImageSlotEnergy",
    "LogCoshEnergy",
    "Params",
    "ResNetConvEnergy",
    "ResNetFCEnergy",
    "SlotEnergy",
    "build_energy",
    "is_writable",
    "memory_size",
    "pca_encoder",
    "split_params",
    "writable_width_for",
]
