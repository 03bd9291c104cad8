"""``ebmm eval binary``, ``ebmm eval images`` and ``ebmm capacity``: score memories."""

from __future__ import annotations

import json
from pathlib import Path

import click

from ..errors import EBMMError
from ..registry import hopfield_names
from ._app import main, _set_threads, _device_option, _load_memory, _parse_patterns, _parse_distortion, _command_line, _read_options
from ._training import _missing_package


@main.group("eval")
def eval_():
    """Evaluate memories under the paper's protocols."""


@eval_.command("binary")
@click.option("--memory", "memory_name", default="binary-erase", show_default=True,
              help="Comma-separated shipped names, baseline names or .safetensors paths (one row each).")
@click.option("--patterns", "-N", default="16,32,48,64,96,128,160", show_default=True,
              help="Comma-separated numbers of stored patterns (the paper's five, and two beyond its range).")
@click.option("--distortion", default="erase:64", show_default=True, help="KIND:K, KIND in erase|replace|flip|zero.")
@click.option("--baselines/--no-baselines", default=True, show_default=True, help="Also evaluate the Hopfield rules.")
@click.option("--clamp-known", is_flag=True,
              help="Clamped completion: every memory is told which query entries are intact and keeps them.")
@click.option("--min-patterns", type=click.IntRange(1), default=1000, show_default=True, help="Stored patterns averaged over, per N.")
@click.option("--write-parts", default="1", show_default=True,
              help="Comma-separated numbers of parts each set is written in (write(part, state=state)); each P > 1 adds a "
                   "row per memory that can add to a written state, e.g. 1,4.")
@click.option("--seed", type=int, default=1234, show_default=True)
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), help="Write results.json, table.md and a plot here.")
@click.option("--threads", type=click.IntRange(1))
@_device_option
def eval_binary(memory_name, patterns, distortion, baselines, clamp_known, min_patterns, write_parts, seed, out_dir, threads, device):
    """Error bits (mean [5th, 95th percentile]) at each N: a markdown table, plus JSON."""
    from ..evaluation.capacity import information_limits
    from ..evaluation.experiments import eval_binary as run
    from ..evaluation.plots import plot_error_vs_patterns
    from ..evaluation.report import write_report

    _set_threads(threads)
    ns = _parse_patterns(patterns)
    parts = _parse_patterns(write_parts, "--write-parts")
    if max(parts) > min(ns):
        raise click.BadParameter(f"a set of {min(ns)} patterns cannot be written in {max(parts)} parts", param_hint="--write-parts")
    dist = _parse_distortion(distortion)
    names = [n.strip() for n in memory_name.split(",") if n.strip()]
    if not names:
        raise click.BadParameter("name at least one memory", param_hint="--memory")
    memories = {n: _load_memory(n, device=device) for n in names}
    if baselines:
        dim = memories[names[0]].dim
        memories.update({n: _load_memory(n, dim=dim, device=device) for n in hopfield_names() if n not in memories})
    try:  # checks the distortion against every memory's pattern size first
        record, md, results = run(memories, ns, dist, min_patterns=min_patterns, seed=seed, clamp_known=clamp_known,
                                  command=_command_line(), write_parts=parts,
                                  progress=lambda name, n, st: click.echo(f"  {name:<28} N={n:<4} {st}", err=True))
    except ValueError as e:
        raise click.BadParameter(str(e), param_hint="--distortion") from None
    click.echo(md)
    if out_dir is not None:
        title = f"binary 128-bit, {dist}" + (", clamped" if clamp_known else "")
        floats = memories[names[0]].memory_size()
        limits = {f"{floats} floats, {k}": v for k, v in information_limits(floats, dist, memories[names[0]].dim).items()}
        record["information_limits"] = limits
        draw = lambda path: plot_error_vs_patterns(results, path, title=title, caption=record["command"], limits=limits)  # noqa: E731
        write_report(out_dir, record, md, figure=("error_bits.png", draw))
        click.echo(f"wrote {out_dir}/results.json, table.md, error_bits.png", err=True)
    else:
        click.echo(json.dumps(record))


def _with_read_options(memory, options: dict):
    """``memory`` read with ``options`` (:meth:`~ebmm.memory.AssociativeMemory.with_read_options`);
    a usage error for a memory without read options or an option its energy does not take."""
    try:
        return memory.with_read_options(**options)
    except ValueError as e:
        raise click.BadParameter(str(e), param_hint="--read") from None


@eval_.command("images")
@click.option("--memory", "memory_names", required=True, help="Comma-separated image memories (.safetensors paths or names).")
@click.option("--dataset", "datasets", default="omniglot", show_default=True,
              help="Comma-separated data sets of omniglot, natural, mnist, cifar; e.g. omniglot,mnist for the transfer test.")
@click.option("--data", "data_path", type=click.Path(exists=True, path_type=Path), help="Omniglot or CIFAR-10 location.")
@click.option("--patterns", "-N", type=click.IntRange(1), default=64, show_default=True, help="Images stored per set.")
@click.option("--distortion", default="noise:16", show_default=True,
              help="Comma-separated FILL:SIDE (a square) or FILL:P% (P % of the pixels, scattered), FILL one of noise, binary, "
                   "zeros, ones, mix, grey, patch, invert (or fills joined by '+'), several joined by '|' for a mixture; one row "
                   "per entry, e.g. noise:16,binary:16,zeros:16,ones:16,mix:16,noise:10%,invert:5%.")
@click.option("--clamp-known", is_flag=True,
              help="The clamped protocol: every memory is told which pixels the square hid (default: the free protocol, "
                   "the query alone).")
@click.option("--min-patterns", type=click.IntRange(1), default=1024, show_default=True, help="Images scored per data set and fill.")
@click.option("--seed", type=int, default=1234, show_default=True)
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), help="Write results.json and table.md here.")
@click.option("--read", "read_options", multiple=True, metavar="KEY=VALUE",
              help="A read-time option for every memory (image slots: recheck, outlier_cost, candidates, region, region_share, choice_weights, trust_margin, region_keep, rerank, loo_z, loo_count, box_fill), "
                   "e.g. --read region=3 --read region_share=0.1 --read 'choice_weights=[0, 0, 1, 1, 2, 0, 0, 0]'; repeatable.")
@click.option("--threads", type=click.IntRange(1))
@_device_option
def eval_images(memory_names, datasets, data_path, patterns, distortion, clamp_known, min_patterns, seed, out_dir, read_options, threads,
                device):
    """Score image memories on held-out images of one or more data sets (per-image error,
    mean [p5, p95] over stored sets), under one or more fills of the occluded square. A memory
    trained on Omniglot and scored on MNIST is the transfer test of the paper's later version.
    Every table says its protocol: free (the memory sees the query alone) or clamped."""
    from ..data import DATASET_METRIC
    from ..evaluation.experiments import eval_images as run
    from ..evaluation.report import write_report
    from ..tasks import OCCLUSION_FILLS, Occlusion, parse_corruption

    _set_threads(threads)
    specs = []
    for part in (d.strip() for d in distortion.split(",") if d.strip()):
        try:
            spec = parse_corruption(part)
        except ValueError as e:
            raise click.BadParameter(str(e), param_hint="--distortion") from None
        if not isinstance(spec, Occlusion):
            raise click.BadParameter(f"images take FILL:SIDE or FILL:P% (FILL one of {OCCLUSION_FILLS}), got {part!r}",
                                     param_hint="--distortion")
        specs.append(spec)
    if not specs:
        raise click.BadParameter("give at least one FILL:SIDE", param_hint="--distortion")
    names = [d.strip() for d in datasets.split(",") if d.strip()]
    unknown = sorted(set(names) - set(DATASET_METRIC))
    if unknown or not names:
        raise click.BadParameter(f"unknown data set(s) {unknown}; choose from {sorted(DATASET_METRIC)}", param_hint="--dataset")
    # keyed by what was given: run directories all hold a "best" memory, so names can collide
    memories = {n.strip(): _load_memory(n.strip(), device=device) for n in memory_names.split(",") if n.strip()}
    if read_options:
        memories = {n: _with_read_options(m, _read_options(read_options)) for n, m in memories.items()}
    try:
        record, md = run(memories, names, specs, patterns=patterns, min_patterns=min_patterns, seed=seed, data_path=data_path,
                         command=_command_line(), clamp_known=clamp_known, progress=lambda name, d, st: click.echo(f"  {name:<28} {d:<9} {st}", err=True))
    except EBMMError as e:
        raise click.BadParameter(str(e), param_hint="--data") from None
    except ModuleNotFoundError as e:
        raise _missing_package(next(iter(names)), e) from None
    except ValueError as e:
        raise click.BadParameter(str(e), param_hint="--dataset") from None
    click.echo(md)
    if out_dir is not None:
        write_report(out_dir, record, md)
        click.echo(f"wrote {out_dir}/results.json, table.md", err=True)


@main.command()
@click.option("--memory", "memory_name", default="binary-erase", show_default=True,
              help="Comma-separated shipped names, baseline names or .safetensors paths.")
@click.option("--budget", "budgets", default="1.0", show_default=True,
              help="Mean error bits allowed; comma-separated for several (e.g. 0.1,1).")
@click.option("--distortion", default="erase:64", show_default=True, help="KIND:K, KIND in erase|replace|flip|zero.")
@click.option("--clamp-known", is_flag=True, help="Clamped completion (the memory keeps the intact bits).")
@click.option("--max-n", type=click.IntRange(1), default=512, show_default=True, help="Largest N probed.")
@click.option("--min-patterns", type=click.IntRange(1), default=1000, show_default=True, help="Stored patterns per probe.")
@click.option("--confidence", type=click.FloatRange(0, 1, min_open=True, max_open=True), default=0.95, show_default=True)
@click.option("--seed", type=int, default=1234, show_default=True)
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Write capacity.json, capacity.md and (one memory, one budget) capacity.png here.")
@click.option("--threads", type=click.IntRange(1))
@_device_option
def capacity(memory_name, budgets, distortion, clamp_known, max_n, min_patterns, confidence, seed, out_dir, threads, device):
    """The largest N whose mean error bits stay within --budget (doubling, then bisection); with
    several memories or budgets, a table of them."""
    from ..evaluation.experiments import capacity as run, capacity_markdown
    from ..evaluation.report import write_report

    _set_threads(threads)
    dist = _parse_distortion(distortion)
    try:
        levels = [float(v) for v in budgets.split(",") if v.strip()]
    except ValueError:
        raise click.BadParameter(f"expected comma-separated numbers, got {budgets!r}", param_hint="--budget") from None
    if not levels or min(levels) < 0:
        raise click.BadParameter(f"expected numbers >= 0, got {budgets!r}", param_hint="--budget")
    names = [n.strip() for n in memory_name.split(",") if n.strip()]
    if not names:
        raise click.BadParameter("name at least one memory", param_hint="--memory")
    memories = {n: _load_memory(n, device=device) for n in names}
    records, results, draw = [], {}, None
    for name, memory in memories.items():
        for budget in levels:
            try:  # checks the distortion against the memory's pattern size first
                record, result, draw = run(memory, budget, dist, max_n=max_n, min_patterns=min_patterns, confidence=confidence,
                                           seed=seed, clamp_known=clamp_known, command=_command_line())
            except ValueError as e:
                raise click.BadParameter(str(e), param_hint="--distortion") from None
            for p in sorted(result.probes, key=lambda p: p.n):
                mark = "ok " if p.mean <= budget else "   "
                click.echo(f"  {mark} N={p.n:<5} {p.mean:8.3f} error bits  [{p.low:.3f}, {p.high:.3f}]  ({p.patterns} patterns)",
                           err=True)
            note = "" if result.monotone else " (warning: the error was not monotone in N over the probes)"
            click.echo(f"{memory.name}: capacity {result.capacity} patterns at ≤ {budget} error bits under {dist}"
                       + (" (clamped)" if clamp_known else "") + note)
            records.append(record)
            results[(name, budget)] = (result, memory.memory_size())
    single = len(records) == 1
    if single:
        result = results[(names[0], levels[0])][0]
        md = (f"{records[0]['memory']}: capacity {result.capacity} patterns at ≤ {levels[0]} error bits under {dist}"
              + ("" if result.monotone else " (warning: the error was not monotone in N over the probes)"))
    else:
        md = capacity_markdown(results, dist, clamp_known=clamp_known, max_n=max_n)
        click.echo(md)
    if out_dir is not None:
        record = records[0] if single else {"command": _command_line(), "distortion": str(dist), "budgets": levels, "results": records}
        write_report(out_dir, record, md, stem="capacity", figure=("capacity.png", draw) if single else None)
        click.echo(f"wrote {out_dir}/capacity.json, capacity.md" + (", capacity.png" if single else ""), err=True)
