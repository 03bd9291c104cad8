"""Typed configuration dataclasses. Every default is the paper's where the paper states one.

A memory's configuration (:class:`MemoryConfig`) travels inside every checkpoint, so a saved
memory rebuilds itself; the training configuration (:class:`TrainConfig`) too, so a run resumes.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from .tasks.binary import Distortion
from .tasks.episodes import Occlusion, parse_corruption

#: a typed corruption (parsed once from its string, e.g. ``erase:64`` or ``noise:16``)
Corruption = Distortion | Occlusion


@dataclass(frozen=True)
class EnergyConfig:
    """Which energy network, and its constructor arguments (see :mod:`ebmm.energies`)."""

    kind: str = "logcosh"
    dim: int = 128
    kwargs: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ReadConfig:
    """Retrieval: ``steps`` (K) of projected gradient descent with Nesterov momentum.

    Step sizes are non-increasing, ``γ_k = γ_{k-1}·sigmoid(η_k)``, with ``γ_1 = step_init``
    and all ``η_k`` initialised to ``decay_logit_init``; momentum the same way.
    """

    steps: int = 10
    step_init: float = 1.0
    momentum_init: float = 0.5
    decay_logit_init: float = 4.0  # sigmoid(4) = 0.982: a nearly flat schedule at the start
    # During meta-training only, this fraction of the gradient passes the [0, 1] projection
    # (0 = hard clipping, whose gradient is zero for a bit stuck at the wrong bound).
    train_leak: float = 0.0


@dataclass(frozen=True)
class WriteConfig:
    """Writing: ``steps`` (T) of gradient descent on ``E + α‖∇ₓE‖² + β‖θ − θ̄‖²``.

    One non-negative rate (softplus) per write step, writable layer and loss term, each
    initialised to ``rate_init`` (the paper: 1e-4). ``terms`` switches terms off; a term that
    is off has no rates at all, and neither has the prior term at the first step of a batch
    write (its gradient is zero there).
    """

    steps: int = 5
    rate_init: float = 1e-4
    terms: tuple[str, ...] = ("energy", "grad_norm", "prior")
    # "mean" over patterns (the paper's eq. 4) or "sum": with "sum" a pattern's imprint does
    # not shrink as more are stored, so one memory serves every N (see dynamics.write).
    reduction: str = "mean"
    # 0: every write step sees all patterns (the paper's eq. 4). c > 0: patterns are written c at
    # a time, one gradient step per chunk, in each of the T passes (c = 1: one pattern per step,
    # which lets a competitive energy give each pattern its own slots; see energies.slots).
    chunk: int = 0

    def __post_init__(self):
        if self.reduction not in ("mean", "sum"):
            raise ValueError(f"reduction must be 'mean' or 'sum', got {self.reduction!r}")
        if self.chunk < 0:
            raise ValueError(f"chunk must be >= 0 (0 = all patterns per step), got {self.chunk}")
        if not self.terms:
            raise ValueError("a write needs at least one term of the writing loss")
        unknown = set(self.terms) - set(WRITE_TERMS)
        if unknown:
            raise ValueError(f"unknown write terms {sorted(unknown)}; choose from {WRITE_TERMS}")


WRITE_TERMS = ("energy", "grad_norm", "prior")


@dataclass(frozen=True)
class MemoryConfig:
    """Everything that defines a meta-learned energy memory (not how it was trained)."""

    energy: EnergyConfig = field(default_factory=EnergyConfig)
    read: ReadConfig = field(default_factory=ReadConfig)
    write: WriteConfig = field(default_factory=WriteConfig)
    max_patterns: int = 96  # the most patterns it was trained to store (warn above)


@dataclass(frozen=True)
class TrainConfig:
    """Meta-training. Optimiser defaults are the paper's (AdamW 5e-5, wd 1e-6, clip 0.05)."""

    task: str = "binary"  # "binary" (random patterns) or "images" (a data set, see ebmm.data.image_splits)
    dataset: str = ""  # images: omniglot | natural | mnist | cifar
    data_path: str = ""  # images: where the data set is ("" = its default)
    patterns: int = 96  # N stored per episode (the most, when min_patterns is set)
    # When set, each episode stores a number of patterns drawn uniformly from
    # [min_patterns, patterns] (padded and masked to one shape): a memory trained at one N
    # alone can fail badly at other N, because the scale of the written weights depends on N.
    min_patterns: int | None = None
    episodes: int = 16  # episodes per meta-step (batched with vmap)
    # The corruption of the queries, typed (Distortion for binary patterns, Occlusion for images); a
    # string such as "erase:64" or "noise:16" is parsed here, once, and config.json holds the string.
    # None: erase:64 for binary patterns, noise:16 for images (the paper's).
    distortion: Corruption | None = None
    steps: int = 10_000
    lr: float = 5e-5
    # Learning-rate multipliers per group of the meta-parameters ("static", "init", "read",
    # "write" for the energy memory; a baseline's own group names): step sizes and write rates
    # are a handful of scalars that need far larger steps than the weights; 0 freezes a group.
    # "GROUP/PREFIX" keys set the multiplier of a group's parameters whose names start with PREFIX
    # ("static/detector.": the image slot energy's trust detector). Empty: one group.
    group_lr: dict[str, float] = field(default_factory=dict)
    weight_decay: float = 1e-6
    clip_norm: float = 0.05  # global-norm clipping threshold (0 = none)
    # Spike guard: a step whose gradient norm exceeds spike_factor × the median of the last
    # spike_window norms is skipped and counted (finite explosions, not only NaN/inf); 0 = off.
    spike_factor: float = 0.0
    spike_window: int = 50
    # Relative clipping: clip the global norm at clip_relative × the median of the last
    # spike_window applied steps' norms (0 = off). For heavy-tailed meta-gradients (a sharp
    # softmax's near-ties), where any fixed threshold is either hit on every step or never.
    clip_relative: float = 0.0
    warmup_steps: int = 0
    lr_schedule: str = "constant"  # "constant" or "cosine" (decay to final_lr_fraction · lr)
    final_lr_fraction: float = 0.1
    # Curriculum: the number of corrupted positions ramps linearly from this fraction of the
    # target up to the target over the first `curriculum_steps` steps (0 = off).
    curriculum_start_fraction: float = 0.25
    curriculum_steps: int = 0
    seed: int = 0
    log_every: int = 10
    eval_every: int = 500
    eval_episodes: int = 16
    # N at which held-out evaluation runs (empty: the extremes of the training range)
    eval_patterns: tuple[int, ...] = ()
    # Stop once the meta-steps have used this many CPU-seconds of this process (0 = no budget):
    # for comparisons at equal compute (benchmarks/quality_vs_compute.py).
    cpu_budget_s: float = 0.0
    # Clamped completion: the read is told which query entries are intact and holds them fixed
    # (train and evaluate under that protocol; see AssociativeMemory.read's ``known``).
    clamp_known: bool = False
    # Write each training episode in this many consecutive chunks (write, then write more into
    # the state), so that the learned rates suit incremental use (energy memories only).
    write_chunks: int = 1
    # Whether the meta-gradient is computed for frozen parameters too (group_lr multiplier 0). True:
    # they count in the gradient norm that clipping and the spike guard see (how every shipped
    # binary memory was trained). False: they are constants of the step, so the backward pass skips
    # what only they reach — the image slot preset, which trains only its trust detector, then
    # skips the backward pass through its read (~3x fewer CPU-seconds per step).
    grad_frozen: bool = True
    checkpoint_every: int = 500
    compile: bool = False
    # Where the meta-step runs (auto|cpu|cuda|cuda:N|mps) and in which precision (fp32|tf32|bf16);
    # see ebmm.devices. Both may change when a run is resumed; checkpoints are device-free.
    device: str = "cpu"
    precision: str = "fp32"

    def __post_init__(self):
        if self.task not in ("binary", "images"):
            raise ValueError(f"task must be 'binary' or 'images', got {self.task!r}")
        if self.task == "images" and not self.dataset:
            raise ValueError("an image task needs a dataset (omniglot, natural, mnist or cifar)")
        default = "erase:64" if self.task == "binary" else "noise:16"
        object.__setattr__(self, "distortion", parse_corruption(self.distortion if self.distortion is not None else default))
        want = Distortion if self.task == "binary" else Occlusion
        if not isinstance(self.distortion, want):
            raise ValueError(f"a {self.task} task takes {'a distortion like erase:64' if want is Distortion else 'an occlusion like noise:16'}, "
                             f"got {self.distortion}")
        if self.lr_schedule not in ("constant", "cosine"):
            raise ValueError(f"lr_schedule must be 'constant' or 'cosine', got {self.lr_schedule!r}")
        for name in ("patterns", "episodes", "steps"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if any(not (isinstance(v, (int, float)) and v >= 0) for v in self.group_lr.values()):
            raise ValueError(f"group_lr multipliers must be numbers >= 0 (0 freezes a group), got {self.group_lr}")
        if self.write_chunks < 1 or self.write_chunks > self.patterns:
            raise ValueError(f"write_chunks must be in [1, patterns={self.patterns}], got {self.write_chunks}")
        if any(n < 1 for n in self.eval_patterns) or self.cpu_budget_s < 0:
            raise ValueError("eval_patterns must be >= 1 and cpu_budget_s >= 0")
        if self.clip_norm < 0 or self.spike_factor < 0 or self.clip_relative < 0 or self.spike_window < 1:
            raise ValueError("clip_norm, clip_relative and spike_factor must be >= 0 and spike_window >= 1")
        if self.min_patterns is not None and not 1 <= self.min_patterns <= self.patterns:
            raise ValueError(f"min_patterns must be in [1, patterns={self.patterns}], got {self.min_patterns}")


def to_dict(cfg) -> dict[str, Any]:
    """A JSON-ready dict of a config dataclass; corruptions become their strings (``erase:64``)."""
    d = dataclasses.asdict(cfg)
    for f in dataclasses.fields(cfg):
        value = getattr(cfg, f.name)
        if isinstance(value, (Distortion, Occlusion)):
            d[f.name] = str(value)
    return d


def memory_config_from_dict(d: dict[str, Any]) -> MemoryConfig:
    """Inverse of :func:`to_dict` for :class:`MemoryConfig` (raises ``TypeError`` on unknown keys)."""
    write = dict(d.get("write", {}))
    if "terms" in write:
        write["terms"] = tuple(write["terms"])
    return MemoryConfig(
        energy=EnergyConfig(**d.get("energy", {})),
        read=ReadConfig(**d.get("read", {})),
        write=WriteConfig(**write),
        max_patterns=d.get("max_patterns", MemoryConfig.max_patterns),
    )


def train_config_from_dict(d: dict[str, Any]) -> TrainConfig:
    """Inverse of :func:`to_dict` for :class:`TrainConfig`."""
    d = dict(d)
    if "eval_patterns" in d:
        d["eval_patterns"] = tuple(d["eval_patterns"])
    return TrainConfig(**d)
