"""Where an image memory's meta-step spends its time: ``torch.profiler`` over a few meta-steps of
the ``fast`` B.3 convolutional energy and of the ``slots`` image slot energy (with its Gaussian
residual read) on Omniglot, at 2308 and 9232 floats.

    python benchmarks/profile_image_step.py [--episodes 2] [--steps 2] [--threads 1]   # ~3 min on one core

For each memory: the seconds per meta-step (median of the profiled steps) and the operators
that take most of the CPU time (self time, summed over the forward and backward passes), as a
share of the step. Writes ``benchmarks/results/profile_image_step.{json,md}``. Shares are
comparable within one memory; absolute seconds depend on the machine and its load.
"""

from __future__ import annotations

import argparse
import dataclasses
import time
from pathlib import Path

import torch
from harness import git_info, log, machine_info
from torch.profiler import ProfilerActivity, profile

from ebmm.evaluation.report import write_report
from ebmm.meta.step import Batch, TrainStep, init_state
from ebmm.models.ebmm import EBMM
from ebmm.presets import image_preset
from ebmm.tasks import task_from_config


def profile_memory(preset: str, energy: str, floats: int, task, episodes: int, steps: int, top: int) -> dict:
    mcfg, tcfg = image_preset(preset, energy, "omniglot", (1, 32, 32), floats)
    tcfg = dataclasses.replace(tcfg, episodes=episodes, warmup_steps=0)
    model = EBMM.from_config(mcfg)
    state = init_state(model.init_from_data(model.init_params(), task.train))
    step = TrainStep(model, tcfg)
    gen = torch.Generator().manual_seed(0)

    def batch() -> Batch:
        x, q = task.sample(episodes, tcfg.patterns, generator=gen)
        return Batch(x, q)

    state, _ = step(state, batch())  # warm-up
    seconds = []
    with profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(steps):
            b = batch()
            t0 = time.perf_counter()
            state, _ = step(state, b)
            seconds.append(time.perf_counter() - t0)
    events = sorted(prof.key_averages(), key=lambda e: e.self_cpu_time_total, reverse=True)
    total = sum(e.self_cpu_time_total for e in events)
    ops = [{"op": e.key, "share": e.self_cpu_time_total / total, "calls": e.count} for e in events[:top]]
    return {"preset": preset, "energy": energy, "memory_floats": model.memory_size(), "patterns": tcfg.patterns,
            "episodes": episodes, "seconds_per_step": sorted(seconds)[len(seconds) // 2], "top_ops": ops}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--episodes", type=int, default=2, help="episodes per meta-step")
    ap.add_argument("--steps", type=int, default=2, help="profiled meta-steps per memory")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--top", type=int, default=6)
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    task = task_from_config("images", 1024, "noise:16", "omniglot")
    rows = []
    for preset, energy in (("fast", "resnet_conv"), ("slots", "image_slots")):
        for floats in (2308, 9232):
            log(f"{preset} {energy} {floats}")
            rows.append(profile_memory(preset, energy, floats, task, args.episodes, args.steps, args.top))
    command = "python benchmarks/profile_image_step.py" + (f" --episodes {args.episodes}" if args.episodes != 2 else "")
    record = {"command": command, "git": git_info(), "machine": machine_info(args.threads), "rows": rows}
    lines = [f"Meta-step profile on Omniglot ({args.episodes} episodes per step, {args.threads} thread(s); "
             "self CPU time of the operators, forward and backward):", ""]
    for r in rows:
        lines += [f"**{r['energy']}** (`{r['preset']}` preset), {r['memory_floats']} floats, N = {r['patterns']}: "
                  f"{r['seconds_per_step']:.2f} s per meta-step", "", "| operator | share of the step | calls |", "|---|---|---|"]
        lines += [f"| `{o['op']}` | {o['share']:.0%} | {o['calls']} |" for o in r["top_ops"]]
        lines.append("")
    md = "\n".join(lines).rstrip("\n")
    write_report(args.out, record, md, stem="profile_image_step")
    print(md)


if __name__ == "__main__":
    main()
