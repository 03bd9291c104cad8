"""Meta-step time on the GPU against the CPU, side by side in one run (``benchmarks/gpu_check.sh``).

    python benchmarks/device_speed.py [--cpu-steps 2] [--gpu-steps 10] [--out benchmarks/results]

For each case — the binary presets ``fast``, ``paper``, ``slots`` and ``compressive`` (the
chunk-parallel one-step write), the image presets ``fast`` and ``paper`` (ResNet-conv energy)
and the image ``slots`` preset — one meta-step exactly as the
trainer runs it (:class:`ebmm.meta.trainer.MetaStep`: write, read, back-propagate through both,
the preset's episodes and N) is timed on the CPU and on CUDA (synchronised) after one warm-up
step, on the same episodes. Images are random binary 1×32×32 images (the time of a step does not
depend on the pixel values, and the GPU machine may not hold the Omniglot copy). Writes
``device_speed.json`` and ``device_speed.md``; without CUDA it times the CPU only and says so.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path

import torch

from ebmm.models.ebmm import EBMM
from ebmm.meta.trainer import MetaStep
from ebmm.presets import PRESETS, image_preset
from ebmm.tasks import Distortion, parse_corruption, random_patterns

CASES = [  # (name, task, preset, image energy)
    ("binary fast", "binary", "fast", None),
    ("binary paper", "binary", "paper", None),
    ("binary slots", "binary", "slots", None),
    ("binary compressive", "binary", "compressive", None),  # the one-step, chunk-parallel write (issue 23, item 4)
    ("images fast (B.3)", "images", "fast", "resnet_conv"),
    ("images paper (B.3)", "images", "paper", "resnet_conv"),
    ("images slots", "images", "slots", "image_slots"),
]


def episodes(task: str, tcfg, dim: int, gen: torch.Generator):
    b, n = tcfg.episodes, tcfg.patterns
    if task == "binary":
        x = random_patterns((b, n, dim), generator=gen)
        return x, Distortion.parse(tcfg.distortion).apply(x, generator=gen)
    x = (torch.rand(b, n, 1, 32, 32, generator=gen) > 0.9).float()
    return x, parse_corruption(tcfg.distortion).apply(x, generator=gen)


def build(task: str, preset: str, energy: str | None):
    if task == "binary":
        mcfg, tcfg = PRESETS[preset]
    else:
        mcfg, tcfg = image_preset(preset, energy, "omniglot", (1, 32, 32), 9232)
    return EBMM.from_config(mcfg), tcfg


def time_step(arch, tcfg, task, device: torch.device, steps: int) -> float:
    gen = torch.Generator().manual_seed(0)
    x, q = episodes(task, tcfg, arch.dim, gen)
    params = {g: {k: v.to(device) for k, v in d.items()} for g, d in arch.init_params(seed=0).items()}
    x, q = x.to(device), q.to(device)
    step = MetaStep(arch, compile=False)
    times = []
    for i in range(steps + 1):  # the first is a warm-up
        if device.type == "cuda":
            torch.cuda.synchronize()
        t = time.perf_counter()
        grads, loss, _ = step(params, x, q)
        float(loss)
        if device.type == "cuda":
            torch.cuda.synchronize()
        if i:
            times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cpu-steps", type=int, default=2)
    ap.add_argument("--gpu-steps", type=int, default=10)
    ap.add_argument("--cases", default="", help="comma-separated case names (default: all)")
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results")
    args = ap.parse_args()
    cuda = torch.cuda.is_available()
    chosen = [c for c in CASES if not args.cases or c[0] in args.cases.split(",")]
    rows = []
    for name, task, preset, energy in chosen:
        arch, tcfg = build(task, preset, energy)
        cpu_s = time_step(arch, tcfg, task, torch.device("cpu"), args.cpu_steps)
        gpu_s = time_step(arch, tcfg, task, torch.device("cuda"), args.gpu_steps) if cuda else None
        row = {"case": name, "episodes": tcfg.episodes, "patterns": tcfg.patterns, "cpu_s": cpu_s, "cuda_s": gpu_s,
               "speedup": cpu_s / gpu_s if gpu_s else None}
        print(json.dumps(row), flush=True)
        rows.append(row)
    record = {"machine": {"cpu": platform.processor() or platform.machine(), "threads": torch.get_num_threads(),
                          "gpu": torch.cuda.get_device_name(0) if cuda else None, "torch": torch.__version__},
              "rows": rows}
    lines = [f"Meta-step time, CPU ({torch.get_num_threads()} threads) and "
             f"{record['machine']['gpu'] or 'no GPU (CPU only)'}, measured side by side in one run.", "",
             "| case | episodes × N | CPU s/step | CUDA s/step | speed-up |", "|---|---|---|---|---|"]
    for r in rows:
        gpu = f"{r['cuda_s']:.4f}" if r["cuda_s"] else "—"
        up = f"{r['speedup']:.1f}×" if r["speedup"] else "—"
        lines.append(f"| {r['case']} | {r['episodes']} × {r['patterns']} | {r['cpu_s']:.3f} | {gpu} | {up} |")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "device_speed.json").write_text(json.dumps(record, indent=2))
    (args.out / "device_speed.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
