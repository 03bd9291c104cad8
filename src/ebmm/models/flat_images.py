"""Vector baselines (Memory Networks, MANN, the delta rule, the MLP memory) on images: flatten each ``(C, H, W)`` image to a
``C·H·W`` vector, store and retrieve it with the wrapped model, reshape the retrieval back.

This is how the image rate–distortion curves get their Memory Networks, MANN, delta-rule and MLP-memory points. The
paper instead shares EBMM's ResNet encoder with its baselines and decodes with its transpose
(appendix notes); here each baseline keeps its own learned linear embedding and decoder, so
their points are a simpler (likely weaker) version of the paper's baselines — said wherever
they are reported. The memory size is the wrapped model's state, counted the same way.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, ClassVar

from torch import Tensor

from .delta_rule import DeltaRuleMemory
from .mann import MANN
from .memory_networks import MemoryNetwork
from .mlp_memory import MLPMemory, mlp_size
from .protocol import LearnedModel, MetaParams

#: vector kinds that :func:`image_baseline` sizes for images, and their models
INNER_MODELS: dict[str, type] = {"memory_networks": MemoryNetwork, "mann": MANN, "delta_rule": DeltaRuleMemory,
                                  "mlp_memory": MLPMemory}
#: the MLP memory's key and value widths on images (its hidden width takes what the budget leaves)
IMAGE_MLP_WIDTH = 32
IMAGE_BASELINES = tuple(INNER_MODELS)


@dataclass(frozen=True, eq=False)
class FlatImages:
    """A vector :class:`~ebmm.models.protocol.LearnedModel` (``inner_kind`` built from
    ``inner``) on images of ``image_shape (C, H, W)``: the ``"flat_images"`` model kind."""

    kind: ClassVar[str] = "flat_images"
    #: not a binary-task system of its own (kept out of Table 1 and ``train binary --model``)
    adapter: ClassVar[bool] = True
    inner_kind: str
    inner: dict[str, Any]
    image_shape: tuple[int, int, int]
    model: LearnedModel = field(init=False, repr=False)

    def __post_init__(self):
        shape = tuple(int(v) for v in self.image_shape)
        if len(shape) != 3 or min(shape) < 1:
            raise ValueError(f"image_shape must be (C, H, W) of positive sizes, got {self.image_shape!r}")
        object.__setattr__(self, "image_shape", shape)
        if self.inner_kind not in INNER_MODELS:
            raise ValueError(f"no image version of {self.inner_kind!r}; choose one of {IMAGE_BASELINES}")
        model = INNER_MODELS[self.inner_kind].from_config_dict(self.inner)
        if model.dim != math.prod(shape):
            raise ValueError(f"the wrapped {self.inner_kind} has dim {model.dim}, images have {math.prod(shape)} values")
        object.__setattr__(self, "model", model)

    # --- LearnedModel protocol ----------------------------------------------------------------
    @property
    def dim(self) -> int:
        return math.prod(self.image_shape)

    @property
    def event_shape(self) -> tuple[int, ...]:
        return self.image_shape

    @property
    def max_patterns(self) -> int:
        return self.model.max_patterns

    def config_dict(self) -> dict[str, Any]:
        return {"inner_kind": self.inner_kind, "inner": dict(self.inner), "image_shape": list(self.image_shape)}

    @classmethod
    def from_config_dict(cls, d: dict[str, Any]) -> FlatImages:
        return cls(d["inner_kind"], dict(d["inner"]), tuple(d["image_shape"]))

    def init_params(self, seed: int = 0) -> MetaParams:
        return self.model.init_params(seed)

    def loss(self, params: MetaParams, patterns: Tensor, queries: Tensor, mask: Tensor | None = None,
             known: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """``patterns, queries (B, N, C, H, W)`` -> ``(loss, retrieved (B, N, C, H, W))``."""
        flat_known = None if known is None else known.flatten(-3)
        loss, retrieved = self.model.loss(params, patterns.flatten(-3), queries.flatten(-3), mask, flat_known)
        return loss, retrieved.unflatten(-1, self.image_shape)

    def write(self, params: MetaParams, patterns: Tensor) -> dict[str, Tensor]:
        return self.model.write(params, patterns.flatten(-3))

    def read(self, params: MetaParams, state: dict[str, Tensor], queries: Tensor, trajectory: bool) -> Tensor:
        return self.model.read(params, state, queries.flatten(-3), trajectory).unflatten(-1, self.image_shape)

    def memory_size(self) -> int:
        return self.model.memory_size()


def image_baseline(kind: str, image_shape: tuple[int, int, int], memory_floats: int, max_patterns: int = 64) -> FlatImages:
    """A Memory Network, MANN, delta-rule or MLP memory on images, sized to at most
    ``memory_floats`` float32: Memory Networks get that ``budget`` (one compressed slot per image
    at N = 64); MANN keeps 64 slots and takes the width that fits (``64·W + 2·64 ≤
    memory_floats``); the delta rule's fast-weight matrix has one key dimension per stored image
    (d_k = ``max_patterns``, so orthogonal keys can store every image exactly) and the value width
    that fits (``d_k·d_v ≤ memory_floats``); the MLP memory keeps keys and values of 32 (its
    binary shape's) and takes the hidden width h that fits its weights and their momentum
    (``2·(h·33 + 32·(h + 1)) ≤ memory_floats``)."""
    dim = math.prod(image_shape)
    if kind == "memory_networks":
        inner = {"dim": dim, "max_patterns": max_patterns, "budget": memory_floats}
    elif kind == "mann":
        slots = 64
        width = memory_floats // slots - 2
        if width < 1:
            raise ValueError(f"MANN needs more than {3 * slots} floats for {slots} slots, got {memory_floats}")
        inner = {"dim": dim, "max_patterns": max_patterns, "slots": slots, "width": width}
    elif kind == "delta_rule":
        value_dim = memory_floats // max_patterns
        if value_dim < 1:
            raise ValueError(f"the delta rule needs at least {max_patterns} floats for {max_patterns} keys, got {memory_floats}")
        inner = {"dim": dim, "max_patterns": max_patterns, "key_dim": max_patterns, "value_dim": value_dim}
    elif kind == "mlp_memory":
        k = v = IMAGE_MLP_WIDTH
        hidden = (memory_floats // 2 - v) // (k + v + 1)
        if hidden < 1:
            raise ValueError(f"the MLP memory needs more than {2 * mlp_size(k, 1, v)} floats, got {memory_floats}")
        # the normalised (Polyak) write step: with the raw step, images' shared background makes the
        # learned step rate a coherent sum over every pixel and meta-training diverged (NaN by step 10)
        inner = {"dim": dim, "max_patterns": max_patterns, "key_dim": k, "memory_hidden": hidden, "value_dim": v,
                 "normalized": True}
    else:
        raise ValueError(f"no image version of {kind!r}; choose one of {IMAGE_BASELINES}")
    return FlatImages(kind, inner, tuple(image_shape))
