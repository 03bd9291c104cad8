"""Every Table 1 system side by side in one run (CPU): meta-training steps/s of each learned
system at the table's training shape, and write and read latency for N = 64 stored 128-bit
patterns through the public API, with the dense-matmul FLOP/s of the same run as a yardstick.

    python benchmarks/bench_baselines.py           # ~6 min on a loaded 2-core machine
    python benchmarks/bench_baselines.py --quick   # ~1.5 min: 4 episodes per step

Meta-step: exactly what ``ebmm train binary --model KIND`` runs (``grad_and_value`` of the
model's loss, eager) on 16 episodes of N = 96 patterns under erase:64 (``--quick``: 4). Each
system is timed between two matmul bursts; "relative cost" divides a system's step time by
EBMM's (log-cosh, fast preset) in this same run, the figure to quote — the machine is shared
and its absolute speed drifts. Latency: one episode, numpy in and out, median over repeats;
learned systems at their untrained initialisation (speed does not depend on the weights).
Results: ``<out>/baselines.json`` and ``baselines.md`` (``baselines_quick.*``).
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path
from typing import Any

import torch

from harness import dense_matmul, log, machine_info, time_calls  # noqa: E402

from ebmm.memory import AssociativeMemory  # noqa: E402
from ebmm.models.ebmm import EBMM  # noqa: E402
from ebmm.models import model_from_config, system_kinds  # noqa: E402
from ebmm.meta.trainer import MetaStep  # noqa: E402
from ebmm.presets import PRESETS  # noqa: E402
from ebmm.registry import hopfield_names, load  # noqa: E402
from ebmm.tasks import sample_episodes  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
DISTORTION = "erase:64"


def learned_models(patterns: int) -> dict[str, Any]:
    """EBMM (fast preset) first, then every registered baseline, each configured for ``patterns``."""
    import dataclasses

    models = {"ebmm": EBMM.from_config(dataclasses.replace(PRESETS["fast"][0], max_patterns=patterns))}
    for kind in sorted(system_kinds()):
        if kind != "ebmm":
            models[kind] = model_from_config(kind, {"max_patterns": patterns})
    return models


def bench_steps(models: dict[str, Any], episodes: int, patterns: int, reference, min_reps: int) -> list[dict[str, Any]]:
    gen = torch.Generator().manual_seed(0)
    x, q = sample_episodes(episodes, patterns, 128, DISTORTION, generator=gen)
    rows = []
    for kind, model in models.items():
        log(f"meta-step {kind} ...")
        params = model.init_params(seed=0)
        step = MetaStep(model, compile=False)
        before = reference()
        times = time_calls(lambda: step(params, x, q), warmup=1, min_reps=min_reps)
        after = reference()
        rows.append({"system": kind, "memory_size": model.memory_size(),
                     "meta_params": sum(t.numel() for g in params.values() for t in g.values()),
                     "step_median_s": statistics.median(times), "step_min_s": min(times), "reps": len(times),
                     "steps_per_s": 1 / statistics.median(times), "reference_flops_per_s": [before, after]})
        log(f"  {rows[-1]['step_median_s']:.3f} s/step")
    base = rows[0]["step_median_s"]
    for r in rows:
        r["relative_cost_vs_ebmm"] = r["step_median_s"] / base
    return rows


def bench_latency(models: dict[str, Any], n: int, min_reps: int) -> list[dict[str, Any]]:
    gen = torch.Generator().manual_seed(1)
    x, q = sample_episodes(1, n, 128, DISTORTION, generator=gen)
    patterns, queries = x[0].numpy(), q[0].numpy()
    memories = {kind: AssociativeMemory(model, name=kind) for kind, model in models.items()}
    memories.update({name: load(name) for name in hopfield_names()})
    rows = []
    for name, memory in memories.items():
        write = time_calls(lambda: memory.write(patterns), warmup=1, min_reps=min_reps)
        state = memory.write(patterns)
        read = time_calls(lambda: memory.read(queries, state), warmup=1, min_reps=min_reps)
        rows.append({"system": name, "memory_size": memory.memory_size(), "patterns": n,
                     "write_median_ms": 1e3 * statistics.median(write), "read_median_ms": 1e3 * statistics.median(read),
                     "reps": len(write)})
        log(f"latency {name}: write {rows[-1]['write_median_ms']:.1f} ms, read {rows[-1]['read_median_ms']:.1f} ms")
    return rows


def render(r: dict[str, Any]) -> str:
    m = r["machine"]
    lines = [
        "# Table 1 systems: meta-training speed and latency (CPU)", "",
        f"Machine: {m['cpu_model']}, {m['threads']} thread(s), torch {m['torch']}; dense matmul (n = 1024) "
        f"{r['reference_start']['flops_per_s'] / 1e9:.1f} GFLOP/s at the start, {r['reference_end']['flops_per_s'] / 1e9:.1f} at the end.",
        "", f"Meta-step: {r['episodes']} episodes × N = {r['patterns']}, {DISTORTION}.", "",
        "| system | memory floats | meta-parameters | s / meta-step | meta-steps / s | cost vs EBMM |", "|---|---|---|---|---|---|",
    ]
    for s in r["steps"]:
        lines.append(f"| {s['system']} | {s['memory_size']} | {s['meta_params']} | {s['step_median_s']:.3f} | "
                     f"{s['steps_per_s']:.2f} | {s['relative_cost_vs_ebmm']:.2f}× |")
    lines += ["", f"Write and read latency, one episode of N = {r['latency_patterns']} patterns (public API, numpy in and out):", "",
              "| system | write (ms) | read (ms) |", "|---|---|---|"]
    for s in r["latency"]:
        lines.append(f"| {s['system']} | {s['write_median_ms']:.1f} | {s['read_median_ms']:.1f} |")
    lines += ["", f"Made by: `{r['command']}`"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    gen = torch.Generator().manual_seed(0)
    episodes, patterns = (4 if args.quick else 16), 96

    def reference() -> float:
        return dense_matmul(1024, 5, gen, "burst")["flops_per_s"]

    models = learned_models(patterns)
    result: dict[str, Any] = {"command": "python benchmarks/bench_baselines.py" + (" --quick" if args.quick else ""),
                              "machine": machine_info(args.threads), "episodes": episodes, "patterns": patterns,
                              "latency_patterns": 64, "reference_start": dense_matmul(1024, 10, gen, "start")}
    result["steps"] = bench_steps(models, episodes, patterns, reference, 2 if args.quick else 3)
    result["latency"] = bench_latency(learned_models(64), 64, 3 if args.quick else 7)
    result["reference_end"] = dense_matmul(1024, 10, gen, "end")
    stem = "baselines_quick" if args.quick else "baselines"
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{stem}.json").write_text(json.dumps(result, indent=2))
    (args.out / f"{stem}.md").write_text(render(result) + "\n")
    print(render(result))
    return result


if __name__ == "__main__":
    main()
