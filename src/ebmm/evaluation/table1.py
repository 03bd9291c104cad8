"""The paper's Table 1, reproduced: every memory at 8256 floats, N = 16 … 96 stored patterns.

One command (``ebmm table1``) loads the shipped pretrained memories where they exist for the
requested distortion, meta-trains the others (each learned system once, at the largest N, with
the same episodes, distortion and loss as EBMM), evaluates everything under one protocol and
writes JSON, markdown and a plot beside the paper's published numbers.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Callable
from pathlib import Path

from ..errors import CapacityWarning
from ..memory import AssociativeMemory
from ..tasks import Distortion
from .report import write_report
from .binary import PAPER_PATTERNS, PAPER_TABLE1, TABLE_PATTERNS, ErrorStats, binary_table

#: our system name -> the paper's row label (None: not in the paper's table)
PAPER_ROWS: dict[str, str | None] = {
    "hopfield-hebb": "Hopfield network, Hebb rule",
    "hopfield-storkey": "Hopfield network, Storkey rule",
    "hopfield-pseudo-inverse": "Hopfield network, pseudo-inverse rule",
    "hopfield-storkey-local": None,  # the local-field variant (see ebmm.models.hopfield)
    "hopfield-pseudo-inverse-zero-diagonal": None,
    "plasticity": "Differentiable Plasticity",
    "mann": "MANN",
    "lstm": "LSTM",
    "memory_networks": "Memory Networks",
    "kanerva": None,
    "modern_hopfield": None,
    "ebmm": "EBMM (paper)",
}


def shipped_name(kind: str, distortion: Distortion, clamp_known: bool = False) -> str:
    """The pretrained name of a learned system for a distortion: ``binary-erase`` for EBMM,
    ``<kind>-binary-erase`` for a baseline (only 64-position distortions are shipped); with
    ``clamp_known``, the memory trained under clamped completion (``binary-erase-clamped``)."""
    suffix = f"binary-{distortion.kind}" + ("-clamped" if clamp_known else "")
    return suffix if kind == "ebmm" else f"{kind}-{suffix}"


def obtain_memories(
    kinds: list[str],
    distortion: Distortion,
    max_patterns: int,
    *,
    out_dir: Path | None,
    train_steps: int,
    use_pretrained: bool = True,
    given: dict[str, AssociativeMemory] | None = None,
    train_missing: bool = True,
    log: Callable[[str], None] = print,
    clamp_known: bool = False,
    train_episodes: int | None = None,
    device: str = "cpu",
) -> tuple[dict[str, AssociativeMemory], dict[str, str]]:
    """Load or meta-train each system; Hopfield networks need neither; ``given`` memories
    (e.g. your own longer runs) are used as they are. With ``train_missing=False`` a learned
    system with neither a given nor a shipped memory is left out (logged), not trained.

    **Returns:** ``(memories, sources)`` where a source says ``classical``, ``given:<name>``,
    ``shipped:<name>`` or ``trained:<steps>``. ``clamp_known``: systems trained here are
    trained under clamped completion (the shipped ones were trained without it);
    ``train_episodes`` overrides the episodes per training step (smoke tables); ``device``
    is where systems train and every memory computes (``auto|cpu|cuda|cuda:N|mps``)."""
    from ..models.ebmm import EBMM
    from ..models import model_from_config
    from ..meta.trainer import train
    from ..presets import BASELINE_TRAIN, PRESETS
    from ..registry import load, pretrained

    shipped = pretrained()
    memories: dict[str, AssociativeMemory] = {}
    sources: dict[str, str] = {}
    for kind in kinds:
        if given and kind in given:
            log(f"{kind}: using the given memory {given[kind].name!r}")
            memories[kind], sources[kind] = given[kind].to(device), f"given:{given[kind].name}"
            continue
        if kind.startswith("hopfield-"):
            memories[kind], sources[kind] = load(kind, device=device), "classical"
            continue
        name = shipped_name(kind, distortion, clamp_known)
        if clamp_known and name not in shipped:  # no clamped-trained memory: the free one, clamped at read
            name = shipped_name(kind, distortion)
        if use_pretrained and distortion.count == 64 and name in shipped:
            log(f"{kind}: using the shipped memory {name!r}")
            memories[kind], sources[kind] = load(name, device=device), f"shipped:{name}"
            continue
        if not train_missing:
            log(f"{kind}: no shipped or given memory; left out (train it, or pass --use {kind}=RUN_DIR)")
            continue
        if kind == "ebmm":
            mcfg, tcfg = PRESETS["slots-replace" if distortion.kind == "replace" else "slots"]
            model = EBMM.from_config(dataclasses.replace(mcfg, max_patterns=max_patterns))
        else:
            tcfg = BASELINE_TRAIN
            model = model_from_config(kind, {"max_patterns": max_patterns})
        tcfg = dataclasses.replace(tcfg, patterns=max_patterns, distortion=str(distortion), steps=train_steps,
                                   eval_every=max(1, train_steps // 5), compile=False, clamp_known=clamp_known,
                                   min_patterns=min(tcfg.min_patterns or max_patterns, max_patterns),
                                   episodes=train_episodes or tcfg.episodes, device=device)
        run_dir = out_dir / "runs" / kind if out_dir is not None else None
        log(f"{kind}: meta-training {train_steps} steps at N={max_patterns}, {distortion}" + (f" -> {run_dir}" if run_dir else ""))
        result = train(model, tcfg, run_dir, progress=False)
        memories[kind], sources[kind] = AssociativeMemory(model, result.params, name=kind).to(device), f"trained:{train_steps}"
    return memories, sources


def default_systems() -> list[str]:
    """Every system of the table: the Hopfield rules (both forms of Storkey's and of the
    pseudo-inverse), each registered learned baseline, and EBMM last."""
    from ..models import system_kinds
    from ..registry import hopfield_names

    learned = [k for k in system_kinds() if k != "ebmm"]
    return [*hopfield_names(), *learned, "ebmm"]


def run_table1(
    kinds: list[str],
    *,
    patterns: tuple[int, ...] = TABLE_PATTERNS,
    distortion: str = "erase:64",
    train_steps: int = 5000,
    min_patterns: int = 1000,
    min_batches: int = 32,
    out_dir: str | Path | None = None,
    use_pretrained: bool = True,
    given: dict[str, AssociativeMemory] | None = None,
    train_missing: bool = True,
    command: str = "",
    log: Callable[[str], None] = print,
    clamp_known: bool = False,
    smoke: bool = False,
    device: str = "cpu",
) -> dict:
    """Build the table; returns the JSON record (also written to ``out_dir`` with markdown
    and a plot when given). ``clamp_known``: every system is evaluated under clamped
    completion (told which query entries are intact; see ``AssociativeMemory.read``).
    ``smoke``: the record and the markdown say that this is a smoke table, not results.
    ``device``: where systems train and every memory computes."""
    dist = Distortion.parse(distortion)
    out = Path(out_dir) if out_dir is not None else None
    # systems trained here are trained for the paper's range (N <= 96); larger N test beyond it
    train_n = max([n for n in patterns if n <= max(PAPER_PATTERNS)], default=max(patterns))
    if smoke:  # a smoke table trains what it must at the smallest N, on few episodes: it only has to run
        train_n = min(patterns)
    memories, sources = obtain_memories(kinds, dist, train_n, out_dir=out, train_steps=train_steps,
                                        use_pretrained=use_pretrained, given=given, train_missing=train_missing, log=log,
                                        clamp_known=clamp_known, train_episodes=4 if smoke else None, device=device)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CapacityWarning)
        results = binary_table(memories, patterns, dist, min_patterns=min_patterns, min_batches=min_batches,
                               clamp_known=clamp_known, progress=lambda name, n, st: log(f"  {name:<24} N={n:<3} {st}"))
    sizes = {name: m.memory_size() for name, m in memories.items()}
    md = table1_markdown(results, sizes, dist)
    if clamp_known:
        md = "Protocol: clamped completion (each system is told which query entries are intact and keeps them).\n\n" + md
    if smoke:
        md = (f"**Smoke table (--quick), not results**: {train_steps} training steps of 4 episodes at N = {train_n} for "
              f"systems without a memory, {min_patterns} patterns per cell.\n\n" + md)
    record = {
        "smoke": smoke,
        "command": command, "distortion": str(dist), "clamp_known": clamp_known, "patterns": list(patterns),
        "min_patterns": min_patterns,
        "train_steps": train_steps, "memory_size": sizes,
        "sources": sources,
        "results": {name: {str(n): st.as_dict() for n, st in row.items()} for name, row in results.items()},
        "paper": PAPER_TABLE1,
    }
    if out is not None:
        from .plots import plot_error_vs_patterns

        write_report(out, record, md, stem="table1")
        protocol = ", clamped" if clamp_known else ""
        plot_error_vs_patterns(results, out / "table1.png", title=f"Table 1 under {dist}{protocol} (8256 floats)", caption=command)
    record["markdown"] = md
    return record


def table1_markdown(results: dict[str, dict[int, ErrorStats]], sizes: dict[str, int], dist: Distortion) -> str:
    """Our row (mean [p5, p95]) and, under it, the paper's published row where there is one."""
    ns = sorted({n for r in results.values() for n in r})
    lines = ["| system | memory floats | " + " | ".join(f"N = {n}" for n in ns) + " |", "|---|---|" + "---|" * len(ns)]
    for name, row in results.items():
        lines.append(f"| {name} | {sizes[name]} | " + " | ".join(str(row[n]) for n in ns) + " |")
        label = PAPER_ROWS.get(name)
        if label and dist.count == 64 and dist.kind != "mask":
            by_n = dict(zip(PAPER_PATTERNS, PAPER_TABLE1[label]))
            lines.append(f"| *paper: {label}* | 8256 | " + " | ".join(f"*{by_n[n]}*" if n in by_n else "" for n in ns) + " |")
    return "\n".join(lines)
