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


#: the square fills every read option's benchmark scores held out by default: the training mixture's four, the
#: mixture itself, and ``grey`` (a flat fill of random value, in no training mixture)
SQUARE_FILLS = ("noise:16", "binary:16", "zeros:16", "ones:16", "mix:16", "grey:16")


def add_held_out(ap: argparse.ArgumentParser) -> None:
    """``--held-out``: the held-out square fills, comma-separated (default :data:`SQUARE_FILLS`)."""
    ap.add_argument("--held-out", default=",".join(SQUARE_FILLS), help="the held-out square fills")


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


def select_option(memory: AssociativeMemory, option: str, values: list[float], select: list[str], task: ImageTask,
                  patterns: int, images: int, apply=None) -> tuple[dict[float, list[float]], dict[float, float], float]:
    """Choose the read option ``option`` among ``values`` on training-split images: the value with
    the lowest mean over ``select`` (square fills of the task, or :data:`SHAPES`) of the error
    relative to the first value's, each corruption weighed alike whatever its size. ``apply(value)``
    gives the read options a value sets (None: ``{option: value}``; an option that moves others
    with it, such as ``recheck`` with ``candidates``). Returns the errors ``{value: [error per
    corruption]}``, the relative means and the chosen value."""
    apply = apply or (lambda v: {option: v})
    x_train = task.sample(max(1, images // patterns), patterns, split="train", generator=torch.Generator().manual_seed(4))[0]
    grid = {}
    for v in values:
        read = memory.with_read_options(**apply(v))
        errs = []
        for kind in select:
            if kind in SHAPES:
                errs.append(other_shapes(read, x_train, 5, (kind,))[kind][1])
            else:
                errs.append(train_error(read, task, patterns, kind, images))
        grid[v] = errs
        print(f"train {option}={v}: " + ", ".join(f"{k} {e:.2f}" for k, e in zip(select, errs)), flush=True)
    ref = grid[values[0]]
    relative = {v: sum(e / r for e, r in zip(errs, ref)) / len(errs) for v, errs in grid.items()}
    return grid, relative, min(relative, key=relative.get)


def option_main(doc: str, option: str, off: float, values: tuple[float, ...], what: str, stem: str, title: str, base_label: str,
                apply=None, values_flag: str = "--values") -> None:
    """The command line of a one-option benchmark (``trust_margin.py``, ``box_fill.py``,
    ``recheck_width.py``): the memory and sizes (:func:`add_arguments`), the values tried
    (``values_flag``, default ``values``, the first the reference), what they are chosen on
    (``--select``: ``mix:16`` and 10 % scattered noise) and the held-out fills, then
    :func:`option_report`. ``what`` names the option in the help."""
    ap = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    add_arguments(ap, select_images=256)
    ap.add_argument(values_flag, dest="values", default=",".join(map(str, values)), help=f"the {what}s tried, the first the reference")
    ap.add_argument("--select", default="mix:16,scattered noise 10 %", help=f"what the {what} is chosen on (training split), comma-separated")
    add_held_out(ap)
    option_report(ap.parse_args(), option, off, stem, title, base_label, apply)


def option_report(args: argparse.Namespace, option: str, off: float, stem: str, title: str, base_label: str, apply=None) -> None:
    """The whole of a read option's benchmark (``trust_margin.py``, ``box_fill.py``): load ``--memory``,
    choose ``option`` among ``--values`` on the training split (:func:`select_option`, over ``--select``),
    score ``option=off`` and the chosen value side by side on held-out square fills (``--held-out``) and
    every :data:`SHAPES` corruption, and write ``{stem}_NAME.json`` / ``.md`` under ``--out``. ``apply``
    as in :func:`select_option`."""
    import sys
    import time

    from harness import git_info, write_results
    from ebmm.tasks.episodes import task_from_config

    t0 = time.time()
    memory, name = load(args)
    task = task_from_config("images", 1024, "noise:16", "omniglot")
    values = [float(v) for v in args.values.split(",")]
    select = args.select.split(",")
    apply = apply or (lambda v: {option: v})
    grid, relative, chosen = select_option(memory, option, values, select, task, 64, args.select_images, apply)
    base, best = memory.with_read_options(**apply(off)), memory.with_read_options(**apply(chosen))
    held = held_out(base, best, task, 64, [f for f in args.held_out.split(",") if f], args.images)
    shapes = shapes_side_by_side(base, best, task, 64, args.images)
    table = [f"Selection (training split, {args.select_images} images per column; mean Hamming error per image):", "",
             f"| {option} | " + " | ".join(select) + " | mean relative to the first |", "|---|" + "---|" * (len(select) + 1)]
    table += [f"| {v:g} | " + " | ".join(f"{e:.2f}" for e in errs) + f" | {relative[v]:.3f} |" for v, errs in grid.items()]
    table += ["", f"Chosen: {option} = {chosen:g}. Held out ({args.images} images per row, the same for both; no mask: the memory "
              "finds the corruption):", "", f"| corruption | query | {base_label} | chosen |", "|---|---|---|---|"]
    table += side_by_side_rows(held, shapes, marked=tuple(select))
    key = base_label.replace(" ", "_")
    record = {"command": " ".join(sys.argv), "git": git_info(), "memory": args.memory, "read": args.read, "select": select,
              "selection": [{option: v, "errors": dict(zip(select, errs)), "relative": relative[v]} for v, errs in grid.items()], "chosen": chosen,
              "held_out": {f: {key: a, "chosen": b} for f, (a, b) in held.items()},
              "other_shapes": {k: {"query": v[0], key: v[1], "chosen": v[2]} for k, v in shapes.items()},
              "seconds": time.time() - t0}
    write_results(args.out, f"{stem}_{name}", record, title.format(memory=args.memory), table)
    print("\n".join(table))
