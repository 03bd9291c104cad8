"""Quality against compute: candidate EBMM recipes meta-trained for the same CPU budget, side by side.

Each recipe is trained by the library's trainer (``ebmm.meta.trainer.train`` with
``cpu_budget_s``), one after the other in one process on the same episodes, and evaluated on the
same held-out episodes at N = 32 and N = 96 under erase:64 along the way (learning curves against
meta-steps and CPU-seconds) and, at the end, on a larger held-out set. Writes
``quality_vs_compute.json`` (curves, final errors, the command), ``.md`` (the table) and ``.png``
(the curves) to ``benchmarks/results/``.

    python benchmarks/quality_vs_compute.py [--budget 300] [--recipes logcosh-batch,slots-batch,slots-sequential]

Recipes (all at 8256 writable floats, trained over N in [16, 96], erase:64):

- ``logcosh-batch``: the log-cosh energy and batch write (T = 5) of the ``fast`` preset — the
  recipe of the memory shipped before the slot energy;
- ``slots-batch``: the slot energy written as in the paper's eq. 4 (every pattern in one step);
- ``slots-sequential``: the slot energy written one pattern per step (the ``slots`` preset).

Learning rates are constant after the warm-up (a cosine schedule needs a step count, which a
CPU budget does not give); everything else is the recipe's own preset.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from harness import git_info, log, machine_info  # noqa: E402

from ebmm.models.ebmm import EBMM  # noqa: E402
from ebmm.meta.trainer import METRICS_NAME, evaluate_params, train  # noqa: E402
from ebmm.presets import PRESETS  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
SIZES = (32, 96)


def recipes() -> dict[str, tuple[Any, Any]]:
    """Name -> (MemoryConfig, TrainConfig) of every candidate."""
    slots_m, slots_t = PRESETS["slots"]
    batch_m = dataclasses.replace(slots_m, write=dataclasses.replace(slots_m.write, chunk=0))
    return {
        "logcosh-batch": PRESETS["fast"],
        "slots-batch": (batch_m, slots_t),
        "slots-sequential": (slots_m, slots_t),
    }


def run_recipe(name: str, mcfg, tcfg, budget: float, eval_every: int, eval_episodes: int, final_episodes: int,
               seed: int, workdir: Path) -> dict[str, Any]:
    tcfg = dataclasses.replace(
        tcfg, steps=10**9, cpu_budget_s=budget, lr_schedule="constant", eval_every=eval_every, eval_patterns=SIZES,
        eval_episodes=eval_episodes, checkpoint_every=0, compile=False, seed=seed,
    )
    result = train(mcfg, tcfg, workdir / name, progress=False)
    curve = []
    for line in (workdir / name / METRICS_NAME).read_text().splitlines():
        rec = json.loads(line)
        if "eval_by_patterns" in rec:
            curve.append({"step": rec["step"], "train_cpu_s": rec["train_cpu_s"],
                          **{f"n{n}": rec["eval_by_patterns"][str(n)] for n in SIZES}})
    model = EBMM.from_config(mcfg)
    final = {f"n{n}": evaluate_params(model, result.params, n, "erase:64", final_episodes, 20_000 + seed) for n in SIZES}
    return {"name": name, "steps": result.step, "train_cpu_s": result.train_cpu_s, "skipped": result.skipped,
            "steps_per_cpu_s": result.step / max(result.train_cpu_s, 1e-9), "curve": curve, "final": final,
            "untrained": {k: curve[0][k] for k in final}}


def render(r: dict[str, Any]) -> str:
    s = r["settings"]
    lines = [
        f"# Quality against compute ({s['budget_s']:.0f} CPU-seconds per recipe, {s['threads']} thread)",
        "",
        f"`{r['command']}` — {r['date']}, git {r['git'].get('commit', '?')[:10]}.",
        "",
        "Held-out error bits under erase:64 (final: "
        f"{s['final_episodes']} episodes per N, i.e. {s['final_episodes'] * SIZES[0]} and {s['final_episodes'] * SIZES[1]} patterns).",
        "",
        "| recipe | meta-steps | steps per CPU-s | untrained N=32 | untrained N=96 | final N=32 | final N=96 |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in r["recipes"]:
        u, f = row["untrained"], row["final"]
        lines.append(f"| {row['name']} | {row['steps']} | {row['steps_per_cpu_s']:.2f} | {u['n32']:.2f} | {u['n96']:.2f} "
                     f"| {f['n32']:.3f} | {f['n96']:.3f} |")
    lines += ["", "Untrained: the step-0 evaluation on the smaller held-out set used for the curves "
              f"({s['eval_episodes']} episodes per N). Curves: `quality_vs_compute.png`.", ""]
    return "\n".join(lines)


def plot(r: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(SIZES), figsize=(5 * len(SIZES), 3.8), sharey=True)
    for ax, n in zip(axes, SIZES):
        for row in r["recipes"]:
            xs = [p["train_cpu_s"] for p in row["curve"]]
            ys = [max(p[f"n{n}"], 1e-3) for p in row["curve"]]
            ax.plot(xs, ys, marker="o", ms=3, label=row["name"])
        ax.set_yscale("log")
        ax.set_xlabel("CPU-seconds of meta-training")
        ax.set_title(f"N = {n}, erase:64")
        ax.grid(True, which="both", alpha=0.3)
    axes[0].set_ylabel("held-out error bits")
    axes[0].legend()
    fig.suptitle(r["command"], fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=130)
    plt.close(fig)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--budget", type=float, default=300.0, help="CPU-seconds of meta-steps per recipe")
    p.add_argument("--recipes", default=",".join(recipes()), help="comma-separated recipe names")
    p.add_argument("--eval-every", type=int, default=50, help="meta-steps between held-out evaluations")
    p.add_argument("--eval-episodes", type=int, default=16, help="held-out episodes per N along the curve")
    p.add_argument("--final-episodes", type=int, default=128, help="held-out episodes per N at the end")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results")
    args = p.parse_args(argv)
    known = recipes()
    names = [n for n in args.recipes.split(",") if n]
    if not names or any(n not in known for n in names):
        p.error(f"--recipes: choose from {sorted(known)}")
    torch.set_num_threads(args.threads)
    result: dict[str, Any] = {
        "command": " ".join(["python", "benchmarks/quality_vs_compute.py", *(argv if argv is not None else sys.argv[1:])]),
        "date": time.strftime("%Y-%m-%d %H:%M"), "git": git_info(), "machine": machine_info(args.threads),
        "settings": {"budget_s": args.budget, "threads": args.threads, "seed": args.seed, "eval_every": args.eval_every,
                     "eval_episodes": args.eval_episodes, "final_episodes": args.final_episodes, "sizes": list(SIZES)},
        "recipes": [],
    }
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            log(f"{name}: {args.budget:.0f} CPU-s ...")
            mcfg, tcfg = known[name]
            row = run_recipe(name, mcfg, tcfg, args.budget, args.eval_every, args.eval_episodes, args.final_episodes,
                             args.seed, Path(tmp))
            result["recipes"].append(row)
            log(f"  {row['steps']} steps, final {row['final']}")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "quality_vs_compute.json").write_text(json.dumps(result, indent=2) + "\n")
    md = render(result)
    (args.out / "quality_vs_compute.md").write_text(md)
    plot(result, args.out / "quality_vs_compute.png")
    print(md)
    return result


if __name__ == "__main__":
    main()
