"""The image slot energy under the paper's protocol (N = 64, 16×16 noise occlusion, held-out
Omniglot): what limits it, measured. Reproduces the figures of docs/image-memories-before-issue-24.md.

    python benchmarks/image_slot_design.py            # ~5 min on one core; needs the Omniglot copy and the data extra

1. The linear code's limit: Hamming error of the projection of held-out images on the top-c
   principal directions of the training split, inside the occluded square and over the whole
   image, c = 36 / 96 / 144.
2. Captures: the fraction of occluded queries whose most similar slot is not their own, with the
   PCA start of the ``slots`` preset (64 slots, c = 36 and 144): the similarity of the energy
   without and with the query's pixel trust (``trust="binary"``), and matching in pixel space
   against the decoded slots instead (squared, truncated squared, Cauchy distance).
3. Free and clamped errors at N = 64 of the untrained preset (trust and the Gaussian residual
   read), of the same memory with the write it had before, filling from the decoded slot instead,
   and of the preset as it was before the trust, and of the runs in
   ``results/runs/images-{slots,trust}-{2308,9232}`` (the same 1,024 held-out images for every memory).
5. The next lever, measured as a bound: the Hamming error inside the square when the stored
   image's PCA code is known exactly and the rest of the image (the residual) is filled from the
   visible pixels by the Gaussian conditional of the training residuals' covariance, against
   the code alone and against a local (normalised-convolution) fill of the residual.
4. Natural-image patches (needs the ``data`` extra): the squared error of filling the occluded
   square with the mean training patch, and of the untrained memory at N = 16 with the preset's
   read (trust by local roughness, Gaussian residual) and with the plain read.

Writes ``benchmarks/results/image_slot_design.{json,md}``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
from harness import git_info, log

import ebmm
from ebmm.energies.gaussian_fill import read_plan
from ebmm.energies.image_slots import _pieces, pca_encoder
from ebmm.evaluation.report import write_report
from ebmm.models.ebmm import EBMM
from ebmm.presets import image_preset
from ebmm.tasks import occlusion_mask, task_from_config

REPO = Path(__file__).resolve().parent.parent


def pca_limits(task, codes=(36, 96, 144), n=1200) -> dict[str, dict[str, float]]:
    held = task.held_out[:n].flatten(1)
    hidden = occlusion_mask((len(held), 1, 32, 32), 16, generator=torch.Generator().manual_seed(0)).reshape(len(held), -1)
    out = {}
    for c in codes:
        mean, rows = pca_encoder(task.train, c)
        rec = (held - mean) @ rows.T @ rows + mean
        wrong = (rec > 0.5) != (held > 0.5)
        out[str(c)] = {"square": float((wrong & hidden).sum(1).float().mean()), "image": float(wrong.sum(1).float().mean())}
    return out


def captures(task, floats: int, episodes: int = 8) -> dict[str, float]:
    mcfg, _ = image_preset("slots", "image_slots", "omniglot", (1, 32, 32), floats)
    arch = EBMM.from_config(mcfg)
    params = arch.init_from_data(arch.init_params(), task.train)
    x, q = task.sample(episodes, 64, split="eval", generator=torch.Generator().manual_seed(1234))
    slots, static = arch.write(params, x)["memory.weight"], params["static"]
    own = _pieces(static, slots, x.flatten(-3))[2].argmax(-1)  # the slot each stored image maps to
    out = {"code space (the energy's similarity, trust none)": float((_pieces(static, slots, q.flatten(-3))[2].argmax(-1) != own).float().mean())}
    w, start, _ = arch.energy.read_start(static, q)
    out["code space, the read's trust (trust binary)"] = float((_pieces(static, slots, start.flatten(-3), trust=w)[2].argmax(-1) != own).float().mean())
    decoded = static["pixel_mean"] + slots @ static["encoder.weight"] / mcfg.write.rate_init  # m + Aᵀk/ω
    diff = q.flatten(-3).unsqueeze(-2) - decoded.unsqueeze(-3)  # (B, M, S, D)
    for name, dist in [("pixel space, squared", diff.pow(2).sum(-1)), ("pixel space, truncated at 0.25", diff.pow(2).clamp(max=0.25).sum(-1)),
                       ("pixel space, Cauchy 0.05", torch.log1p(diff.pow(2) / 0.05).sum(-1))]:
        out[name] = float((dist.argmin(-1) != own).float().mean())
    held = arch.energy.read_start(static, q)[2].flatten(-3).reshape(-1, 1024)  # the trusted pixels
    decoded = static["pixel_mean"] + static["log_decode_scale"].exp() * slots @ static["encoder.weight"]
    plan = read_plan(static["residual_precision"], decoded.unsqueeze(1).expand(-1, 64, -1, -1).reshape(-1, decoded.shape[-2], 1024),
                     q.flatten(-3).reshape(-1, 1024), held, static["log_residual_weight"].exp())
    out["Gaussian residual read (marginal on the trusted pixels)"] = float((plan.costs.argmin(-1) != own.reshape(-1)).float().mean())
    return out


def stored_apart(task, floats: int, episodes: int = 8, **kwargs) -> float:
    """The fraction of 64 written images whose code no slot holds to within 5 % (a slot shared
    with another image, or split over several)."""
    arch = variant(floats, **kwargs)
    params = arch.init_from_data(arch.init_params(), task.train)
    x, _ = task.sample(episodes, 64, split="eval", generator=torch.Generator().manual_seed(1000))
    slots, st = arch.write(params, x)["memory.weight"], params["static"]
    phi = (x.flatten(-3) - st["pixel_mean"]) @ st["encoder.weight"].T
    dist = (phi.unsqueeze(-2) - st["log_decode_scale"].exp() * slots.unsqueeze(-3)).pow(2).sum(-1).min(-1).values
    return float((dist > 0.05 * phi.pow(2).sum(-1)).float().mean())


def free_and_clamped(task, memory, patterns: int = 64, images: int = 1024) -> dict[str, float]:
    free, clamped = [], []
    for i in range(images // patterns):
        x, q, known = task.sample(1, patterns, split="eval", generator=torch.Generator().manual_seed(1000 + i), known=True)
        state = memory.write(x[0])
        free.append(task.error(torch.from_numpy(memory.read(q[0], state)), x[0]))
        clamped.append(task.error(torch.from_numpy(memory.read(q[0], state, known=known[0])), x[0]))
    return {"free": float(torch.cat(free).mean()), "clamped": float(torch.cat(clamped).mean())}


def variant(floats: int, **kwargs) -> EBMM:
    """The ``slots`` preset's architecture at ``floats`` with some energy arguments changed."""
    import dataclasses

    mcfg, _ = image_preset("slots", "image_slots", "omniglot", (1, 32, 32), floats)
    return EBMM.from_config(dataclasses.replace(mcfg, energy=dataclasses.replace(mcfg.energy, kwargs={**mcfg.energy.kwargs, **kwargs})))


def residual_fill(task, codes=(36, 144), n=200) -> dict[str, dict[str, float]]:
    """Hamming error inside the square with the exact PCA-c code: the code alone, plus a local fill
    of the residual (normalised convolution, Gaussian σ = 3, half strength), plus the Gaussian
    conditional of the residual given the visible pixels (covariance of 8,000 training residuals)."""
    held = task.held_out[:n].flatten(1).double()
    hidden = occlusion_mask((n, 1, 32, 32), 16, generator=torch.Generator().manual_seed(0)).reshape(n, -1)
    train = task.train[:8000].flatten(1).double()
    out = {}
    for c in codes:
        mean, rows = (t.double() for t in pca_encoder(task.train, c))
        recon = lambda z: (z - mean) @ rows.T @ rows + mean  # noqa: E731
        res = train - recon(train)
        cov = res.T @ res / len(res) + 1e-4 * torch.eye(res.shape[1], dtype=torch.float64)
        rh = recon(held)
        visible = (~hidden).double()
        k = torch.arange(19, dtype=torch.float64) - 9
        g = torch.exp(-(k[:, None] ** 2 + k[None] ** 2) / 18.0)[None, None]
        num = torch.nn.functional.conv2d(((held - rh) * visible).reshape(-1, 1, 32, 32), g, padding=9).reshape(n, -1)
        den = torch.nn.functional.conv2d(visible.reshape(-1, 1, 32, 32), g, padding=9).reshape(n, -1)
        local = rh + 0.5 * num / (den + 1e-3)
        cond = rh.clone()
        for i in range(n):
            v, h = ~hidden[i], hidden[i]
            cond[i, h] += cov[h][:, v] @ torch.linalg.solve(cov[v][:, v], (held[i] - rh[i])[v])
        wrong = lambda est: float((((est > 0.5) != (held > 0.5)) & hidden).sum(1).double().mean())  # noqa: E731
        out[str(c)] = {"the code alone": wrong(rh), "plus a local fill of the residual": wrong(local),
                       "plus the Gaussian conditional of the residual": wrong(cond)}
    return out


def natural(episodes: int = 8) -> dict[str, float]:
    """Natural patches, N = 16, ``episodes`` sets of held-out patches: the query, the mean training
    patch in the square, and the untrained preset with its read (trust by roughness + Gaussian
    residual) against the plain read (trust none, fill from the decoded slot) at both sizes; the
    fraction of pixels the roughness trust gets right."""
    import dataclasses

    task = task_from_config("images", 3072, "noise:16", "natural")
    x, q, known = task.sample(episodes, 16, split="eval", generator=torch.Generator().manual_seed(0), known=True)
    out = {"query": float(task.error(q, x).mean()),
           "mean training patch in the square": float(task.error(torch.where(known, x, task.train.mean(0)), x).mean())}
    x5, _, known5 = task.sample(32, 16, split="eval", generator=torch.Generator().manual_seed(0), known=True)
    out["mean training patch in the square, 512 patches"] = float(task.error(torch.where(known5, x5, task.train.mean(0)), x5).mean())
    for floats in (2308, 9232):
        mcfg, _ = image_preset("slots", "image_slots", "natural", (3, 32, 32), floats, patterns=16)
        plain = dataclasses.replace(mcfg, energy=dataclasses.replace(mcfg.energy, kwargs={**mcfg.energy.kwargs, "trust": "none", "residual": "none"}))
        for name, cfg in ((f"untrained preset (roughness trust, Gaussian residual read), {floats} floats", mcfg),
                          (f"untrained, the plain read (trust none, κ 0), {floats} floats", plain)):
            arch = EBMM.from_config(cfg)
            params = arch.init_from_data(arch.init_params(), task.train)
            out[name] = float(task.error(arch.read(params, arch.write(params, x), q, False), x).mean())
    arch = EBMM.from_config(mcfg)  # the trust's two weights do not depend on the data start
    held = arch.energy.read_start(arch.init_params()["static"], q)[2]
    out["pixels the roughness trust classifies right (%)"] = 100 * float((held == known.expand_as(q)).float().mean())
    out["noise values it trusts (%)"] = 100 * float(held[~known.expand_as(q)].float().mean())
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results")
    args = ap.parse_args()
    torch.set_num_threads(1)
    task = task_from_config("images", 1024, "noise:16", "omniglot")
    log("PCA limits")
    limits = pca_limits(task)
    log("captures")
    caps = {str(f): captures(task, f) for f in (2308, 9232)}
    writes = {str(f): {"λ 2.4, θ̄ scale 1e-3 (before)": stored_apart(task, f, write_norm=2.4, init_scale=1e-3),
                       "λ 4, θ̄ scale 1e-2 (the preset)": stored_apart(task, f)} for f in (2308, 9232)}
    log("free and clamped at N = 64")
    memories = {}
    for floats in (2308, 9232):
        variants = [(f"slots preset untrained (trust, Gaussian residual read), {floats}", variant(floats)),
                    (f"the same with the old write (λ 2.4, θ̄ scale 1e-3), {floats}", variant(floats, write_norm=2.4, init_scale=1e-3)),
                    (f"trust, filled from the decoded slot (residual none, κ 0.3), {floats}", variant(floats, residual="none", sharpen=0.3)),
                    (f"the preset before (trust none, κ 0.6, old write), {floats}",
                     variant(floats, trust="none", residual="none", sharpen=0.6, write_norm=2.4, init_scale=1e-3))]
        for name, arch in variants:
            memories[name] = ebmm.AssociativeMemory(arch, arch.init_from_data(arch.init_params(), task.train))
        for kind in ("slots", "trust"):
            run = REPO / "results" / "runs" / f"images-{kind}-{floats}"
            if run.is_dir():
                memories[f"results/runs/images-{kind}-{floats}"] = ebmm.load(run)
    errors = {name: free_and_clamped(task, m) for name, m in memories.items()}
    log("residual fill bound")
    fills = residual_fill(task)
    log("natural patches")
    nat = natural()
    record = {"command": "python benchmarks/image_slot_design.py", "git": git_info(), "pca_limits": limits, "captures": caps,
              "writes": writes, "n64": errors, "residual_fill": fills, "natural_n16": nat}
    lines = ["PCA-c projection of 1,200 held-out Omniglot images (Hamming error, binarised at 0.5):", "",
             "| c | inside the 16×16 square | whole image |", "|---|---|---|"]
    lines += [f"| {c} | {v['square']:.1f} | {v['image']:.1f} |" for c, v in limits.items()]
    lines += ["", "Occluded queries matched to another image's slot (PCA start, 64 images, 8 sets):", "",
              "| matching | 2308 floats (c = 36) | 9232 floats (c = 144) |", "|---|---|---|"]
    lines += [f"| {k} | {caps['2308'][k]:.1%} | {caps['9232'][k]:.1%} |" for k in caps["9232"]]
    lines += ["", "Written images no slot holds to within 5 % (64 images, 8 sets):", "", "| write | 2308 floats | 9232 floats |", "|---|---|---|"]
    lines += [f"| {k} | {writes['2308'][k]:.1%} | {writes['9232'][k]:.1%} |" for k in writes["2308"]]
    lines += ["", "N = 64, 1,024 held-out images (seeds 1000+), Hamming error:", "", "| memory | free | clamped |", "|---|---|---|"]
    lines += [f"| {n} | {e['free']:.1f} | {e['clamped']:.1f} |" for n, e in errors.items()]
    lines += ["", "The next lever, a bound: Hamming error inside the square of 200 held-out images with the exact PCA-c code:", "",
              "| fill | c = 36 | c = 144 |", "|---|---|---|"]
    lines += [f"| {k} | {fills['36'][k]:.1f} | {fills['144'][k]:.1f} |" for k in fills["36"]]
    lines += ["", "Natural-image patches, N = 16, 8 sets of held-out patches (squared error per 3×32×32 patch):", "",
              "| reference or memory | squared error |", "|---|---|"]
    lines += [f"| {k} | {v:.1f} |" for k, v in nat.items()]
    md = "\n".join(lines).rstrip("\n")
    write_report(args.out, record, md, stem="image_slot_design")
    print(md)


if __name__ == "__main__":
    main()
