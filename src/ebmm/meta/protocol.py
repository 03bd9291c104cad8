"""What a meta-trainable memory model provides, so that one trainer, one checkpoint format and
one public memory class serve the energy memory and every learned baseline alike.

A model is the *structure* (a frozen config plus modules whose own weights are unused); all
learned numbers live in a ``MetaParams`` pytree passed explicitly to its pure methods.
"""

from __future__ import annotations

from typing import Any, ClassVar, Protocol, runtime_checkable

from torch import Tensor

from ..memory import keep_known

MetaParams = dict[str, dict[str, Tensor]]


@runtime_checkable
class LearnedModel(Protocol):
    #: registry name stored in checkpoints ("ebmm", "lstm", ...)
    kind: ClassVar[str]
    #: pattern dimension d
    dim: int
    #: patterns per episode it was configured for (writing more warns)
    max_patterns: int

    def config_dict(self) -> dict[str, Any]:
        """The JSON-ready configuration that rebuilds this model via ``from_config_dict``."""

    @classmethod
    def from_config_dict(cls, d: dict[str, Any]) -> LearnedModel: ...

    def init_params(self, seed: int = 0) -> MetaParams:
        """Fresh meta-parameters (seeded)."""

    def loss(
        self, params: MetaParams, patterns: Tensor, queries: Tensor, mask: Tensor | None = None,
        known: Tensor | None = None,
    ) -> tuple[Tensor, Tensor]:
        """Meta-training objective on ``patterns, queries (B, N, d)``: ``(loss, retrieved (B, N, d))``.

        ``mask (B, N)`` (float 0/1, or None for all) marks the patterns each episode really
        stores: episodes of different sizes are padded to one N, and a masked pattern must
        neither be written nor scored. ``known (B, N, d)`` (bool, or None) marks the entries of
        each query that are intact, under the clamped-completion protocol: the retrieval must
        keep them (a model with ``clamps_in_read = True`` holds them inside its read, and its
        ``read`` takes ``known=`` too; the others overwrite them in their output)."""

    def write(self, params: MetaParams, patterns: Tensor) -> dict[str, Tensor]:
        """``patterns (B, N, d)`` -> the memory state (tensors with a leading axis B)."""

    def read(self, params: MetaParams, state: dict[str, Tensor], queries: Tensor, trajectory: bool) -> Tensor:
        """``queries (B, M, d)`` -> ``(B, M, d)``, or ``(B, S, M, d)`` with ``trajectory``
        (first entry the query, last the retrieval)."""

    def memory_size(self) -> int:
        """Floats in one episode's memory state (counted by :func:`ebmm.memory_size`)."""


def read_known(model: LearnedModel, params: MetaParams, state: dict[str, Tensor], queries: Tensor, trajectory: bool,
               known: Tensor) -> Tensor:
    """A model's read under clamped completion, ``known`` (bool, like ``queries``): held fixed
    inside the read by a model with ``clamps_in_read``, else overwritten in the output (in every
    iterate of a trajectory)."""
    if getattr(model, "clamps_in_read", False):
        return model.read(params, state, queries, trajectory, known=known)
    return keep_known(model.read(params, state, queries, trajectory), queries, known, trajectory)


_KINDS: dict[str, type] = {}


def register_model(cls: type) -> type:
    """Class decorator: make a model kind loadable from checkpoints."""
    _KINDS[cls.kind] = cls
    return cls


def model_kinds() -> dict[str, type]:
    """Every registered model kind (importing the modules that define them)."""
    from . import model  # noqa: F401  (registers "ebmm")

    try:
        from .. import baselines  # noqa: F401  (registers learned baselines, if any)
    except ImportError:  # pragma: no cover
        pass
    return dict(_KINDS)


def system_kinds() -> dict[str, type]:
    """The registered kinds that are memory systems of their own (Table 1's rows, ``ebmm train
    binary --model``), i.e. without adapters such as ``flat_images`` that wrap another kind."""
    return {k: cls for k, cls in model_kinds().items() if not getattr(cls, "adapter", False)}


def model_from_config(kind: str, config: dict[str, Any]) -> LearnedModel:
    kinds = model_kinds()
    if kind not in kinds:
        raise KeyError(f"unknown model kind {kind!r}; known: {sorted(kinds)}")
    return kinds[kind].from_config_dict(config)
