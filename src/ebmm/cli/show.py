"""``ebmm demo``, ``ebmm show``, ``ebmm curve`` and ``ebmm list``: figures and listings."""

from __future__ import annotations

from pathlib import Path

import click

from ..errors import EBMMError
from ..registry import hopfield_names
from ..tasks import OCCLUSION_FILLS
from ._app import main, _device_option, _load_memory, _parse_distortion, _parse_patterns, _command_line
from ._training import _missing_package


@main.command()
@click.option("--memory", "memory_name", default="binary-compressive", show_default=True)
@click.option("--patterns", "-N", default="32,96,160,256", show_default=True,
              help="Comma-separated numbers of patterns to store: one column each (the figure shows the first). "
                   "Past 96 most shipped memories hold more patterns than they were trained for.")
@click.option("--distortion", default="erase:64", show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--out", "out_path", type=click.Path(dir_okay=False, path_type=Path), default=Path("ebmm-demo.png"), show_default=True)
@_device_option
def demo(memory_name, patterns, distortion, seed, out_path, device):
    """Store fresh random patterns in the shipped memory at a few N, corrupt and retrieve them,
    compare with the Hopfield rules and the shipped learned baselines of the same dimension, and
    save a PNG of the retrieval trajectory at the first N."""
    import warnings

    import torch

    from ..errors import CapacityWarning
    from ..evaluation.plots import plot_trajectory
    from ..registry import pretrained
    from ..tasks import error_bits, random_patterns

    ns = _parse_patterns(patterns)
    memory = _load_memory(memory_name, device=device)
    dist = _parse_distortion(distortion, memory.dim)
    learned = [n for n in pretrained() if n != memory_name and (n.endswith("-binary-erase") or n in ("binary-erase", "binary-compressive"))]
    others = [(n, _load_memory(n, dim=memory.dim, device=device)) for n in hopfield_names()]
    others += [(n, m) for n in learned if (m := _load_memory(n, device=device)).dim == memory.dim]
    rows: dict[str, list[float]] = {"query (no memory)": []}
    label = f"{memory.name} (EBMM, {memory.memory_size()} floats)"
    rows[label] = []
    for name, other in others:
        rows[f"{name} ({other.memory_size()} floats)"] = []
    gen = torch.Generator().manual_seed(seed)
    for k, n in enumerate(ns):
        x = random_patterns((n, memory.dim), generator=gen)
        q = dist.apply(x, generator=gen)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", CapacityWarning)  # the columns past the trained N are the point
            traj = memory.read(q, memory.write(x), trajectory=True)
            rows["query (no memory)"].append(float(error_bits(q, x).mean()))
            rows[label].append(float(error_bits(torch.from_numpy(traj[-1]), x).mean()))
            extra = {}
            for name, other in others:
                r = other.read(q, other.write(x))
                rows[f"{name} ({other.memory_size()} floats)"].append(float(error_bits(torch.from_numpy(r), x).mean()))
                if name.startswith("hopfield-"):
                    extra[name.replace("hopfield-", "")] = r
        if k == 0:
            plot_trajectory(x.numpy(), traj, out_path, title=f"{memory.name}: N={n}, {dist}",
                            caption=_command_line(), extra_columns=extra)
    click.echo(f"stored {', '.join(map(str, ns))} random {memory.dim}-bit patterns; queries: {dist}; "
               f"mean error bits per pattern\n")
    click.echo("| memory | " + " | ".join(f"N = {n}" for n in ns) + " |\n|---|" + "---|" * len(ns))
    for name, bits in rows.items():
        click.echo(f"| {name} | " + " | ".join(f"{b:.2f}" for b in bits) + " |")
    click.echo(f"\nsaved {out_path} (N = {ns[0]})")


# ------------------------------------------------------------------------------------- show
SHOW_DATASETS = ("binary", "omniglot", "natural", "mnist", "cifar")


@main.command()
@click.option("--memory", "memory_name", default="binary-erase", show_default=True)
@click.option("--dataset", type=click.Choice(SHOW_DATASETS), default="binary", show_default=True)
@click.option("--data", "data_path", type=click.Path(exists=True, path_type=Path), help="Dataset location (Omniglot zip/folder, CIFAR folder).")
@click.option("--patterns", "-N", type=click.IntRange(1), default=16, show_default=True, help="Patterns (images) stored.")
@click.option("--distortion", default="erase:64", show_default=True, help="Binary patterns: KIND:K.")
@click.option("--fill", type=click.Choice([*OCCLUSION_FILLS, "all"]), default="noise", show_default=True,
              help="Images: what fills the 16×16 block (grey: one random value per image; patch: the same square of "
                   "another stored image; invert: the image's own pixels inverted); 'all' draws one figure per fill "
                   "(OUT-FILL.png).")
@click.option("--rows", type=click.IntRange(1), default=6, show_default=True, help="Patterns shown.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--out", "out_path", type=click.Path(dir_okay=False, path_type=Path), default=Path("ebmm-show.png"), show_default=True)
@_device_option
def show(memory_name, dataset, data_path, patterns, distortion, fill, rows, seed, out_path, device):
    """The paper's Figure 2 for any memory and dataset: stored patterns, distorted queries,
    every read iterate and the retrieval, as a PNG (held-out images; random binary patterns)."""
    from ..evaluation.experiments import figure2
    from ..evaluation.plots import plot_trajectory
    from ..tasks import task_from_config

    memory = _load_memory(memory_name, device=device)
    if dataset == "binary":
        if len(memory.event_shape) != 1:
            raise click.BadParameter(f"{memory.name} stores images {memory.event_shape}; choose an image --dataset", param_hint="--dataset")
        figures = [(str(_parse_distortion(distortion, (memory.dim,))), str(_parse_distortion(distortion)), out_path)]
    else:
        fills = list(OCCLUSION_FILLS) if fill == "all" else [fill]
        figures = [(f"{f}:16", f"16×16 block, {f}", out_path if fill != "all" else out_path.with_name(f"{out_path.stem}-{f}{out_path.suffix}"))
                   for f in fills]
    for corruption, what, path in figures:
        try:
            task = task_from_config("binary" if dataset == "binary" else "images", memory.dim, corruption,
                                    "" if dataset == "binary" else dataset, str(data_path) if data_path else "")
            x, traj, score = figure2(memory, task, patterns, seed)
        except EBMMError as e:
            raise click.BadParameter(str(e), param_hint="--data") from None
        except ModuleNotFoundError as e:
            raise _missing_package(dataset, e) from None
        except ValueError as e:
            raise click.BadParameter(str(e), param_hint="--memory") from None
        plot_trajectory(x, traj, path, max_rows=rows, title=f"{memory.name}: {dataset}, N={patterns}, {what} (free protocol)\n{score}",
                        caption=_command_line(unused=("fill",) if dataset == "binary" else ("distortion",)))
        click.echo(f"{what}: {score}\nsaved {path}")


@main.command()
@click.argument("runs", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--out", "out_path", type=click.Path(dir_okay=False, path_type=Path), default=Path("ebmm-curve.png"), show_default=True)
@click.option("--title", default="", help="The figure's title.")
def curve(runs, out_path, title):
    """Held-out error against meta-step of one or more training runs (their metrics.jsonl), the
    untrained memory (step 0) marked: whether meta-training helped, as a figure."""
    from ..evaluation.plots import plot_training_curves, read_eval_curve

    files = {}
    for run in runs:
        path = run / "metrics.jsonl" if run.is_dir() else run
        if not path.is_file():
            raise click.BadParameter(f"{run} is not a run directory with a metrics.jsonl", param_hint="RUNS")
        files[str(run)] = path
    try:
        for label, path in files.items():
            metric, pts = read_eval_curve(path)
            best = min(pts, key=lambda p: p[1])
            click.echo(f"{label}: held-out {metric} {pts[0][1]:.2f} at step {pts[0][0]}, best {best[1]:.2f} at step {best[0]} "
                       f"({100 * (1 - best[1] / pts[0][1]):.0f} % lower), last {pts[-1][1]:.2f} at step {pts[-1][0]}")
        plot_training_curves(files, out_path, title=title, caption=_command_line())
    except ValueError as e:
        raise click.BadParameter(str(e), param_hint="RUNS") from None
    click.echo(f"saved {out_path}")


@main.command("list")
def list_():
    """The shipped pretrained memories, the classical baselines --memory accepts, and the
    learned baselines --model trains."""
    from ..registry import _baselines, pretrained

    try:
        shipped = pretrained()
    except EBMMError as e:
        raise click.ClickException(str(e)) from None
    for name, desc in shipped.items():
        click.echo(f"{name:<28} {desc.get('description', '')}")
    for name in _baselines():
        click.echo(f"{name:<28} classical baseline")
    from ..models import system_kinds

    for kind in sorted(k for k in system_kinds() if k != "ebmm"):
        click.echo(f"{kind:<28} learned baseline: ebmm train binary --model {kind}")
