"""The experiments behind ``ebmm eval binary``, ``ebmm eval images`` and ``ebmm capacity``, as
library functions: each takes memories and settings and returns ``(record, markdown)`` (plus
what a figure needs); :func:`~ebmm.evaluation.report.write_report` writes them. The CLI only
parses, calls one of these, prints and writes. (``ebmm table1`` and ``ebmm ratedistortion``
are :func:`~ebmm.evaluation.table1.run_table1` and
:func:`~ebmm.evaluation.ratedistortion.run_ratedistortion`.)"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..errors import CapacityWarning
from ..memory import AssociativeMemory
from ..tasks import Distortion, Occlusion, check_corruption, task_from_config
from .binary import PAPER_TABLE1, ErrorStats, binary_table, table_markdown
from .capacity import Capacity, find_capacity
from .images import evaluate_images, images_table_markdown


def eval_binary(
    memories: dict[str, AssociativeMemory], patterns: tuple[int, ...], distortion: Distortion, *, min_patterns: int = 1000,
    seed: int = 1234, clamp_known: bool = False, command: str = "",
    progress: Callable[[str, int, ErrorStats], None] | None = None, write_parts: tuple[int, ...] = (1,),
) -> tuple[dict[str, Any], str, dict[str, dict[int, ErrorStats]]]:
    """Error bits of every memory at every N under ``distortion``: ``(record, markdown,
    results)``; the markdown shows the paper's rows under ``erase:64``-like distortions.
    ``write_parts``: each P > 1 adds a row ``NAME (written in P parts)`` for every memory that
    can add to a written state (each set written in P consecutive parts); the others are listed
    in the record's ``"cannot_write_in_parts"``."""
    for memory in memories.values():
        check_corruption(distortion, (memory.dim,))
    results: dict[str, dict[int, ErrorStats]] = {}
    sizes: dict[str, int] = {}
    skipped = sorted(name for name, m in memories.items() if not m.supports_incremental_write) if max(write_parts) > 1 else []
    for parts in write_parts:
        if parts < 1 or parts > min(patterns):
            raise ValueError(f"write_parts must be in [1, {min(patterns)}] (the smallest N), got {parts}")
        chosen = {(name if parts == 1 else f"{name} (written in {parts} parts)"): m for name, m in memories.items()
                  if parts == 1 or m.supports_incremental_write}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", CapacityWarning)
            results.update(binary_table(chosen, patterns, distortion, min_patterns=min_patterns, seed=seed,
                                        clamp_known=clamp_known, progress=progress, write_parts=parts))
        sizes.update({name: m.memory_size() for name, m in chosen.items()})
    md = table_markdown(results, PAPER_TABLE1 if distortion.count == 64 and distortion.kind != "mask" else None, sizes)
    record = {"command": command, "distortion": str(distortion), "clamp_known": clamp_known, "min_patterns": min_patterns,
              "seed": seed, "memory_size": sizes, "write_parts": list(write_parts), "cannot_write_in_parts": skipped,
              "results": {name: {str(n): st.as_dict() for n, st in row.items()} for name, row in results.items()}}
    return record, md, results


def eval_images(
    memories: dict[str, AssociativeMemory], datasets: list[str], occlusions: Occlusion | list[Occlusion], *, patterns: int = 64,
    min_patterns: int = 1024, seed: int = 1234, data_path: str | Path | None = None, command: str = "",
    clamp_known: bool = False, progress: Callable[[str, str, ErrorStats], None] | None = None,
) -> tuple[dict[str, Any], str]:
    """Per-image error of every memory on held-out images of every data set (the transfer test
    when a memory was trained on another), under every occlusion (one per fill): ``(record,
    markdown)``. The same seed gives every memory the same images, squares and fills.

    ``clamp_known=False`` is the *free* protocol: a memory sees the query alone. With
    ``clamp_known=True`` (the *clamped* protocol) every memory is told which pixels the square
    hid and keeps the others (``read(..., known=...)``). ``ValueError`` when a memory's pattern
    shape is not the data set's."""
    from ..data import DATASET_METRIC

    occlusions = [occlusions] if isinstance(occlusions, Occlusion) else list(occlusions)
    results: dict[str, dict[tuple[str, str], ErrorStats]] = {name: {} for name in memories}
    for dataset in datasets:
        path = str(data_path) if data_path is not None and dataset in ("omniglot", "cifar") else None
        task = task_from_config("images", 0, str(occlusions[0]), dataset, path)
        for name, memory in memories.items():
            if tuple(memory.event_shape) != task.event_shape:
                raise ValueError(f"{name} stores patterns of shape {memory.event_shape}; {dataset} images are {task.event_shape}")
            for occlusion in occlusions:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", CapacityWarning)
                    st = evaluate_images(memory, task, patterns, occlusion, min_patterns=min_patterns, seed=seed,
                                         clamp_known=clamp_known)
                results[name][(dataset, str(occlusion))] = st
                if progress is not None:
                    progress(name, f"{dataset} {occlusion}", st)
    sizes = {name: m.memory_size() for name, m in memories.items()}
    protocol = "clamped" if clamp_known else "free"
    md = images_table_markdown(results, sizes, {d: f"{DATASET_METRIC[d]} error" for d in datasets}, protocol)
    record = {"command": command, "protocol": protocol, "distortions": [str(o) for o in occlusions], "patterns": patterns,
              "min_patterns": min_patterns, "seed": seed, "memory_size": sizes,
              "results": {name: {d: {o: st.as_dict() for (d2, o), st in row.items() if d2 == d} for d in datasets}
                          for name, row in results.items()}}
    return record, md


def capacity(
    memory: AssociativeMemory, budget: float, distortion: Distortion, *, max_n: int, min_patterns: int, confidence: float,
    seed: int, clamp_known: bool = False, command: str = "",
) -> tuple[dict[str, Any], Capacity, Callable[[Path], None]]:
    """The largest N within ``budget`` mean error bits: ``(record, result, draw)`` where
    ``draw(path)`` saves the error-vs-N figure of the probes."""
    check_corruption(distortion, (memory.dim,))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CapacityWarning)
        result = find_capacity(memory, budget, distortion, max_n=max_n, min_patterns=min_patterns, confidence=confidence,
                               seed=seed, clamp_known=clamp_known)
    record = {"command": command, "memory": memory.name, **result.as_dict()}

    def draw(path: Path) -> None:
        from .plots import plot_capacity

        plot_capacity(result, budget, memory.name, distortion, clamp_known, path, caption=command)

    return record, result, draw


def capacity_markdown(results: dict[tuple[str, float], tuple[Capacity, int]], distortion: Distortion, *, clamp_known: bool,
                      max_n: int) -> str:
    """The table of several :func:`capacity` results: ``results[(memory name, budget)] =
    (capacity result, memory size)``, one row per memory, one column per budget."""
    names = list(dict.fromkeys(name for name, _ in results))
    budgets = list(dict.fromkeys(b for _, b in results))
    protocol = " (clamped)" if clamp_known else ""
    lines = [f"Capacity under {distortion}{protocol}: the largest N within each budget of mean error bits (probed up to {max_n}).",
             "", "| memory | memory size | " + " | ".join(f"≤ {b:g} error bits" for b in budgets) + " |",
             "|---|---|" + "---|" * len(budgets)]
    for name in names:
        cells = [f"{results[(name, b)][0].capacity}" + ("" if results[(name, b)][0].monotone else " (not monotone)") for b in budgets]
        lines.append(f"| {name} | {results[(name, budgets[0])][1]} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def figure2(memory: AssociativeMemory, task, patterns: int, seed: int = 0) -> tuple[Any, Any, str]:
    """The paper's Figure 2 for any memory and task: store ``patterns`` held-out patterns (random
    ones for the binary task), read them back from the task's corrupted queries. Returns
    ``(stored (N, *event) numpy, trajectory (S, N, *event) numpy, score line)``; ``ValueError``
    when the memory's pattern shape is not the task's."""
    import torch

    if tuple(memory.event_shape) != tuple(task.event_shape):
        raise ValueError(f"{memory.name} stores patterns of shape {tuple(memory.event_shape)}; the task's are {tuple(task.event_shape)}")
    x, q = task.sample(1, patterns, split="eval", generator=torch.Generator().manual_seed(seed))
    x, q = x[0], q[0]
    with warnings.catch_warnings():
        warnings.simplefilter("always", CapacityWarning)
        state = memory.write(x)
    traj = memory.read(q, state, trajectory=True)
    r = torch.from_numpy(traj[-1])
    label = {"error_bits": "error bits", "hamming_error": "Hamming error", "squared_error": "squared error"}[task.metric]
    digits = 2 if task.metric == "error_bits" else 1
    score = f"{label} {float(task.error(r, x).mean()):.{digits}f} (query {float(task.error(q, x).mean()):.{digits}f})"
    return x.numpy(), traj, score
