"""The held-out evaluation loop, once: store independent sets drawn from a task, read their
corrupted queries back, score each set. The trainer's held-out evaluation
(:func:`ebmm.meta.trainer.evaluate_params`, on a model's parameters) and the tables' protocol
(:func:`ebmm.evaluation.binary.per_set_errors`, on a memory) are both this loop, given their
own ``write`` and ``read``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from .binary import Distortion
from .episodes import EpisodeTask, Occlusion

#: ``write(patterns (B, n, *event), state or None) -> state``: stores the patterns, continuing
#: ``state`` (None: the empty memory)
Write = Callable[[Tensor, Any], Any]
#: ``read(queries (B, N, *event), state, known (B, N, *event) bool or None) -> (B, N, *event)``:
#: ``known`` given only under clamped completion
Read = Callable[[Tensor, Any, "Tensor | None"], Tensor]


def check_write_parts(write_parts: int, n_patterns: int) -> None:
    """``ValueError`` unless ``write_parts`` is an integer in ``[1, n_patterns]``."""
    if isinstance(write_parts, bool) or not isinstance(write_parts, int) or not 1 <= write_parts <= n_patterns:
        raise ValueError(f"write_parts must be an integer in [1, {n_patterns}], got {write_parts!r}")


def held_out_errors(write: Write, read: Read, task: EpisodeTask, n_patterns: int, sets: int, *,
                    corruption: Distortion | Occlusion | None = None, chunk: int = 32, seed: int = 1234,
                    split: str = "eval", clamp_known: bool = False, write_parts: int = 1) -> tuple[Tensor, Tensor]:
    """Each of ``sets`` sets of ``n_patterns`` drawn from ``task`` (its ``split``; ``chunk`` sets
    per draw, from a generator seeded with ``seed``, on the CPU) is written in ``write_parts``
    consecutive parts and read back from its queries under ``corruption`` (None: the task's),
    told the intact entries only under ``clamp_known``. Returns each set's mean error of the
    retrievals and of the queries, both ``(sets,)``, in the task's metric."""
    check_write_parts(write_parts, n_patterns)
    bounds = torch.linspace(0, n_patterns, write_parts + 1).round().long().tolist()
    gen = torch.Generator().manual_seed(seed)
    per_set, query = [], []
    done = 0
    while done < sets:
        b = min(chunk, sets - done)
        x, q, known = task.sample(b, n_patterns, split=split, corruption=corruption, generator=gen, known=True)
        state = None
        for a, c in zip(bounds[:-1], bounds[1:]):
            state = write(x[:, a:c], state)
        r = read(q, state, known if clamp_known else None)
        per_set.append(task.error(r.to(x.device), x).mean(-1))
        query.append(task.error(q, x).mean(-1))
        done += b
    return torch.cat(per_set), torch.cat(query)
