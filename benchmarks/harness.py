"""What every benchmark here shares: timing, the machine's dense-matmul FLOP/s reference, FLOP
counting inside ``torch.func`` transforms, the machine and git description stored with results,
and a timestamped log. Scripts in this folder import it as ``harness`` (their own folder is on
``sys.path`` when run as ``python benchmarks/NAME.py``)."""

from __future__ import annotations

import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch.utils.flop_counter import FlopCounterMode

REPO = Path(__file__).resolve().parent.parent


def time_calls(fn: Callable[[], Any], *, warmup: int = 0, min_reps: int = 3, min_seconds: float = 0.0) -> list[float]:
    """Wall time of each of at least ``min_reps`` calls of ``fn``, continuing until
    ``min_seconds`` have passed; ``warmup`` untimed calls first."""
    for _ in range(warmup):
        fn()
    times: list[float] = []
    start = time.perf_counter()
    while len(times) < min_reps or time.perf_counter() - start < min_seconds:
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return times


def summary(times: list[float]) -> dict[str, Any]:
    return {"median_s": statistics.median(times), "min_s": min(times), "max_s": max(times), "reps": len(times)}


def dense_matmul(n: int, min_reps: int, gen: torch.Generator, label: str) -> dict[str, Any]:
    """FLOP/s of a float32 ``(n, n) @ (n, n)`` matmul (2n³ FLOPs), median and best call."""
    a = torch.randn(n, n, generator=gen)
    b = torch.randn(n, n, generator=gen)
    out = torch.empty(n, n)
    times = time_calls(lambda: torch.mm(a, b, out=out), warmup=2, min_reps=min_reps)
    flops = 2 * n**3
    return {
        "label": label,
        "n": n,
        "flops_per_call": flops,
        "flops_per_s": flops / statistics.median(times),
        "best_flops_per_s": flops / min(times),
        "loadavg": _loadavg(),
        **summary(times),
    }


class _GlobalOnly:
    """Stands in for FlopCounterMode's module tracker, whose backward hooks break inside
    ``torch.func`` transforms ("A leaf node was passed to _will_engine_execute_node",
    pytorch/pytorch#131753). Everything is counted under the "Global" entry."""

    parents = {"Global"}

    def __enter__(self):
        return self

    def __exit__(self, *args):
        return None


class FlatFlopCounter(FlopCounterMode):
    """``FlopCounterMode`` without the per-module hierarchy (which ``torch.func`` breaks)."""

    def __init__(self):
        super().__init__(display=False)
        self.mod_tracker = _GlobalOnly()


def _loadavg() -> list[float] | None:
    try:
        return [float(v) for v in Path("/proc/loadavg").read_text().split()[:3]]
    except OSError:
        return None


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def git_info() -> dict[str, Any]:
    def run(*cmd: str) -> str:
        return subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, check=True).stdout.strip()

    try:
        return {"commit": run("git", "rev-parse", "HEAD"), "dirty": bool(run("git", "status", "--porcelain", "--untracked-files=no"))}
    except (OSError, subprocess.CalledProcessError):
        return {"commit": None, "dirty": None}


def machine_info(threads: int) -> dict[str, Any]:
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "cpu_model": _cpu_model(),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "logical_cpus": os.cpu_count(),
        "threads": threads,
        "hostname": platform.node(),
    }


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def write_results(out: Path, stem: str, record: dict[str, Any], title: str, table: list[str]) -> None:
    """Write ``record`` (with its ``command`` and ``git``) to ``out/STEM.json`` and a short
    markdown report to ``out/STEM.md``: ``title``, the command and commit, then ``table``'s lines."""
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{stem}.json").write_text(json.dumps(record, indent=2))
    lines = [f"# {title}", "", f"`{record['command'].strip()}` — git {str(record['git'].get('commit', ''))[:10]}.", "", *table]
    (out / f"{stem}.md").write_text("\n".join(lines) + "\n")
    print(f"wrote {out}/{stem}.json, .md")

