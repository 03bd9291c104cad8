"""Side-by-side: the paper's gated-RNN energy vs our log-cosh energy at the same writable budget.

Both are meta-trained with the same recipe (the ``fast`` preset's read/write/optimiser settings)
on the same episodes for the same wall-clock budget, one after the other in one process, and
evaluated on the same held-out episodes. Writes JSON + markdown to ``benchmarks/results/``.

    python benchmarks/compare_energies.py [--minutes 4] [--patterns 32] [--hidden 256]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path

import torch

from ebmm.config import EnergyConfig
from ebmm.models.ebmm import EBMM
from ebmm.meta.step import Batch, TrainStep, init_state
from ebmm.meta.trainer import episode_generator, evaluate_params
from ebmm.presets import PRESETS
from ebmm.tasks import sample_episodes


def train_for(model: EBMM, tcfg, seconds: float) -> tuple[dict, int, float]:
    """Meta-train for a wall-clock budget with the trainer's own pure step (no I/O)."""
    state = init_state(model.init_params(seed=tcfg.seed))
    step_fn = TrainStep(model, tcfg)
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        x, q = sample_episodes(tcfg.episodes, tcfg.patterns, model.dim, tcfg.distortion,
                               generator=episode_generator(tcfg.seed, state.step))
        state, _ = step_fn(state, Batch(x, q))
    return state.params, state.step, (time.perf_counter() - start) / max(state.step, 1)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=4.0, help="wall-clock training budget per energy")
    ap.add_argument("--patterns", type=int, default=32)
    ap.add_argument("--hidden", type=int, default=256, help="gated-RNN hidden size (paper: 1024)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    mcfg, tcfg = PRESETS["fast"]
    tcfg = dataclasses.replace(tcfg, patterns=args.patterns, min_patterns=None, episodes=8, steps=10**9,
                               lr_schedule="constant", warmup_steps=0)
    energies = {
        f"gated_rnn (paper, hidden {args.hidden}, 5 hops)": EnergyConfig("gated_rnn", 128, {"hidden": args.hidden, "memory_units": 63, "hops": 5}),
        "logcosh (ours, 64 units)": mcfg.energy,
    }
    rows = {}
    for name, ecfg in energies.items():
        model = EBMM.from_config(dataclasses.replace(mcfg, energy=ecfg, max_patterns=args.patterns))
        before = evaluate_params(model, model.init_params(seed=0), args.patterns, tcfg.distortion, 64, seed=777)
        params, steps, sec = train_for(model, tcfg, args.minutes * 60)
        after = evaluate_params(model, params, args.patterns, tcfg.distortion, 64, seed=777)
        rows[name] = {"memory_size": model.memory_size(), "seconds_per_step": sec, "steps": steps,
                      "error_bits_untrained": before, "error_bits_trained": after}
        print(name, rows[name], flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    record = {"command": "python benchmarks/compare_energies.py " + " ".join(f"--{k} {v}" for k, v in vars(args).items() if k != "out"),
              "patterns": args.patterns, "distortion": tcfg.distortion, "episodes": tcfg.episodes,
              "minutes_each": args.minutes, "threads": args.threads, "torch": torch.__version__, "results": rows}
    (args.out / "compare_energies.json").write_text(json.dumps(record, indent=2))
    names = list(rows)
    ref = rows[names[0]]["seconds_per_step"]
    lines = ["| energy | writable floats | s / meta-step | speed vs gated RNN | steps in budget | error bits before | after |",
             "|---|---|---|---|---|---|---|"]
    for n, r in rows.items():
        lines.append(f"| {n} | {r['memory_size']} | {r['seconds_per_step']:.3f} | {ref / r['seconds_per_step']:.1f}× | "
                     f"{r['steps']} | {r['error_bits_untrained']:.2f} | {r['error_bits_trained']:.2f} |")
    md = "\n".join(lines) + f"\n\nN = {args.patterns}, {tcfg.distortion}, {args.minutes} min each, {args.threads} thread(s). Made by: `{record['command']}`\n"
    (args.out / "compare_energies.md").write_text(md)
    print(md)


if __name__ == "__main__":
    main()
