"""Energy networks whose writable weights are the memory."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch

from ._base import ConditionedRead, EnergyModel, Params, WritableLinear, is_writable, memory_size, split_params
from .compressive_slots import CompressiveSlotEnergy
from .conv import ResNetConvEnergy, ResNetFCEnergy, writable_width_for
from .gated_rnn import GatedRNNEnergy
from .image_slots import ImageSlotEnergy, pca_encoder
from .logcosh import LogCoshEnergy
from .slots import SlotEnergy

ENERGIES: dict[str, type[EnergyModel]] = {
    "compressive_slots": CompressiveSlotEnergy,
    "gated_rnn": GatedRNNEnergy,
    "image_slots": ImageSlotEnergy,
    "logcosh": LogCoshEnergy,
    "resnet_fc": ResNetFCEnergy,
    "resnet_conv": ResNetConvEnergy,
    "slots": SlotEnergy,
}


def register_energy(name: str, cls: type[EnergyModel]) -> type[EnergyModel]:
    """Make an energy class of your own buildable by name, as ``EnergyConfig(name, dim, kwargs)``
    (configs and checkpoints record the name). ``ValueError`` for a name already taken by another
    class, ``TypeError`` for a class that is not an :class:`EnergyModel`. Returns ``cls``, so it
    also serves as a decorator: ``register_energy("mine", MyEnergy)``. A checkpoint of a
    registered energy loads where the same registration has run."""
    if not (isinstance(cls, type) and issubclass(cls, EnergyModel)):
        raise TypeError(f"register_energy takes an EnergyModel subclass, got {cls!r}")
    if ENERGIES.get(name, cls) is not cls:
        raise ValueError(f"the energy name {name!r} is taken by {ENERGIES[name].__name__}; choose another")
    ENERGIES[name] = cls
    return cls


def build_energy(kind: str, *, seed: int = 0, **kwargs) -> EnergyModel:
    """Build an energy model by registry name (a key of :data:`ENERGIES`), its random initial
    weights drawn from a private CPU stream seeded by ``seed``: the same weights for the same
    seed, and the caller's random generators (CPU and CUDA) are left as they were. (Calling an
    energy class directly draws from the global CPU generator, like any ``torch.nn`` module.)"""
    if kind not in ENERGIES:
        raise ValueError(f"unknown energy {kind!r}; choose one of {sorted(ENERGIES)}")
    with private_cpu_rng(seed):
        return ENERGIES[kind](**kwargs)


@contextlib.contextmanager
def private_cpu_rng(seed: int) -> Iterator[None]:
    """Inside: the global CPU generator seeded by ``seed``; after: the caller's CPU generator
    restored. No CUDA generator is seeded or touched (``torch.manual_seed`` would seed them
    all, and ``fork_rng(devices=[])`` would not restore them)."""
    with torch.random.fork_rng(devices=[]):
        torch.default_generator.manual_seed(seed)
        yield


__all__ = [
    "ENERGIES",
    "CompressiveSlotEnergy",
    "ConditionedRead",
    "EnergyModel",
    "GatedRNNEnergy",
    "ImageSlotEnergy",
    "LogCoshEnergy",
    "Params",
    "ResNetConvEnergy",
    "ResNetFCEnergy",
    "SlotEnergy",
    "WritableLinear",
    "build_energy",
    "is_writable",
    "memory_size",
    "pca_encoder",
    "register_energy",
    "split_params",
    "writable_width_for",
]
