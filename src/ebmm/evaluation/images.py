"""The image protocol (paper §4.2): store batches of held-out images, retrieve them from occluded
copies, report the per-image error (Hamming on binarised Omniglot/MNIST, squared on natural
images/CIFAR) as a mean over ≥ ``min_patterns`` images with 5th–95th percentiles over batches.
Also the paper's Figure 3 points, read off the published plot, for rate–distortion tables."""

from __future__ import annotations

from ..memory import AssociativeMemory
from ..tasks import ImageTask, Occlusion, parse_corruption
from .binary import ErrorStats, evaluate_task

#: Figure 3 of the paper: {data set: {system: [(memory floats, error per image), ...]}}
#: (read off the published plot; see ../shared/paper/appendix-notes.md).
PAPER_FIGURE3: dict[str, dict[str, list[tuple[int, float]]]] = {
    "omniglot": {
        "EBMM conv": [(2307, 19.1), (3462, 12.0), (4616, 9.2), (9232, 4.1), (11541, 3.2), (13850, 2.3), (16158, 1.9)],
        "EBMM FC": [(3084, 17.1), (4112, 12.8), (5140, 11.6), (8224, 7.7), (10795, 4.7), (13880, 3.5), (16450, 2.4)],
        "Memory Networks": [(3072, 19.1), (4096, 12.6), (8192, 4.6), (10240, 3.3), (12288, 2.5), (16384, 1.9)],
        "MANN": [(2176, 20.6), (3263, 10.9), (4351, 7.3), (8704, 7.3), (13313, 10.3), (17410, 12.4)],
    },
    "cifar": {
        "EBMM conv": [(2307, 10.7), (3461, 10.0), (4615, 8.5), (9231, 6.7), (11538, 6.2), (13846, 6.1), (16154, 5.8)],
        "Memory Networks": [(3071, 27.5), (4095, 22.4), (8191, 13.0), (10238, 10.7), (12286, 9.0), (16382, 6.6)],
        "MANN": [(1022, 26.9), (1535, 23.9), (2047, 18.4), (3071, 14.9), (6143, 14.4), (12286, 14.5)],
    },
}
#: our energy kind -> the paper's label in :data:`PAPER_FIGURE3`
#: our system -> the paper's label it is compared with (the image slot energy is our EBMM: the paper's EBMM conv points)
PAPER_LABELS = {"resnet_conv": "EBMM conv", "resnet_fc": "EBMM FC", "image_slots": "EBMM conv", "memory_networks": "Memory Networks",
                "mann": "MANN"}


def evaluate_images(
    memory: AssociativeMemory,
    task: ImageTask,
    n_patterns: int = 64,
    corruption: str | Occlusion | None = None,
    *,
    min_patterns: int = 1024,
    min_batches: int = 8,
    chunk: int = 4,
    seed: int = 1234,
    split: str = "eval",
    clamp_known: bool = False,
) -> ErrorStats:
    """:func:`~ebmm.evaluation.binary.evaluate_task` on images of ``task``'s ``split`` (held
    out by default), occluded by ``corruption`` (default: the task's), after checking that the
    memory stores images of the task's shape. Returns :class:`ErrorStats` in the task's metric.
    ``clamp_known``: the clamped protocol (the memory is told which pixels are intact); the
    default is the free one (the memory sees only the query)."""
    if tuple(memory.event_shape) != task.event_shape:
        raise ValueError(f"{memory.name} stores patterns of shape {memory.event_shape}, the {task.name} images are "
                         f"{task.event_shape}")
    spec = parse_corruption(corruption) if corruption is not None else None
    return evaluate_task(memory, task, n_patterns, spec, min_patterns=min_patterns, min_batches=min_batches, chunk=chunk,
                         seed=seed, split=split, clamp_known=clamp_known)


def images_table_markdown(results: dict[str, dict[tuple[str, str], ErrorStats]], sizes: dict[str, int], metrics: dict[str, str],
                          protocol: str = "free") -> str:
    """One row per (memory, data set, occlusion): memory floats, the queries' own error, the
    retrievals' ``mean [p5, p95]`` and the images scored, under ``protocol`` (``free``: the
    memory sees only the query; ``clamped``: it is told which pixels are intact) — the transfer
    and per-fill table. ``results[name][(dataset, occlusion)]``."""
    lines = ["| memory | memory floats | data set | occlusion | protocol | metric | query | retrieval | images |",
             "|---|---|---|---|---|---|---|---|---|"]
    for name, row in results.items():
        for (dataset, occlusion), st in row.items():
            cell = str(occlusion).replace("|", "\\|")  # 'mix:16|noise:10%' inside a table cell
            lines.append(f"| {name} | {sizes[name]} | {dataset} | {cell} | {protocol} | {metrics[dataset]} | "
                         f"{st.query_mean:.1f} | {st} | {st.patterns} |")
    return "\n".join(lines)


def paper_points(dataset: str, system: str) -> list[tuple[int, float]]:
    """The paper's Figure 3 points of a system (our kind or the paper's label) on a data set
    (empty when the paper has none)."""
    return PAPER_FIGURE3.get(dataset, {}).get(PAPER_LABELS.get(system, system), [])


def ratedistortion_markdown(dataset: str, rows: list[dict], protocol: str = "free") -> str:
    """Rate–distortion rows ``{system, memory_size, stats, steps[, dataset, distortion]}`` as
    markdown, under ``protocol`` (free or clamped), each beside the paper's error at the nearest
    published memory size of the same system (if any; the paper's points are for noise on its
    own data set)."""
    lines = ["| system | memory floats | meta-steps | data set | occlusion | protocol | query | ours | paper (nearest size) |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in sorted(rows, key=lambda r: (r["system"], r["memory_size"], r.get("dataset", dataset) != dataset, r.get("dataset", dataset))):
        st: ErrorStats = r["stats"]
        scored = r.get("dataset", dataset)
        pts = paper_points(dataset, r["system"]) if scored == dataset else []
        near = min(pts, key=lambda p: abs(p[0] - r["memory_size"])) if pts else None
        paper = f"{near[1]} at {near[0]}" if near else "—"
        cell = str(r.get("distortion", "—")).replace("|", "\\|")
        lines.append(f"| {r['system']} | {r['memory_size']} | {r['steps']} | {scored} | {cell} | {protocol} | "
                     f"{st.query_mean:.1f} | {st} | {paper} |")
    return "\n".join(lines)
