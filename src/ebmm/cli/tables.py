"""``ebmm ratedistortion`` and ``ebmm table1``: the paper's Figure 3 and Table 1."""

from __future__ import annotations

from pathlib import Path

import click

from ..errors import EBMMError
from ._app import main, _set_threads, _device_option, _load_memory, _parse_patterns, _parse_distortion, _command_line, _read_options
from ._training import _missing_package


@main.command()
@click.option("--dataset", type=click.Choice(["omniglot", "natural", "cifar", "mnist"]), default="omniglot", show_default=True)
@click.option("--data", "data_path", type=click.Path(exists=True, path_type=Path), help="Omniglot or CIFAR-10 location.")
@click.option("--systems", default="resnet_conv,resnet_fc", show_default=True,
              help="Comma-separated: image energies image_slots (its own preset, slots), resnet_conv, resnet_fc; flattened "
                   "baselines memory_networks, mann, delta_rule, mlp_memory.")
@click.option("--sizes", default="2308,4616,9232,13848", show_default=True, help="Comma-separated memory sizes (float32).")
@click.option("--preset", type=click.Choice(["fast", "paper", "tiny"]), default="fast", show_default=True)
@click.option("--steps", "-S", type=click.IntRange(1), help="Meta-training steps per memory (default: the preset's).")
@click.option("--patterns", "-N", type=click.IntRange(1), help="Images stored per episode (default: the preset's, 64).")
@click.option("--distortion", help="FILL:SIDE (default noise:16).")
@click.option("--min-patterns", type=click.IntRange(1), default=1024, show_default=True, help="Held-out images scored per memory.")
@click.option("--quick", is_flag=True, help="Smoke test: tiny preset, 2 steps, 2 small sizes, 16 images scored.")
@click.option("--fills", default="", help="Comma-separated fills to score every memory under (noise, binary, zeros, ones, mix, grey, patch; "
              "the square of --distortion); default: --distortion's alone.")
@click.option("--transfer", default="", help="Comma-separated data sets to score the memories on besides --dataset (e.g. mnist).")
@click.option("--clamp-known", is_flag=True, help="The clamped protocol: every memory is told the covered pixels (default: free).")
@click.option("--detector-from", type=click.Path(exists=True, path_type=Path),
              help="image_slots: start every new run's trust detector from this checkpoint or run directory's.")
@click.option("--read", "read_options", multiple=True, metavar="KEY=VALUE",
              help="image_slots: a read-time option for scoring (recheck, outlier_cost, candidates, region, region_share, choice_weights, trust_margin, region_keep, rerank, loo_z, loo_count, box_fill), e.g. --read recheck=4.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), help="Default: results/ratedistortion-DATASET.")
@click.option("--threads", type=click.IntRange(1))
@click.option("--quiet", is_flag=True, help="No progress bars.")
@_device_option
def ratedistortion(dataset, data_path, systems, sizes, preset, steps, patterns, distortion, min_patterns, quick, fills, transfer, clamp_known,
                   detector_from, read_options, out_dir, threads, quiet, device):
    """The paper's Figure 3: meta-train image memories at several memory sizes, score each on
    held-out images and plot error against memory size beside the published points. Runs
    that finished are reused and interrupted ones resume, so it can be stopped and rerun."""
    from ..evaluation.ratedistortion import DEFAULT_SIZES, run_ratedistortion

    _set_threads(threads)
    kinds = [s.strip() for s in systems.split(",") if s.strip()]
    from ..models.flat_images import IMAGE_BASELINES

    allowed = ("image_slots", "resnet_conv", "resnet_fc", *IMAGE_BASELINES)
    bad = [k for k in kinds if k not in allowed]
    if bad or not kinds:
        raise click.BadParameter(f"unknown systems {bad}; choose from {allowed}", param_hint="--systems")
    floats = _parse_patterns(sizes, "--sizes")
    if quick:
        preset, steps, min_patterns, patterns = "tiny", steps or 2, 16, patterns or 4
        floats = (1154, 2308) if floats == DEFAULT_SIZES else floats[:2]
    out_dir = out_dir or Path(f"results/ratedistortion-{dataset}")
    try:
        record = run_ratedistortion(dataset, systems=tuple(kinds), sizes=floats, preset=preset, steps=steps, patterns=patterns,
                                    corruption=distortion, data_path=str(data_path) if data_path else None,
                                    min_patterns=min_patterns, out_dir=out_dir, command=_command_line(),
                                    log=lambda m: click.echo(m, err=True), progress=not quiet, device=device,
                                    fills=tuple(f.strip() for f in fills.split(",") if f.strip()),
                                    transfer=tuple(t.strip() for t in transfer.split(",") if t.strip()), clamp_known=clamp_known,
                                    detector_from=detector_from, read_options=_read_options(read_options))
    except EBMMError as e:
        raise click.ClickException(str(e)) from None
    except ModuleNotFoundError as e:
        raise _missing_package(dataset, e) from None
    except ValueError as e:
        raise click.BadParameter(str(e)) from None
    click.echo(record["markdown"])
    click.echo(f"wrote {out_dir}/ratedistortion.json, .md, .png", err=True)


# ----------------------------------------------------------------------------------- table1
@main.command()
@click.option("--systems", help="Comma-separated systems (default: all; see `ebmm list`).")
@click.option("--patterns", "-N", help="Comma-separated N (default 16,32,48,64,96,128,160; with --quick 16,96).")
@click.option("--distortion", default="erase:64", show_default=True)
@click.option("--steps", type=click.IntRange(1), default=3000, show_default=True,
              help="Meta-training steps for each learned system without a shipped memory.")
@click.option("--pretrained/--no-pretrained", default=True, show_default=True, help="Use shipped memories where they exist.")
@click.option("--train/--no-train", "train_missing", default=True, show_default=True,
              help="Meta-train systems with no shipped or given memory (--no-train leaves them out: minutes, not hours).")
@click.option("--min-patterns", type=click.IntRange(1), default=1000, show_default=True)
@click.option("--use", "use", multiple=True, metavar="SYSTEM=PATH",
              help="Take SYSTEM's memory from PATH (a run directory, a .safetensors file or a shipped name) instead of shipping or training; repeatable.")
@click.option("--clamp-known", is_flag=True,
              help="Clamped completion: every system is told which query entries are intact and keeps them.")
@click.option("--quick", is_flag=True,
              help="A smoke table, not results: 20 training steps for systems without a memory, N = 16 and 96, "
                   "64 patterns per cell (minutes on 2 cores).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("results/table1"), show_default=True)
@click.option("--threads", type=click.IntRange(1))
@_device_option
def table1(systems, patterns, distortion, steps, pretrained, train_missing, use, min_patterns, clamp_known, quick, out_dir, threads, device):
    """The paper's Table 1: every system at 8256 floats, error bits at each N, beside the
    published numbers. Writes table1.json, table1.md and table1.png to --out."""
    from ..evaluation.binary import TABLE1_DIM
    from ..evaluation.table1 import default_systems, run_table1

    _set_threads(threads)
    ns = _parse_patterns(patterns or ("16,96" if quick else "16,32,48,64,96,128,160"))
    dist = _parse_distortion(distortion)
    known = default_systems()
    chosen = [s.strip() for s in systems.split(",")] if systems else known
    unknown = [s for s in chosen if s not in known]
    if unknown:
        raise click.BadParameter(f"unknown systems {unknown}; choose from {known}", param_hint="--systems")
    _parse_distortion(distortion, (TABLE1_DIM,))
    given = {}
    for item in use:
        system, sep, path = item.partition("=")
        if not sep or system not in chosen:
            raise click.BadParameter(f"expected SYSTEM=PATH with SYSTEM one of {chosen}, got {item!r}", param_hint="--use")
        given[system] = _load_memory(path, device=device)
        given[system].name = path  # the table's sources record where each row came from
    record = run_table1(
        chosen, given=given, train_missing=train_missing, patterns=ns, distortion=str(dist), train_steps=20 if quick else steps,
        min_patterns=64 if quick else min_patterns, min_batches=2 if quick else 32, out_dir=out_dir,
        use_pretrained=pretrained, command=_command_line(), log=lambda m: click.echo(m, err=True), clamp_known=clamp_known,
        smoke=quick, device=device,
    )
    click.echo(record["markdown"])
    click.echo(f"\nwrote {out_dir}/table1.json, table1.md, table1.png", err=True)
