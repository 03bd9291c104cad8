"""Image meta-training speed on CPU: images/s and achieved FLOP/s of one meta-step of both
convolutional energies (appendix B.2 ResNet-FC, B.3 ResNet-conv), next to the machine's
dense-matmul FLOP/s measured in the same run (bursts right before and after each case).

    python benchmarks/bench_images.py            # ~5 min on a loaded 2-core machine
    python benchmarks/bench_images.py --quick    # ~1 min: fewer images per step

A meta-step is exactly what the trainer runs (:class:`ebmm.meta.trainer.MetaStep`: write T
steps, read K steps, back-propagate through both) on Omniglot-shaped images (1×32×32) of the
shared data when present, else random binary images of that shape (speed does not depend on
the pixel values). FLOPs are counted by ``torch.utils.flop_counter`` on the meta device
(matmul-like ops only: mm, bmm, addmm, convolution and their backward), so achieved FLOP/s is a
lower bound. Results: ``<out>/images.json`` and ``images.md`` (``images_quick.*``).
"""

from __future__ import annotations

import argparse
import json
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from harness import FlatFlopCounter, dense_matmul, log, machine_info, time_calls  # noqa: E402

from ebmm.models.ebmm import EBMM  # noqa: E402
from ebmm.meta.trainer import MetaStep  # noqa: E402
from ebmm.presets import image_preset  # noqa: E402
from ebmm.tasks import Occlusion  # noqa: E402

REPO = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class ImageCase:
    energy: str
    preset: str
    memory_floats: int
    episodes: int
    patterns: int

    @property
    def key(self) -> str:
        return f"{self.energy}-{self.preset}-{self.episodes}x{self.patterns}"


def cases(quick: bool) -> list[ImageCase]:
    n = 8 if quick else 32
    return [
        ImageCase("resnet_fc", "fast", 8224, 1, n),
        ImageCase("resnet_conv", "fast", 9232, 1, n),
        ImageCase("resnet_fc", "paper", 8224, 1, n),
        ImageCase("resnet_conv", "paper", 9232, 1, n),
    ]


def images_for(n: int, gen: torch.Generator) -> torch.Tensor:
    try:
        from ebmm.data import image_splits

        pool = torch.from_numpy(image_splits("omniglot")[0])
        return pool[torch.randperm(len(pool), generator=gen)[:n]]
    except Exception:  # no shared Omniglot: the same shapes, random ink
        return (torch.rand(n, 1, 32, 32, generator=gen) < 0.1).float()


def count_flops(arch: EBMM, params, x: torch.Tensor) -> int:
    meta = {g: {k: v.to("meta") for k, v in d.items()} for g, d in params.items()}
    xm = torch.empty(x.shape, device="meta")
    with FlatFlopCounter() as counter:
        MetaStep(arch, compile=False)(meta, xm, torch.empty_like(xm))
    return int(counter.get_total_flops())


def bench_case(case: ImageCase, reference, min_reps: int) -> dict[str, Any]:
    mcfg, _ = image_preset(case.preset, case.energy, "omniglot", (1, 32, 32), case.memory_floats)
    arch = EBMM.from_config(mcfg)
    params = arch.init_params(seed=0)
    gen = torch.Generator().manual_seed(0)
    x = images_for(case.episodes * case.patterns, gen).reshape(case.episodes, case.patterns, 1, 32, 32)
    q = Occlusion("noise", 16).apply(x, generator=gen)
    flops = count_flops(arch, params, x)
    step = MetaStep(arch, compile=False)
    before = reference(f"before {case.key}")
    times = time_calls(lambda: step(params, x, q), warmup=1, min_reps=min_reps)
    after = reference(f"after {case.key}")
    median = statistics.median(times)
    ref = (before + after) / 2
    return {
        "key": case.key, "energy": case.energy, "preset": case.preset, "energy_kwargs": mcfg.energy.kwargs,
        "memory_size": arch.memory_size(), "episodes": case.episodes, "patterns": case.patterns,
        "read_steps": mcfg.read.steps, "write_steps": mcfg.write.steps,
        "step_median_s": median, "step_min_s": min(times), "reps": len(times),
        "images_per_s": case.episodes * case.patterns / median,
        "flops_per_step": flops, "achieved_flops_per_s": flops / median,
        "reference_flops_per_s": [before, after], "fraction_of_matmul": flops / median / ref,
    }


def render(r: dict[str, Any]) -> str:
    lines = [
        "# Image meta-training speed (CPU)", "",
        f"Machine: {r['machine']['cpu_model']}, {r['machine']['threads']} thread(s), torch {r['machine']['torch']}. "
        f"Dense matmul (n = 1024) in this run: {r['reference_start']['flops_per_s'] / 1e9:.1f} GFLOP/s at the start, "
        f"{r['reference_end']['flops_per_s'] / 1e9:.1f} at the end.", "",
        "| energy | preset | memory floats | images per step | step (s) | images/s | GFLOP per step | achieved GFLOP/s | of matmul |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for c in r["cases"]:
        lines.append(f"| {c['energy']} | {c['preset']} | {c['memory_size']} | {c['episodes'] * c['patterns']} | "
                     f"{c['step_median_s']:.2f} | {c['images_per_s']:.2f} | {c['flops_per_step'] / 1e9:.1f} | "
                     f"{c['achieved_flops_per_s'] / 1e9:.2f} | {c['fraction_of_matmul']:.0%} |")
    lines += ["", "FLOPs count matmul-like ops only (a lower bound); \"of matmul\" divides the achieved FLOP/s by the "
              "mean of the dense-matmul bursts measured right before and after the case.", "",
              f"Made by: `{r['command']}`"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    gen = torch.Generator().manual_seed(0)

    def reference(label: str) -> float:
        return dense_matmul(1024, 5, gen, label)["flops_per_s"]

    result: dict[str, Any] = {"command": "python benchmarks/bench_images.py" + (" --quick" if args.quick else ""),
                              "machine": machine_info(args.threads),
                              "reference_start": dense_matmul(1024, 10, gen, "start")}
    result["cases"] = []
    for case in cases(args.quick):
        log(f"{case.key} ...")
        result["cases"].append(bench_case(case, reference, 2 if args.quick else 3))
        c = result["cases"][-1]
        log(f"  {c['step_median_s']:.2f} s/step, {c['images_per_s']:.2f} images/s, {c['fraction_of_matmul']:.0%} of matmul")
    result["reference_end"] = dense_matmul(1024, 10, gen, "end")
    stem = "images_quick" if args.quick else "images"
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{stem}.json").write_text(json.dumps(result, indent=2))
    (args.out / f"{stem}.md").write_text(render(result) + "\n")
    print(render(result))
    return result


if __name__ == "__main__":
    main()
