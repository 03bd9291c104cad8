"""Rate–distortion on images (paper Figure 3): meta-train an image memory at each of several
memory sizes, score each on held-out images, plot error against memory size beside the
paper's points. One command: ``ebmm ratedistortion``.

Each (system, size) trains in its own run directory ``out/runs/<system>-<floats>``; a run that
already reached the requested steps is only evaluated, an interrupted one resumes, so the
command can be stopped and rerun.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

from ..config import to_dict
from ..tasks import ImageTask, task_from_config
from .binary import ErrorStats
from .report import write_report
from .images import PAPER_LABELS, evaluate_images, paper_points, ratedistortion_markdown

#: the paper's memory sizes (float32) on the conv and FC energies' grids, smallest to largest
DEFAULT_SIZES = (2308, 4616, 9232, 13848)


def run_ratedistortion(
    dataset: str,
    *,
    systems: tuple[str, ...] = ("resnet_conv", "resnet_fc"),
    sizes: tuple[int, ...] = DEFAULT_SIZES,
    preset: str = "fast",
    steps: int | None = None,
    patterns: int | None = None,
    corruption: str | None = None,
    data_path: str | None = None,
    min_patterns: int = 1024,
    out_dir: str | Path | None = None,
    command: str = "",
    log: Callable[[str], None] = print,
    progress: bool = False,
    device: str = "cpu",
) -> dict:
    """Train and score every ``system`` at every memory size: an image energy (``image_slots``
    with its own preset ``slots``; ``resnet_conv``, ``resnet_fc`` with ``preset``) or a flattened
    vector baseline (``memory_networks``, ``mann``; see :mod:`ebmm.models.flat_images`) with
    ``preset``'s training settings. ``device``: where they train and are scored.

    **Returns:** the JSON record (also written with markdown and a plot to ``out_dir``):
    ``rows`` of ``{system, requested_size, memory_size, steps, stats}``, the configs used, the
    paper's points."""
    from ..models.flat_images import IMAGE_BASELINES, image_baseline
    from ..data import DATASET_SHAPE
    from ..learned_memory import LearnedMemory
    from ..meta.checkpoint import load_checkpoint
    from ..models.ebmm import Architecture
    from ..meta.trainer import BEST_NAME, CHECKPOINT_NAME, train
    from ..presets import image_preset
    from .plots import plot_rate_distortion

    out = Path(out_dir) if out_dir is not None else None
    task: ImageTask | None = None
    rows, configs = [], {}
    for system in systems:
        for size in sizes:
            shape = DATASET_SHAPE[dataset]
            if system in IMAGE_BASELINES:  # the preset's training settings, a flattened vector baseline
                _, tcfg = image_preset(preset, "resnet_conv", dataset, shape, size, data_path or "")
                model = image_baseline(system, shape, size, patterns or tcfg.patterns)
            else:
                mcfg, tcfg = image_preset("slots" if system == "image_slots" else preset, system, dataset, shape, size,
                                          data_path or "", patterns=patterns)
                model = Architecture.from_config(mcfg)
            tcfg = dataclasses.replace(tcfg, device=device,
                                       **{k: v for k, v in dict(steps=steps, patterns=patterns, distortion=corruption).items()
                                          if v is not None})
            if task is None:
                task = task_from_config(tcfg.task, model.dim, tcfg.distortion, tcfg.dataset, tcfg.data_path)
            name = f"{system}-{model.memory_size()}"
            run_dir = out / "runs" / name if out is not None else None
            resume = run_dir is not None and (run_dir / CHECKPOINT_NAME).is_file()
            saved = load_checkpoint(run_dir / CHECKPOINT_NAME) if resume else None
            trained_steps = tcfg.steps
            if saved is not None and saved.step >= tcfg.steps:
                log(f"{name}: trained already ({run_dir}, {saved.step} steps)")
                params, trained_steps = saved.params, saved.step
            else:
                log(f"{name}: meta-training {tcfg.steps} steps on {dataset}" + (" (resumed)" if resume else ""))
                params = train(model, tcfg, run_dir, resume=resume, progress=progress, task=task).params
            if run_dir is not None and (run_dir / BEST_NAME).is_file():
                params = load_checkpoint(run_dir / BEST_NAME).params  # the best held-out evaluation
            stats = evaluate_images(LearnedMemory(model, params, name=name).to(device), task, tcfg.patterns, min_patterns=min_patterns)
            log(f"  {name}: {task.metric} {stats} (query {stats.query_mean:.1f})")
            rows.append({"system": system, "requested_size": size, "memory_size": model.memory_size(), "steps": trained_steps,
                         "stats": stats})
            configs[name] = {"model": model.config_dict(), "train": to_dict(tcfg)}
    md = ratedistortion_markdown(dataset, rows)
    record = {
        "command": command, "dataset": dataset, "metric": task.metric if task else None, "preset": preset,
        "rows": [{**{k: v for k, v in r.items() if k != "stats"}, "stats": r["stats"].as_dict()} for r in rows],
        "configs": configs,
        "paper": {s: paper_points(dataset, s) for s in systems},
    }
    if out is not None:
        write_report(out, record, md, stem="ratedistortion")
        ours: dict[str, list[tuple[int, ErrorStats]]] = {}
        for r in rows:
            ours.setdefault(r["system"], []).append((r["memory_size"], r["stats"]))
        # the paper's curves under the paper's names (image_slots and resnet_conv are both compared with "EBMM conv")
        paper = {PAPER_LABELS.get(s, s): paper_points(dataset, s) for s in systems if paper_points(dataset, s)}
        plot_rate_distortion(ours, out / "ratedistortion.png", paper=paper, ylabel=task.metric.replace("_", " ") + " per image",
                             title=f"{dataset}: {task.corruption} occlusion, N = {rows[0]['stats'].patterns // rows[0]['stats'].batches if rows else 0}"
                                   f" images stored, {_steps_label(rows)}\n(paper: N = 64, fully trained)",
                             caption=command)
    record["markdown"] = md
    return record


def _steps_label(rows: list[dict]) -> str:
    """``"3000 meta-steps"``, or ``"500–3000 meta-steps"`` when the memories were trained for different lengths."""
    steps = sorted({r["steps"] for r in rows}) or [0]
    return f"{steps[0]} meta-steps" if len(steps) == 1 else f"{steps[0]}–{steps[-1]} meta-steps"
