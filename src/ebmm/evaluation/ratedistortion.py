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
    fills: tuple[str, ...] = (),
    transfer: tuple[str, ...] = (),
    clamp_known: bool = False,
    detector_from: str | Path | None = None,
    read_options: dict | None = None,
) -> dict:
    """Train and score every ``system`` at every memory size: an image energy (``image_slots``
    with its own preset ``slots``; ``resnet_conv``, ``resnet_fc`` with ``preset``) or a flattened
    vector baseline (``memory_networks``, ``mann``, ``delta_rule``, ``mlp_memory``; see :mod:`ebmm.models.flat_images`) with
    ``preset``'s training settings. ``device``: where they train and are scored.

    Each memory is scored under every occlusion fill of ``fills`` (e.g. ``("noise", "binary",
    "zeros", "ones", "mix")``, the square's side that of the training corruption; empty: the
    training corruption alone), on ``dataset`` and on every data set of ``transfer`` (the memory
    trained on ``dataset``: the transfer test), all on the same seeded images. ``clamp_known``:
    the clamped protocol (every memory is told the covered pixels); the default is the free one.
    ``detector_from``: a checkpoint or run directory of an image slot memory whose trust
    detector starts every new ``image_slots`` run (the rest of its start is its own data-derived
    one) — the detector does not depend on the code size.

    **Returns:** the JSON record (also written with markdown and a plot to ``out_dir``):
    ``rows`` of ``{system, requested_size, memory_size, steps, dataset, distortion, stats}``,
    the protocol, the configs used, the paper's points."""
    from ..models.flat_images import IMAGE_BASELINES, image_baseline
    from ..data import DATASET_SHAPE
    from ..memory import AssociativeMemory
    from ..checkpoint import load_checkpoint
    from ..models.ebmm import EBMM
    from ..meta.trainer import BEST_NAME, CHECKPOINT_NAME, train
    from ..presets import image_preset
    from .plots import plot_rate_distortion

    out = Path(out_dir) if out_dir is not None else None
    task: ImageTask | None = None
    tasks: dict[str, ImageTask] = {}
    detector = _detector_weights(detector_from) if detector_from is not None else None
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
                model = EBMM.from_config(mcfg)
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
                start = None
                if detector is not None and system == "image_slots" and not resume:
                    start = model.init_from_data(model.init_params(seed=tcfg.seed), task.train)
                    start = {**start, "static": {**start["static"], **detector}}
                params = train(model, tcfg, run_dir, resume=resume, progress=progress, task=task, params=start).params
            if run_dir is not None and (run_dir / BEST_NAME).is_file():
                params = load_checkpoint(run_dir / BEST_NAME).params  # the best held-out evaluation
            scored_model = model.with_read_options(**read_options) if read_options and system == "image_slots" else model
            memory = AssociativeMemory(scored_model, params, name=name).to(device)
            side = task.corruption.count
            for scored in (dataset, *transfer):
                if scored not in tasks:
                    tasks[scored] = task if scored == dataset else task_from_config("images", model.dim, str(task.corruption), scored)
                # each fill in the training square's size; without fills, the training corruption itself
                for occlusion in [f"{fill}:{side}" for fill in fills] if fills else [str(task.corruption)]:
                    stats = evaluate_images(memory, tasks[scored], tcfg.patterns, occlusion, min_patterns=min_patterns,
                                            clamp_known=clamp_known)
                    log(f"  {name} {scored} {occlusion}: {task.metric} {stats} (query {stats.query_mean:.1f})")
                    rows.append({"system": system, "requested_size": size, "memory_size": model.memory_size(), "steps": trained_steps,
                                 "dataset": scored, "distortion": occlusion, "stats": stats,
                                 **({"read_options": read_options} if scored_model is not model else {})})
            configs[name] = {"model": model.config_dict(), "train": to_dict(tcfg)}
    protocol = "clamped" if clamp_known else "free"
    md = ratedistortion_markdown(dataset, rows, protocol)
    record = {
        "command": command, "dataset": dataset, "metric": task.metric if task else None, "preset": preset, "protocol": protocol,
        "rows": [{**{k: v for k, v in r.items() if k != "stats"}, "stats": r["stats"].as_dict()} for r in rows],
        "configs": configs,
        "paper": {s: paper_points(dataset, s) for s in systems},
    }
    if out is not None:
        write_report(out, record, md, stem="ratedistortion")
        ours: dict[str, list[tuple[int, ErrorStats]]] = {}
        several = len({r["distortion"] for r in rows}) > 1
        for r in rows:
            if r["dataset"] == dataset:
                ours.setdefault(r["system"] + (f", {r['distortion']}" if several else ""), []).append((r["memory_size"], r["stats"]))
        # the paper's curves under the paper's names (image_slots and resnet_conv are both compared with "EBMM conv")
        paper = {PAPER_LABELS.get(s, s): paper_points(dataset, s) for s in systems if paper_points(dataset, s)}
        fills_label = ", ".join(dict.fromkeys(r["distortion"] for r in rows)) if rows else str(task.corruption)
        plot_rate_distortion(ours, out / "ratedistortion.png", paper=paper, ylabel=task.metric.replace("_", " ") + " per image",
                             title=f"{dataset}: {fills_label} occlusion ({protocol} protocol), N = "
                                   f"{rows[0]['stats'].patterns // rows[0]['stats'].batches if rows else 0}"
                                   f" images stored, {_steps_label(rows)}\n(paper: noise, N = 64, fully trained)",
                             caption=command)
    record["markdown"] = md
    return record


def _detector_weights(source: str | Path) -> dict:
    """The trust detector's slow weights (``detector.*``, and ``matcher.*`` where it has one) of
    an image slot memory's checkpoint or run directory (its best held-out checkpoint when there
    is one)."""
    from ..checkpoint import load_checkpoint
    from ..meta.trainer import BEST_NAME, CHECKPOINT_NAME

    path = Path(source)
    if path.is_dir():
        path = path / BEST_NAME if (path / BEST_NAME).is_file() else path / CHECKPOINT_NAME
    static = load_checkpoint(path).params.get("static", {})
    weights = {n: t for n, t in static.items() if n.startswith(("detector.", "matcher."))}
    if not weights:
        raise ValueError(f"{source} holds no trust detector (an image slot memory with trust='memory')")
    return weights


def _steps_label(rows: list[dict]) -> str:
    """``"3000 meta-steps"``, or ``"500–3000 meta-steps"`` when the memories were trained for different lengths."""
    steps = sorted({r["steps"] for r in rows}) or [0]
    return f"{steps[0]} meta-steps" if len(steps) == 1 else f"{steps[0]}–{steps[-1]} meta-steps"
