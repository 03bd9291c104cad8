"""Figures: the retrieval trajectory (the paper's Figure 2) and error-vs-N curves.

Every figure is stamped with the command and configuration that made it.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def save_figure(fig, path: str | Path, caption: str = "") -> Path:
    """Stamp ``caption`` (the command that made the figure) at the bottom, save as PNG, close."""
    lines = textwrap.wrap(caption, width=int(fig.get_figwidth() * 22)) if caption else []  # ~24 monospace chars per inch at 5 pt
    if lines:
        fig.text(0.01, 0.005, "\n".join(lines), fontsize=5, family="monospace", va="bottom")
    fig.tight_layout(rect=(0, 0.012 + 0.018 * len(lines) * 4 / fig.get_figheight(), 1, 1))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=150)
    plt.close(fig)
    return path


def _as_images(rows: np.ndarray, shape: tuple[int, int] | None) -> np.ndarray:
    """Patterns to displayable images: ``(n, d) -> (n, h, w)`` (near-square unless ``shape``),
    ``(n, 1, H, W) -> (n, H, W)``, ``(n, 3, H, W) -> (n, H, W, 3)``."""
    if rows.ndim == 4:
        return rows[:, 0] if rows.shape[1] == 1 else rows.transpose(0, 2, 3, 1)
    n, d = rows.shape
    if shape is None:
        h = int(np.sqrt(d))
        while d % h:
            h -= 1
        shape = (h, d // h)
    return rows.reshape(n, *shape)


def plot_trajectory(
    stored: np.ndarray,
    trajectory: np.ndarray,
    path: str | Path,
    *,
    image_shape: tuple[int, int] | None = None,
    max_rows: int = 6,
    title: str = "",
    caption: str = "",
    extra_columns: dict[str, np.ndarray] | None = None,
) -> Path:
    """Save a grid: one row per pattern — stored, query, every read iterate, retrieval.

    **Arguments:** ``stored (M, d)`` or images ``(M, C, H, W)``; ``trajectory (S, M, ...)`` whose first entry is the query
    and last the retrieval; ``extra_columns`` name -> ``(M, d)`` (e.g. a Hopfield network's
    retrieval) appended on the right; ``caption`` is printed under the grid (the command).
    """
    rows = min(max_rows, stored.shape[0])
    cols = [("stored", stored[:rows]), ("query", trajectory[0, :rows])]
    cols += [(f"k={k}", trajectory[k, :rows]) for k in range(1, trajectory.shape[0])]
    for name, arr in (extra_columns or {}).items():
        cols.append((name, arr[:rows]))
    h, w = _as_images(stored[:1], image_shape).shape[1:3]
    fig, axes = plt.subplots(rows, len(cols), figsize=(1.1 * len(cols), (1.1 * h / w + 0.15) * rows + 0.8), squeeze=False)
    for j, (name, arr) in enumerate(cols):
        imgs = _as_images(arr, image_shape)
        for i in range(rows):
            ax = axes[i, j]
            ax.imshow(np.clip(imgs[i], 0, 1), cmap="gray", vmin=0, vmax=1, interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if i == 0:
                ax.set_title(name, fontsize=7)
    if title:
        fig.suptitle(title, fontsize=9)
    return save_figure(fig, path, caption)


def plot_error_vs_patterns(
    results: dict[str, dict[int, "object"]],
    path: str | Path,
    *,
    paper: dict[str, list[float]] | None = None,
    paper_patterns: tuple[int, ...] = (16, 32, 48, 64, 96),
    title: str = "",
    caption: str = "",
    limits: dict[str, float] | None = None,
) -> Path:
    """Error bits (mean with 5th–95th percentile bars) against the number of stored patterns;
    published numbers as dashed lines; ``limits`` (label → N, e.g.
    :func:`~ebmm.evaluation.capacity.information_limits`) as vertical dotted lines, those past
    the largest N named in the legend only."""
    many = len(results) > 8
    fig, ax = plt.subplots(figsize=(9, 4.5) if many else (6, 4))
    if len(results) > 10:  # the default cycle repeats after 10 colours
        ax.set_prop_cycle(color=[plt.get_cmap("tab20")(i % 20) for i in range(len(results))])
    largest = max((n for row in results.values() for n in row), default=0)
    for i, (label, n) in enumerate((limits or {}).items()):
        style = {"color": f"C{7 + i % 3}", "linestyle": ":", "alpha": 0.8}
        if n <= 1.1 * largest:
            ax.axvline(n, label=f"limit, {label}: N = {n:.0f}", **style)
        else:
            ax.plot([], [], label=f"limit, {label}: N = {n:.0f} (off the plot)", **style)
    for name, row in results.items():
        ns = sorted(row)
        mean = np.array([row[n].mean for n in ns])
        lo = np.maximum(0, mean - np.array([row[n].p5 for n in ns]))  # a skewed batch distribution
        hi = np.maximum(0, np.array([row[n].p95 for n in ns]) - mean)  # can put the mean outside
        ax.errorbar(ns, mean, yerr=[lo, hi], marker="o", capsize=3, label=name)
    for name, vals in (paper or {}).items():
        ax.plot(paper_patterns, vals, "--", alpha=0.5, label=f"paper: {name}")
    ax.set_xlabel("stored patterns N")
    ax.set_ylabel("error bits (of 128)")
    ax.grid(alpha=0.3)
    if many:  # beside the axes, not over the curves
        ax.legend(fontsize=6, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    else:
        ax.legend(fontsize=6)
    if title:
        ax.set_title(title, fontsize=9)
    return save_figure(fig, path, caption)


def plot_rate_distortion(
    ours: dict[str, list[tuple[int, object]]],
    path: str | Path,
    *,
    paper: dict[str, list[tuple[int, float]]] | None = None,
    ylabel: str = "error per image",
    title: str = "",
    caption: str = "",
) -> Path:
    """Error (mean with 5th–95th percentile bars) against memory size in float32, one line per
    system, the paper's published points as dashed lines (Figure 3)."""
    import textwrap

    fig, ax = plt.subplots(figsize=(6, 4))
    names = list(dict.fromkeys([*ours, *(paper or {})]))
    colour = {name: f"C{i % 10}" for i, name in enumerate(names)}  # a system's two lines share a colour
    # "system, fill" lines: one colour per fill, one line style and marker per system
    fills = list(dict.fromkeys(n.split(", ", 1)[1] for n in ours if ", " in n))
    systems = list(dict.fromkeys(n.split(", ", 1)[0] for n in ours if ", " in n))
    styles = ["-", "--", ":", "-."]
    markers = ["o", "s", "^", "D"]
    for name, pts in ours.items():
        pts = sorted(pts, key=lambda p: p[0])
        sizes = [p[0] for p in pts]
        mean = np.array([p[1].mean for p in pts])
        lo = np.maximum(0, mean - np.array([p[1].p5 for p in pts]))
        hi = np.maximum(0, np.array([p[1].p95 for p in pts]) - mean)
        style = {"marker": "o", "color": colour[name]}
        if ", " in name:
            system, fill = name.split(", ", 1)
            i = systems.index(system)
            style = {"marker": markers[i % 4], "ls": styles[i % 4], "color": f"C{fills.index(fill) % 10}"}
        ax.errorbar(sizes, mean, yerr=[lo, hi], capsize=3, label=name, **style)
    for name, pts in (paper or {}).items():
        ax.plot([p[0] for p in pts], [p[1] for p in pts], "--x", alpha=0.5, color=colour[name], label=f"paper: {name}")
    ax.set_xlabel("memory size (float32)")
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=6)
    if title:
        ax.set_title("\n".join(line for part in title.split("\n") for line in textwrap.wrap(part, 80)), fontsize=8)
    return save_figure(fig, path, caption)


def read_eval_curve(metrics_path: str | Path) -> tuple[str, list[tuple[int, float]]]:
    """The held-out evaluations of a training run's ``metrics.jsonl``: ``(metric, [(step,
    error), ...])`` in step order (the last record of a step wins, e.g. after a resume).
    ``ValueError`` when the file holds no evaluation."""
    import json

    points: dict[int, float] = {}
    metric = ""
    for line in Path(metrics_path).read_text().splitlines():
        rec = json.loads(line) if line.strip() else {}
        keys = [k for k in rec if k.startswith("eval_") and k != "eval_by_patterns" and isinstance(rec[k], (int, float))]
        if "step" in rec and keys:
            metric = keys[0][len("eval_"):]
            points[int(rec["step"])] = float(rec[keys[0]])
    if not points:
        raise ValueError(f"{metrics_path} holds no held-out evaluation (eval_* records)")
    return metric, sorted(points.items())


def plot_training_curves(runs: dict[str, str | Path], path: str | Path, *, title: str = "", caption: str = "") -> Path:
    """Held-out error against meta-step of each run (``{label: metrics.jsonl}``), the untrained
    memory (step 0) as a dotted line per run: the curve that says whether meta-training helped."""
    fig, ax = plt.subplots(figsize=(6, 3.6))
    metric = ""
    for i, (label, metrics_path) in enumerate(runs.items()):
        metric, pts = read_eval_curve(metrics_path)
        steps, errs = [p[0] for p in pts], [p[1] for p in pts]
        ax.plot(steps, errs, "o-", ms=3, color=f"C{i % 10}", label=f"{label}: {errs[0]:.1f} at step {steps[0]} -> {min(errs):.1f} best")
        ax.axhline(errs[0], color=f"C{i % 10}", ls=":", lw=0.8)
    ax.set_xlabel("meta-step")
    ax.set_ylabel(f"held-out {metric.replace('_', ' ')}")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=6)
    if title:
        import textwrap

        ax.set_title("\n".join(textwrap.wrap(title, 70)), fontsize=9)
    return save_figure(fig, path, caption)


def plot_capacity(result, budget: float, name: str, distortion, clamp_known: bool, path: str | Path, caption: str = "") -> Path:
    """Mean error bits (with the probes' intervals) against N, the budget and the capacity found
    (:func:`ebmm.evaluation.capacity.find_capacity`'s result)."""
    ps = sorted(result.probes, key=lambda p: p.n)
    fig, ax = plt.subplots(figsize=(5, 3.2))
    ax.errorbar([p.n for p in ps], [p.mean for p in ps], yerr=[[p.mean - p.low for p in ps], [p.high - p.mean for p in ps]],
                marker="o", capsize=3)
    ax.axhline(budget, color="k", ls="--", lw=0.8, label=f"budget {budget}")
    ax.axvline(result.capacity, color="C3", ls=":", lw=0.8, label=f"capacity {result.capacity}")
    ax.set_xlabel("stored patterns N")
    ax.set_ylabel("error bits")
    ax.set_title(f"{name}, {distortion}" + (", clamped" if clamp_known else ""))
    ax.legend()
    return save_figure(fig, path, caption)
