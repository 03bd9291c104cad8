"""The binary-pattern protocol: error bits averaged over ≥ 1000 stored patterns, with 5th–95th
percentiles over batches (one batch = one stored set of N patterns), as the paper reports."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import torch

from ..memory import AssociativeMemory
from ..tasks import BinaryTask, Distortion, EpisodeTask, Occlusion
from ..tasks.held_out import check_write_parts, held_out_errors

#: Table 1 of the paper (error bits at N = 16, 32, 48, 64, 96; 128-bit patterns, 8256 floats).
PAPER_TABLE1: dict[str, list[float]] = {
    "Hopfield network, Hebb rule": [0.4, 5.0, 9.8, 13.0, 16.5],
    "Hopfield network, Storkey rule": [0.0, 0.9, 6.3, 11.3, 17.1],
    "Hopfield network, pseudo-inverse rule": [0.0, 0.0, 0.3, 4.3, 22.5],
    "Differentiable Plasticity": [3.0, 13.2, 20.8, 26.3, 34.9],
    "MANN": [0.1, 0.2, 1.8, 4.25, 9.6],
    "LSTM": [30, 58, 63, 64, 64],
    "Memory Networks": [0.0, 0.0, 0.0, 0.0, 10.5],
    "EBMM (paper)": [0.0, 0.0, 0.1, 0.5, 4.2],
}
PAPER_PATTERNS = (16, 32, 48, 64, 96)
#: the N our tables report: the paper's, plus two beyond its range (more patterns than 96 slots)
TABLE_PATTERNS = (*PAPER_PATTERNS, 128, 160)
#: the paper's pattern size (bits), that of every Table 1 system
TABLE1_DIM = 128


@dataclass(frozen=True)
class ErrorStats:
    """Error bits of one memory at one N: mean over all stored patterns and the 5th/95th
    percentiles of the per-batch means."""

    mean: float
    p5: float
    p95: float
    patterns: int
    batches: int
    query_mean: float  # error bits of the distorted queries themselves, for reference

    def as_dict(self) -> dict:
        return asdict(self)

    def __str__(self) -> str:
        return f"{self.mean:.2f} [{self.p5:.1f}, {self.p95:.1f}]"


def evaluate_task(
    memory: AssociativeMemory,
    task: EpisodeTask,
    n_patterns: int,
    corruption: Distortion | Occlusion | None = None,
    *,
    min_patterns: int = 1000,
    min_batches: int = 32,
    chunk: int = 32,
    seed: int = 1234,
    split: str = "eval",
    clamp_known: bool = False,
    write_parts: int = 1,
) -> ErrorStats:
    """The protocol shared by every table: store ``max(ceil(min_patterns / N), min_batches)``
    independent sets of ``n_patterns`` drawn from ``task`` (its ``split``), ``chunk`` sets per
    call of the memory's batched ``write``/``read``, and score the retrievals in the task's
    metric. Deterministic given ``seed``; the same seed gives every memory the same patterns
    and queries (with or without ``clamp_known``).

    ``clamp_known``: *clamped completion* — the read is told which entries of each query are
    intact and keeps them (``read(..., known=...)``), so only the corrupted ones are scored
    against the memory's dynamics. ``write_parts`` P > 1 writes each set in P consecutive parts
    (``write(part, state=state)``), as a memory used incrementally would be: the same patterns
    and queries as writing them at once."""
    if n_patterns < 1:
        raise ValueError(f"n_patterns must be >= 1, got {n_patterns}")
    batches = max(math.ceil(min_patterns / n_patterns), min_batches)
    errs, query = per_set_errors(memory, task, n_patterns, batches, corruption=corruption, chunk=chunk, seed=seed,
                                 split=split, clamp_known=clamp_known, write_parts=write_parts)
    return ErrorStats(
        mean=float(errs.mean()),
        p5=float(np.percentile(errs, 5)),
        p95=float(np.percentile(errs, 95)),
        patterns=batches * n_patterns,
        batches=batches,
        query_mean=float(query.mean()),
    )


def per_set_errors(
    memory: AssociativeMemory,
    task: EpisodeTask,
    n_patterns: int,
    sets: int,
    *,
    corruption: Distortion | Occlusion | None = None,
    chunk: int = 32,
    seed: int = 1234,
    split: str = "eval",
    clamp_known: bool = False,
    write_parts: int = 1,
) -> tuple[np.ndarray, np.ndarray]:
    """Store ``sets`` independent sets of ``n_patterns`` from ``task`` (``chunk`` sets per call)
    and return each set's mean error of the retrievals and of the queries themselves, both
    ``(sets,)``: :func:`ebmm.tasks.held_out.held_out_errors` (the trainer's loop too) on the
    memory's ``write`` and ``read``. The loop behind :func:`evaluate_task` and the capacity
    finder. ``write_parts`` as in :func:`evaluate_task` (``ValueError`` for a memory that cannot
    add to a written state)."""
    check_write_parts(write_parts, n_patterns)
    if write_parts > 1 and not memory.supports_incremental_write:
        raise ValueError(f"{memory.name} cannot add patterns to a written state, so it cannot be written in parts")
    errs, query = held_out_errors(lambda x, state: memory.write(x, state=state),
                                  lambda q, state, known: torch.from_numpy(memory.read(q, state, known=known)),
                                  task, n_patterns, sets, corruption=corruption, chunk=chunk, seed=seed, split=split,
                                  clamp_known=clamp_known, write_parts=write_parts)
    return errs.numpy(), query.numpy()


def evaluate_binary(
    memory: AssociativeMemory,
    n_patterns: int,
    distortion: str | Distortion = "erase:64",
    *,
    min_patterns: int = 1000,
    min_batches: int = 32,
    chunk: int = 32,
    seed: int = 1234,
    clamp_known: bool = False,
    write_parts: int = 1,
) -> ErrorStats:
    """Store random sets of ``n_patterns`` binary patterns and count error bits of the
    retrievals from their distortions (:func:`evaluate_task` on a
    :class:`~ebmm.tasks.BinaryTask`; ``clamp_known`` and ``write_parts`` as there)."""
    task = BinaryTask(memory.dim, Distortion.parse(distortion))
    return evaluate_task(memory, task, n_patterns, min_patterns=min_patterns, min_batches=min_batches, chunk=chunk, seed=seed,
                         clamp_known=clamp_known, write_parts=write_parts)


def binary_table(
    memories: dict[str, AssociativeMemory],
    patterns: tuple[int, ...] = PAPER_PATTERNS,
    distortion: str | Distortion = "erase:64",
    *,
    progress=None,
    **kwargs,
) -> dict[str, dict[int, ErrorStats]]:
    """:func:`evaluate_binary` for every memory and every N: ``{name: {N: stats}}``."""
    out: dict[str, dict[int, ErrorStats]] = {}
    for name, mem in memories.items():
        out[name] = {}
        for n in patterns:
            out[name][n] = evaluate_binary(mem, n, distortion, **kwargs)
            if progress is not None:
                progress(name, n, out[name][n])
    return out


def table_markdown(
    results: dict[str, dict[int, ErrorStats]],
    paper: dict[str, list[float]] | None = None,
    sizes: dict[str, int] | None = None,
) -> str:
    """A markdown table: one row per memory, ``mean [p5, p95]`` per N, its memory size (float32
    count) from ``sizes``; the paper's rows (all at 8256 floats) appended in italics."""
    ns = sorted({n for r in results.values() for n in r})
    lines = ["| memory | memory size | " + " | ".join(f"N = {n}" for n in ns) + " |",
             "|---|---|" + "---|" * len(ns)]
    for name, row in results.items():
        size = (sizes or {}).get(name, "")
        cells = [str(row[n]) if n in row else "" for n in ns]
        lines.append(f"| {name} | {size} | " + " | ".join(cells) + " |")
    if paper:
        for name, vals in paper.items():
            by_n = dict(zip(PAPER_PATTERNS, vals))
            lines.append(f"| *paper: {name}* | 8256 | " + " | ".join(f"*{by_n[n]}*" if n in by_n else "" for n in ns) + " |")
    return "\n".join(lines)
