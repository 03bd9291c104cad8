"""Meta-trainable memory models: the learned-model protocol, EBMM itself and every learned
baseline, in one explicit table.

=================  ===========================================================  ==============
kind               model                                                        module
=================  ===========================================================  ==============
delta_rule         fast-weight matrix written by the (gated) delta rule         ``delta_rule``
ebmm               the meta-learned energy memory (energy network + read/write)  ``ebmm``
flat_images        a vector baseline on flattened images (adapter)              ``flat_images``
hopfield           classical Hopfield network (Hebb, Storkey, pseudo-inverse)   ``hopfield``
kanerva            Kanerva Machine                                              ``kanerva``
lstm               LSTM                                                         ``lstm``
mann               MANN (DNC-style memory, least-recently-used writes)          ``mann``
memory_networks    Memory Networks                                              ``memory_networks``
mlp_memory         MLP written by gradient steps with momentum (Titans / TTT)   ``mlp_memory``
modern_hopfield    modern Hopfield network / softmax attention                  ``modern_hopfield``
plasticity         Differentiable Plasticity                                    ``plasticity``
=================  ===========================================================  ==============

Checkpoints store the kind; :func:`model_from_config` rebuilds the model from it. Every kind
is a memory the same way (:class:`ebmm.AssociativeMemory`: a model plus its parameters); the
Hopfield networks are models with no meta-parameters (``trainable = False``). A model is
the *structure* only; its learned numbers are a ``MetaParams`` pytree passed to its pure
methods (:class:`~ebmm.models.protocol.LearnedModel`).
"""

from __future__ import annotations

from typing import Any

from .delta_rule import DeltaRuleMemory
from .ebmm import EBMM
from .flat_images import IMAGE_BASELINES, FlatImages, image_baseline
from .hopfield import HOPFIELD_RULES, HOPFIELD_UPDATES, HopfieldNetwork
from .kanerva import KANERVA_ADDRESSING, KanervaMachine
from .lstm import LSTM
from .mann import MANN
from .memory_networks import MemoryNetwork, slot_layout
from .mlp_memory import MLPMemory
from .modern_hopfield import ModernHopfield
from .plasticity import DifferentiablePlasticity
from .protocol import LearnedModel, MetaParams, read_known

#: every model kind, in the order of Table 1's learned rows (EBMM first here, last in the table)
MODELS: dict[str, type] = {
    cls.kind: cls
    for cls in (EBMM, FlatImages, KanervaMachine, LSTM, MANN, MemoryNetwork, ModernHopfield, DifferentiablePlasticity,
                DeltaRuleMemory, MLPMemory, HopfieldNetwork)
}


def model_kinds() -> dict[str, type]:
    """Every model kind: :data:`MODELS`."""
    return dict(MODELS)


def system_kinds() -> dict[str, type]:
    """The kinds that are meta-trained memory systems of their own (Table 1's learned rows,
    ``ebmm train binary --model``): without adapters such as ``flat_images`` that wrap another
    kind, and without the Hopfield networks, which have nothing to train."""
    return {k: cls for k, cls in MODELS.items() if not getattr(cls, "adapter", False) and getattr(cls, "trainable", True)}


def model_from_config(kind: str, config: dict[str, Any]) -> LearnedModel:
    """The model of ``kind`` rebuilt from its ``config_dict()``; ``KeyError`` for an unknown kind."""
    if kind not in MODELS:
        raise KeyError(f"unknown model kind {kind!r}; known: {sorted(MODELS)}")
    return MODELS[kind].from_config_dict(config)


__all__ = [
    "HOPFIELD_RULES",
    "HOPFIELD_UPDATES",
    "IMAGE_BASELINES",
    "KANERVA_ADDRESSING",
    "LSTM",
    "MANN",
    "MODELS",
    "EBMM",
    "DeltaRuleMemory",
    "DifferentiablePlasticity",
    "FlatImages",
    "HopfieldNetwork",
    "KanervaMachine",
    "LearnedModel",
    "MLPMemory",
    "MemoryNetwork",
    "MetaParams",
    "ModernHopfield",
    "image_baseline",
    "model_from_config",
    "model_kinds",
    "read_known",
    "slot_layout",
    "system_kinds",
]


def __getattr__(name: str):
    """``Architecture``, the old name of :class:`EBMM`, for one release (a ``DeprecationWarning``)."""
    if name == "Architecture":
        from . import ebmm as _ebmm

        return _ebmm.Architecture
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
