"""Episode tasks: what the trainer and the evaluators draw each step, and how they score it.

A task turns ``(episodes, patterns, corruption, generator)`` into stored patterns and their
corrupted queries, both ``(B, N, *event)``, and scores a retrieval per pattern. Two exist:

- :class:`BinaryTask` — random ``d``-bit patterns, a :class:`~ebmm.tasks.binary.Distortion`
  (``erase:64``), scored in error bits;
- :class:`ImageTask` — images drawn from a training or a held-out set, a random square
  :class:`Occlusion` (``noise:16``), scored by Hamming error on binarised data sets (Omniglot,
  MNIST) or squared error (natural images, CIFAR), per image.

A corruption is written ``KIND:K`` for both (:func:`parse_corruption`): ``K`` positions for
binary patterns, the side of the occluded square for images, so the trainer's curriculum ramps
either the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import torch
from torch import Tensor

from .binary import DISTORTION_KINDS, Distortion, error_bits, sample_episodes
from .images import OCCLUSION_FILLS, fill_choices, hamming_error, occlude_with_mask, squared_error

IMAGE_METRICS = {"hamming": hamming_error, "squared": squared_error}
SPLITS = ("train", "eval")


@dataclass(frozen=True)
class Occlusion:
    """A random ``count × count`` square of every image, filled with ``kind``: ``noise``,
    ``binary``, ``zeros``, ``ones``, ``mix`` (one of those four per image) or a ``+``-joined list
    of fills to draw from (``noise+binary+zeros``); written ``noise:16``
    (:mod:`ebmm.tasks.images`). ``count`` is named like a distortion's so a curriculum ramps the
    square's side.

    ``scattered``: instead of a square, each pixel is replaced with probability ``count`` % —
    corruption with no region, written ``noise:10%``. ``alternatives``: other occlusions each
    image may get instead — every image draws one of ``(self, *alternatives)`` uniformly; written
    with ``|``, ``mix:16|noise:10%`` (squares under any fill, or 10 % scattered noise). ``kind``
    and ``count`` are the first one's (what a square's fill or side is read from)."""

    kind: str
    count: int
    scattered: bool = False
    alternatives: tuple[Occlusion, ...] = ()

    def __post_init__(self):
        if self.count < 1 or (self.scattered and self.count > 100):
            raise ValueError(f"bad occlusion {self}: expected FILL:SIDE with SIDE >= 1, or FILL:P% with P in [1, 100]")
        try:
            fill_choices(self.kind)
        except ValueError as e:
            raise ValueError(f"bad occlusion {self}: {e}") from None
        object.__setattr__(self, "alternatives", tuple(self.alternatives))
        if any(not isinstance(a, Occlusion) or a.alternatives for a in self.alternatives):
            raise ValueError(f"bad occlusion {self}: alternatives are single occlusions (FILL:SIDE or FILL:P%)")

    @property
    def fills(self) -> tuple[str, ...]:
        """The basic fills this occlusion draws from (one for a single fill)."""
        return fill_choices(self.kind)

    @property
    def parts(self) -> tuple[Occlusion, ...]:
        """The single occlusions an image draws from: ``(self,)`` without alternatives."""
        if not self.alternatives:
            return (self,)
        return (Occlusion(self.kind, self.count, self.scattered), *self.alternatives)

    @classmethod
    def parse(cls, spec: str) -> Occlusion:
        """``FILL:SIDE``, ``FILL:P%`` or several joined by ``|``; ``ValueError`` otherwise."""
        parts = []
        for part in spec.split("|"):
            kind, sep, count = part.strip().partition(":")
            scattered = count.endswith("%")
            count = count[:-1] if scattered else count
            if not (sep and count.isdigit()):
                raise ValueError(f"bad occlusion {part!r} in {spec!r}: expected FILL:SIDE (a square) or FILL:P% "
                                 "(P % of the pixels, scattered), several joined by '|'")
            parts.append(cls(kind, int(count), scattered))
        return cls(parts[0].kind, parts[0].count, parts[0].scattered, tuple(parts[1:]))

    def __str__(self) -> str:
        return "|".join(f"{p.kind}:{p.count}{'%' if p.scattered else ''}" for p in self.parts)

    def with_count(self, count: int) -> Occlusion:
        """The same occlusion with ``count`` for the first one; alternatives scale by the same ratio
        (a curriculum ramps them together)."""
        ratio = count / self.count
        return Occlusion(self.kind, count, self.scattered,
                         tuple(Occlusion(a.kind, max(1, round(a.count * ratio)), a.scattered) for a in self.alternatives))

    def apply(self, images: Tensor, *, generator: torch.Generator | None = None) -> Tensor:
        """Occlude ``images (..., C, H, W)``; returns a new tensor."""
        return self.corrupt(images, generator=generator)[0]

    def corrupt(self, images: Tensor, *, generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
        """:meth:`apply` (same draws) that also returns the hidden pixels ``(..., C, H, W)`` bool."""
        if not self.alternatives:
            return occlude_with_mask(images, self.count, self.kind, generator=generator, scattered=self.scattered)
        outs = [occlude_with_mask(images, p.count, p.kind, generator=generator, scattered=p.scattered) for p in self.parts]
        draw = generator.device if generator is not None else images.device
        which = torch.randint(0, len(outs), (*images.shape[:-3], 1, 1, 1), generator=generator, device=draw).to(images.device)
        occluded, hidden = outs[0]
        for i, (o, h) in enumerate(outs[1:], start=1):
            occluded, hidden = torch.where(which == i, o, occluded), torch.where(which == i, h, hidden)
        return occluded, hidden


def check_corruption(spec: str | Distortion | Occlusion, event_shape: tuple[int, ...] | int) -> Distortion | Occlusion:
    """The one check of a corruption against one pattern's shape: ``(d,)`` (or ``d``) takes a
    :class:`Distortion` of at most d positions, ``(C, H, W)`` an :class:`Occlusion` whose square
    fits. Returns the parsed corruption; ``ValueError`` with the reason otherwise."""
    spec = parse_corruption(spec)
    shape = (event_shape,) if isinstance(event_shape, int) else tuple(event_shape)
    if len(shape) == 1:
        if not isinstance(spec, Distortion):
            raise ValueError(f"binary patterns take a distortion like 'erase:64', got {spec}")
        if spec.extent > shape[0]:
            raise ValueError(f"cannot corrupt {spec} in {shape[0]}-dimensional patterns")
        return spec
    if not isinstance(spec, Occlusion):
        raise ValueError(f"images take an occlusion like 'noise:16', got {spec}")
    for part in spec.parts:
        if not part.scattered and part.count > min(shape[-2:]):
            raise ValueError(f"a {part.count}-pixel square does not fit {tuple(shape[-2:])} images")
    return spec


def parse_corruption(spec: str | Distortion | Occlusion) -> Distortion | Occlusion:
    """``erase|replace|flip|zero:K`` -> :class:`Distortion`; ``FILL:SIDE`` (``noise``, ``binary``,
    ``zeros``, ``ones``, ``mix`` or fills joined by ``+``), ``FILL:P%`` (scattered) or several
    joined by ``|`` -> :class:`Occlusion`. Raises ``ValueError`` naming every accepted kind."""
    if isinstance(spec, (Distortion, Occlusion)):
        return spec
    kind, sep, count = str(spec).partition(":")
    if sep and (kind in OCCLUSION_FILLS or "+" in kind) and (count.isdigit() or "|" in count or count.endswith("%")):
        return Occlusion.parse(str(spec))
    if kind in DISTORTION_KINDS or not sep:
        return Distortion.parse(spec)
    raise ValueError(
        f"bad corruption {spec!r}: expected KIND:K with KIND one of {DISTORTION_KINDS} (binary patterns, "
        f"K positions) or {OCCLUSION_FILLS} (images, a K×K square, or K% of the pixels scattered; fills may be joined "
        f"by '+', occlusions by '|'), e.g. 'erase:64', 'noise:16', 'noise+zeros:16', 'noise:10%' or 'mix:16|noise:10%'"
    )


class EpisodeTask(Protocol):
    #: key of the per-pattern error in metrics and results ("error_bits", "hamming_error", ...)
    metric: str
    #: the default corruption, ``KIND:K``
    corruption: Distortion | Occlusion

    def sample(
        self, episodes: int, patterns: int, *, split: str = "train",
        corruption: Distortion | Occlusion | None = None, generator: torch.Generator | None = None,
        known: bool = False,
    ) -> tuple[Tensor, ...]:
        """Stored patterns and their queries, both ``(episodes, patterns, *event)``; with
        ``known``, also the boolean mask of the entries the corruption left intact (what a
        clamped read, ``read(..., known=...)``, holds fixed)."""

    def error(self, retrieved: Tensor, stored: Tensor) -> Tensor:
        """Per-pattern error ``(..., *event) -> (...)``."""


@dataclass(frozen=True)
class BinaryTask:
    """Random ``dim``-bit patterns under a distortion; the same distribution for both splits."""

    dim: int = 128
    corruption: Distortion = Distortion("erase", 64)
    metric = "error_bits"

    def __post_init__(self):
        check_corruption(self.corruption, (self.dim,))

    @property
    def event_shape(self) -> tuple[int, ...]:
        """One pattern's shape, ``(d,)``."""
        return (self.dim,)

    def sample(self, episodes, patterns, *, split="train", corruption=None, generator=None, known=False):
        _check_split(split)
        return sample_episodes(episodes, patterns, self.dim, corruption or self.corruption, generator=generator, known=known)

    def error(self, retrieved: Tensor, stored: Tensor) -> Tensor:
        return error_bits(retrieved, stored)


@dataclass(frozen=True, eq=False)
class ImageTask:
    """Images ``(n, C, H, W)`` in [0, 1]: episodes of distinct images from ``train`` (or
    ``held_out`` for ``split="eval"``), occluded by ``corruption``; ``metric_kind`` is
    ``"hamming"`` (binarised data) or ``"squared"``. ``name`` says which data set."""

    train: Tensor
    held_out: Tensor
    corruption: Occlusion = Occlusion("noise", 16)
    metric_kind: str = "hamming"
    name: str = "images"

    def __post_init__(self):
        for what, t in (("train", self.train), ("held_out", self.held_out)):
            if not isinstance(t, Tensor) or t.dim() != 4:
                raise ValueError(f"{what} images must be a (n, C, H, W) tensor")
        if self.train.shape[1:] != self.held_out.shape[1:]:
            raise ValueError(f"train and held-out images differ in shape: {tuple(self.train.shape[1:])} vs "
                             f"{tuple(self.held_out.shape[1:])}")
        check_corruption(self.corruption, tuple(self.train.shape[1:]))
        if self.metric_kind not in IMAGE_METRICS:
            raise ValueError(f"metric_kind must be one of {sorted(IMAGE_METRICS)}, got {self.metric_kind!r}")
        # standard layout whatever the source's strides (see ebmm.data.natural_patches)
        object.__setattr__(self, "train", self.train.contiguous())
        object.__setattr__(self, "held_out", self.held_out.contiguous())

    @property
    def metric(self) -> str:
        return f"{self.metric_kind}_error"

    @property
    def event_shape(self) -> tuple[int, ...]:
        return tuple(self.train.shape[1:])

    def sample(self, episodes, patterns, *, split="train", corruption=None, generator=None, known=False):
        _check_split(split)
        pool = self.train if split == "train" else self.held_out
        if not 0 < patterns <= pool.shape[0]:
            raise ValueError(f"cannot draw {patterns} distinct images from the {pool.shape[0]} of the {split} split")
        idx = torch.rand(episodes, pool.shape[0], generator=generator).argsort(dim=-1)[:, :patterns]
        stored = pool[idx].float()
        queries, hidden = (corruption or self.corruption).corrupt(stored, generator=generator)
        return (stored, queries, ~hidden) if known else (stored, queries)

    def error(self, retrieved: Tensor, stored: Tensor) -> Tensor:
        return IMAGE_METRICS[self.metric_kind](retrieved, stored)


def _check_split(split: str):
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")


def task_from_config(task: str, dim: int, corruption: str, dataset: str = "", data_path: str | None = None) -> EpisodeTask:
    """The task a training configuration names: ``"binary"`` (random ``dim``-bit patterns) or
    ``"images"`` (``dataset`` read by :func:`ebmm.data.image_splits`, from ``data_path`` when
    given), corrupted by ``corruption``."""
    spec = parse_corruption(corruption)
    if task == "binary":
        return BinaryTask(dim, spec)
    if task != "images":
        raise ValueError(f"unknown task {task!r}; choose 'binary' or 'images'")
    from ..data import DATASET_METRIC, image_splits

    train, held_out = image_splits(dataset, data_path or None)
    return ImageTask(torch.from_numpy(train), torch.from_numpy(held_out), spec, DATASET_METRIC[dataset], dataset)
