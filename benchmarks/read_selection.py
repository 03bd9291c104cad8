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
from ebmm.learned_memory import LearnedMemory
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


def load(args: argparse.Namespace) -> tuple[LearnedMemory, str]:
    """The memory of ``--memory`` read with ``--read``'s options (threads set), and the name of
    the output files."""
    torch.set_num_threads(args.threads)
    memory = ebmm.load(args.memory)
    if args.read:
        memory = memory.with_read_options(**{k: json.loads(v) for k, v in (o.split("=", 1) for o in args.read)})
    return memory, args.name or (Path(args.memory).stem if "/" in args.memory else args.memory)


def held_out(base: LearnedMemory | None, chosen: LearnedMemory, task: ImageTask, patterns: int, fills: list[str],
             images: int) -> dict[str, tuple[float, float]]:
    """Mean held-out error per image of ``base`` and ``chosen`` under each fill, the same
    images and squares for both; ``base=None`` scores ``chosen`` alone (NaN in its place)."""
    scores = {}
    for fill in fills:
        scores[fill] = tuple(float("nan") if m is None else evaluate_images(m, task, patterns, fill, min_patterns=images, min_batches=1).mean
                             for m in (base, chosen))
        print(f"held out {fill}: {scores[fill][0]:.2f} -> {scores[fill][1]:.2f}", flush=True)
    return scores
