"""What ``occluder_region.py`` and ``choice_search.py`` share: both choose read options of an
image slot memory on the training split and score the choice on held-out images beside the
memory as it was. Imported as ``read_selection`` (like ``harness``)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

import ebmm
from ebmm.evaluation.images import evaluate_images
from ebmm.memory import AssociativeMemory
from ebmm.tasks import ImageTask


def add_arguments(ap: argparse.ArgumentParser, select_images: int) -> None:
    """The memory, its read options, the selection's and the held-out scoring's sizes, and
    where the results go."""
    ap.add_argument("--memory", default="omniglot-slots")
    ap.add_argument("--read", action="append", default=[], metavar="KEY=VALUE", help="read options of the memory as scored, VALUE as JSON (a number, a list, null); repeatable")
    ap.add_argument("--select-fill", default="mix", help="the fill the memory was trained on (selection, training split)")
    ap.add_argument("--select-images", type=int, default=select_images)
    ap.add_argument("--images", type=int, default=512, help="held-out images per fill")
    ap.add_argument("--name", default="", help="the name in the output files (default: the memory's)")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "results")


def load(args: argparse.Namespace) -> tuple[AssociativeMemory, str]:
    """The memory of ``--memory`` read with ``--read``'s options (threads set), and the name of
    the output files."""
    torch.set_num_threads(args.threads)
    memory = ebmm.load(args.memory)
    if args.read:
        memory = memory.with_read_options(**{k: json.loads(v) for k, v in (o.split("=", 1) for o in args.read)})
    return memory, args.name or (Path(args.memory).stem if "/" in args.memory else args.memory)


def train_error(memory: AssociativeMemory, task: ImageTask, patterns: int, fill: str, images: int) -> float:
    """Mean error per image of ``memory`` under ``fill`` on ``images`` training-split images (sets of
    ``patterns``): what every selection here chooses on."""
    return evaluate_images(memory, task, patterns, fill, min_patterns=images, min_batches=1, split="train").mean


def side_by_side_rows(held: dict[str, tuple[float, float]], shapes: dict[str, tuple[float, float, float]],
                      marked: tuple[str, ...] = (), mark: str = " (selected on)") -> list[str]:
    """Markdown rows ``| corruption | query | base | chosen |`` of :func:`held_out` (square fills,
    no query column) and :func:`shapes_side_by_side`; corruptions in ``marked`` get ``mark``."""
    rows = [f"| {f} square | | {a:.2f} | {b:.2f} |" for f, (a, b) in held.items()]
    return rows + [f"| {k}{mark if k in marked else ''} | {v[0]:.1f} | {v[1]:.2f} | {v[2]:.2f} |" for k, v in shapes.items()]


def held_out(base: AssociativeMemory | None, chosen: AssociativeMemory, task: ImageTask, patterns: int, fills: list[str],
             images: int) -> dict[str, tuple[float, float]]:
    """Mean held-out error per image of ``base`` and ``chosen`` under each fill, the same
    images and squares for both; ``base=None`` scores ``chosen`` alone (NaN in its place)."""
    scores = {}
    for fill in fills:
        scores[fill] = tuple(float("nan") if m is None else evaluate_images(m, task, patterns, fill, min_patterns=images, min_batches=1).mean
                             for m in (base, chosen))
        print(f"held out {fill}: {scores[fill][0]:.2f} -> {scores[fill][1]:.2f}", flush=True)
    return scores


#: corruptions that are not one square, for :func:`other_shapes`
SHAPES = ("rows of noise", "rows of zeros", "disc of noise", "disc of ones", "scattered noise 10 %", "scattered noise 25 %",
          "5 % flipped")


def _corrupt(x: torch.Tensor, kind: str, g: torch.Generator) -> torch.Tensor:
    """``x`` (..., H, W) with ``kind`` applied to every image (positions drawn from ``g``)."""
    q = x.clone()
    lead, (h, w) = x.shape[:2], x.shape[-2:]
    if kind.startswith("rows of"):  # 8 consecutive full rows per image
        start = torch.randint(0, h - 8, lead, generator=g)
        rows = torch.arange(h)
        m = ((rows >= start[..., None]) & (rows < start[..., None] + 8))[:, :, None, :, None].expand(x.shape)
    elif kind.startswith("disc of"):  # a disc of radius 9 (≈ 254 pixels, about one 16×16 square), centred inside the image
        cy, cx = (torch.randint(9, s - 9, lead, generator=g).float() for s in (h, w))
        yy, xx = torch.meshgrid(torch.arange(h).float(), torch.arange(w).float(), indexing="ij")
        m = ((yy - cy[..., None, None]) ** 2 + (xx - cx[..., None, None]) ** 2 <= 81)[:, :, None].expand(x.shape)
    elif kind.startswith("scattered"):  # pixels replaced by noise independently: no region at all
        m = torch.rand(x.shape, generator=g) < float(kind.split()[-2]) / 100
    elif kind == "5 % flipped":
        m = torch.rand(x.shape, generator=g) < 0.05
        q[m] = 1 - q[m]
        return q
    else:
        raise ValueError(f"unknown corruption {kind!r}")
    fill = kind.split()[-1] if not kind.startswith("scattered") else "noise"
    q[m] = torch.rand(int(m.sum()), generator=g) if fill == "noise" else float(fill == "ones")
    return q


def other_shapes(memory: AssociativeMemory, x: torch.Tensor, seed: int, kinds=SHAPES) -> dict[str, tuple[float, float]]:
    """Mean Hamming error per image (query, read) of ``memory`` under corruptions that are not
    one square, ``x`` (episodes, N, 1, H, W) binarised images stored and then read from the
    corrupted copies (no mask given: the memory finds the corruption). The same ``seed`` gives
    the same corruptions to every memory."""
    g = torch.Generator().manual_seed(seed)
    err = lambda y: ((y > 0.5) != (x > 0.5)).flatten(2).sum(-1).float().mean().item()  # noqa: E731
    state = memory.write(x)  # the same stored images for every corruption
    out = {}
    for kind in kinds:
        q = _corrupt(x, kind, g)
        out[kind] = (err(q), err(torch.as_tensor(memory.read(q, state))))
        print(f"{kind}: query {out[kind][0]:.1f} -> {out[kind][1]:.2f}", flush=True)
    return out


#: the seed of :func:`other_shapes`' corruptions in every comparison here (the same for every memory)
SHAPES_SEED = 11


def held_out_images(task: ImageTask, patterns: int, images: int) -> torch.Tensor:
    """The held-out images every comparison here stores: ``max(1, images // patterns)`` sets of
    ``patterns`` from the task's eval split, always the same draw, ``(sets, patterns, C, H, W)``."""
    return task.sample(max(1, images // patterns), patterns, split="eval", generator=torch.Generator().manual_seed(3))[0]


def shapes_side_by_side(base: AssociativeMemory, chosen: AssociativeMemory, task: ImageTask, patterns: int, images: int,
                        kinds=SHAPES) -> dict[str, tuple[float, float, float]]:
    """Mean Hamming error per image (query, ``base``, ``chosen``) under each corruption of
    ``kinds`` (:func:`other_shapes`), on the same :func:`held_out_images` and the same
    corruptions for both memories."""
    x = held_out_images(task, patterns, images)
    a, b = other_shapes(base, x, SHAPES_SEED, kinds), other_shapes(chosen, x, SHAPES_SEED, kinds)
    return {k: (a[k][0], a[k][1], b[k][1]) for k in kinds}
