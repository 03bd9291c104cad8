"""What a meta-trainable memory model provides, so that one trainer, one checkpoint format and
one public memory class serve the energy memory and every learned baseline alike. (The table of
model kinds is :data:`ebmm.models.MODELS`.)

A model is the *structure* (a frozen config plus modules whose own weights are unused); all
learned numbers live in a ``MetaParams`` pytree passed explicitly to its pure methods. Every
memory, :class:`ebmm.AssociativeMemory`, is a model plus its parameters.

**Optional members**, which :class:`ebmm.AssociativeMemory` and the trainer use where a model has them:

- ``write_more(params, state, patterns) -> state``: add patterns to a written state (streaming
  writes); with ``empty_state(params, batch_size) -> state``, the state holding nothing, and
  ``can_write_more`` (bool, default True) where it depends on the model's settings;
- ``clamps_in_read = True``: its ``read`` takes ``known=`` and holds those entries fixed
  (else :func:`read_known` overwrites them in the output);
- ``event_shape``: one pattern's shape, where it is not ``(dim,)`` (image memories);
- ``state_config() -> dict``: what a written state depends on, where that is less than the
  whole configuration (a state's fingerprint);
- ``trainable = False``: nothing to meta-train (the Hopfield networks: ``init_params() == {}``).
"""

from __future__ import annotations

from typing import Any, ClassVar, Protocol, runtime_checkable

from torch import Tensor

from ..dynamics import keep_known

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
