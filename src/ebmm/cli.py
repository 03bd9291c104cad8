"""The ``ebmm`` command line: train, eval, recall, demo, list."""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

import click

from .errors import EBMMError, TrainingInterrupted
from .registry import hopfield_names


def _set_threads(threads: int | None):
    if threads:
        import torch

        torch.set_num_threads(threads)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="ebmm")
def main():
    """Meta-learned energy-based associative memory (Bartunov et al.)."""


def _resolve_device(ctx, param, value):
    """Click callback: the ``--device`` string, checked now so that a missing GPU is a usage error."""
    from .devices import DeviceError, resolve_device

    if value is None:
        return None
    try:
        resolve_device(value)
    except DeviceError as e:
        raise click.BadParameter(str(e)) from None
    return value


def _device_option(command):
    """``--device auto|cpu|cuda|cuda:N|mps`` (default cpu, as ``ebmm.load``; auto: CUDA when present)."""
    return click.option("--device", default="cpu", show_default=True, callback=_resolve_device, metavar="DEVICE",
                        help="Where to compute: auto|cpu|cuda|cuda:N|mps (auto: CUDA when present, else MPS, else the CPU)."
                        )(command)


def _training_options(command):
    """The options every ``ebmm train`` command shares (overrides of the training config,
    threads, progress bar)."""
    for option in reversed([
        click.option("--steps", "-S", type=click.IntRange(1), help="Meta-training steps."),
        click.option("--episodes", type=click.IntRange(1), help="Episodes per meta-step."),
        click.option("--lr", type=click.FloatRange(0, min_open=True), help="AdamW learning rate."),
        click.option("--clip-norm", type=click.FloatRange(0, min_open=True), help="Global gradient-norm clip."),
        click.option("--group-lr", "group_lr", multiple=True, metavar="GROUP=MULT",
                     help="Learning-rate multiplier of a parameter group (static, init, read, write) or of the "
                          "parameters under a prefix of one (GROUP/PREFIX, e.g. static/matcher.=0); 0 freezes. "
                          "Repeatable; set on top of the preset's."),
        click.option("--seed", type=int, help="Random seed."),
        click.option("--compile/--no-compile", "compile_", default=None, help="torch.compile the meta-step."),
        click.option("--checkpoint-every", type=click.IntRange(1), help="Steps between checkpoints."),
        click.option("--eval-every", type=click.IntRange(0), help="Steps between held-out evaluations (0: never)."),
        click.option("--threads", type=click.IntRange(1), help="torch CPU threads."),
        click.option("--quiet", is_flag=True, help="No progress bar."),
        click.option("--device", callback=_resolve_device, metavar="DEVICE",
                     help="Where to train: auto|cpu|cuda|cuda:N|mps (default cpu for a new run; a resumed run keeps its own "
                          "unless given). Under torchrun with cuda each process takes the GPU of its LOCAL_RANK."),
        click.option("--precision", type=click.Choice(["fp32", "tf32", "bf16"]),
                     help="Meta-step precision (default fp32; tf32: TensorFloat-32 matmuls on CUDA; bf16: autocast, refused "
                          "for the slot energies)."),
    ]):
        command = option(command)
    return command


def _with_overrides(tcfg, group_lr: tuple[str, ...] = (), **values):
    """``tcfg`` with the fields given on the command line (the non-None ``values``) replaced, and
    the ``--group-lr GROUP=MULT`` multipliers set on top of its ``group_lr``."""
    multipliers = dict(tcfg.group_lr)
    for item in group_lr:
        key, sep, value = item.partition("=")
        try:
            multipliers[key] = float(value) if sep and key else None
        except ValueError:
            multipliers[key] = None
        if multipliers[key] is None or multipliers[key] < 0:
            raise click.BadParameter(f"expected GROUP=MULT with MULT >= 0, e.g. read=10 or static/matcher.=0, got {item!r}",
                                     param_hint="--group-lr")
    return dataclasses.replace(tcfg, group_lr=multipliers, **{k: v for k, v in values.items() if v is not None})


def _resumed(out_dir: Path, task: str):
    """The checkpoint of the ``task`` run saved in ``out_dir`` (for ``--resume``)."""
    from .meta.checkpoint import load_checkpoint
    from .meta.trainer import CHECKPOINT_NAME

    try:
        ck = load_checkpoint(out_dir / CHECKPOINT_NAME)
    except EBMMError as e:
        raise click.ClickException(f"--resume: {e}") from None
    if ck.train_config is None:
        raise click.ClickException(f"--resume: {out_dir} holds no training configuration")
    if ck.train_config.task != task:
        raise click.ClickException(f"--resume: {out_dir} is a {ck.train_config.task} run; continue it with "
                                   f"`ebmm train {ck.train_config.task} --resume`")
    return ck


def _echo_summary(result, out_dir: Path, **extra):
    """The one JSON line a training command prints when it ends (rank 0 only, under torchrun)."""
    import os

    if os.environ.get("RANK", "0") != "0":
        return
    click.echo(json.dumps({"step": result.step, "skipped_steps": result.skipped, "train_cpu_s": round(result.train_cpu_s, 1), **extra,
                           f"final_eval_{result.metric}": result.final_eval_error,
                           f"best_eval_{result.metric}": result.best_eval_error, "out": str(out_dir)}))


def _hint_unused_gpu(tcfg, quiet: bool) -> None:
    """One stderr line when a run trains on the CPU (the default) while a CUDA GPU is visible."""
    import os

    import torch

    from .devices import resolve_device

    if quiet or os.environ.get("RANK", "0") != "0" or resolve_device(tcfg.device).type != "cpu":
        return
    if torch.cuda.is_available():
        click.echo(f"training on the CPU (the default); --device cuda trains on the GPU ({torch.cuda.device_count()} visible)",
                   err=True)


def _stopped(interrupted: TrainingInterrupted) -> click.exceptions.Exit:
    """A training run stopped by SIGTERM or Ctrl-C after saving its checkpoint: one line (rank 0
    only, under torchrun) saying where it stopped and how to resume, instead of click's
    ``Aborted!``, and the shell's status for death by that signal (143 for SIGTERM)."""
    import os

    if os.environ.get("RANK", "0") == "0":
        click.echo(str(interrupted), err=True)
    return click.exceptions.Exit(interrupted.exit_status)


def _training_failed(error: Exception) -> click.ClickException | click.exceptions.Exit:
    """The exit of a training command that failed with ``error``. A device error is the same on
    every process under torchrun (e.g. more processes than GPUs): rank 0 says it, in one line,
    and the other ranks exit with the same status silently."""
    import os

    from .devices import DeviceError

    if isinstance(error, DeviceError) and os.environ.get("RANK", "0") != "0":
        return click.exceptions.Exit(1)
    return click.ClickException(str(error))


def _missing_package(dataset: str, error: ModuleNotFoundError) -> click.ClickException:
    return click.ClickException(f"{dataset} needs an optional package: {error} (pip install 'ebmm[data]')")


# ------------------------------------------------------------------------------------ train
@main.group()
def train():
    """Meta-train a memory."""


@train.command("binary")
@_training_options
@click.option("--preset", type=click.Choice(["slots", "slots-replace", "fast", "paper", "tiny"]), default="slots", show_default=True,
              help="Base configuration (slots: the slot energy written one pattern per step; slots-replace: the same memory "
                   "trained under replace:64; fast: the log-cosh energy; paper: the paper's gated RNN); the options "
                   "below override its fields.")
@click.option("--patterns", "-N", type=click.IntRange(1), help="Patterns stored per episode.")
@click.option("--min-patterns", type=click.IntRange(1),
              help="Train on episodes of N uniform in [min-patterns, patterns] (the fast preset: 16).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("runs/binary"), show_default=True,
              help="Run directory: checkpoints, metrics.jsonl, config.json.")
@click.option("--resume", is_flag=True, help="Continue the run saved in --out.")
@click.option("--model", "model_kind", default="ebmm", show_default=True,
              help="ebmm, or a learned baseline's kind (see `ebmm list`).")
@click.option("--distortion", help="KIND:K with KIND erase|replace|flip|zero (default erase:64).")
@click.option("--energy", type=click.Choice(["slots", "logcosh", "gated_rnn"]), help="Energy network.")
@click.option("--hidden", type=click.IntRange(1), help="Energy hidden size.")
@click.option("--read-steps", "-K", type=click.IntRange(1), help="Read iterations K.")
@click.option("--write-steps", "-T", type=click.IntRange(1), help="Write iterations T (passes, with --write-chunk).")
@click.option("--write-chunk", type=click.IntRange(0),
              help="Patterns per write step: 0 = all (the paper's eq. 4), 1 = one at a time (the slots preset).")
@click.option("--clamp-known/--no-clamp-known", default=None,
              help="Train under clamped completion: the read holds each query's intact entries fixed.")
@click.option("--episode-chunks", type=click.IntRange(1),
              help="Write each training episode in C consecutive chunks (write, then write more), for incremental use.")
def train_binary(preset, patterns, min_patterns, steps, out_dir, resume, model_kind, distortion, energy, hidden, episodes,
                 read_steps, write_steps, write_chunk, clamp_known, episode_chunks, lr, clip_norm, group_lr, seed, compile_,
                 checkpoint_every, eval_every, threads, quiet, device, precision):
    """Meta-train an energy memory (or a learned baseline) on random 128-bit patterns."""
    from .models.ebmm import EBMM
    from .models import model_from_config, system_kinds
    from .meta.trainer import train as run
    from .presets import binary_base, energy_memory_config

    _set_threads(threads)
    kinds = system_kinds()
    if model_kind not in kinds:
        raise click.BadParameter(f"unknown model {model_kind!r}; choose one of {sorted(kinds)}", param_hint="--model")
    mcfg, tcfg = binary_base(preset, model_kind)
    baseline = None
    if resume:  # the saved run's configuration is the base; explicit options still override
        ck = _resumed(out_dir, "binary")
        tcfg = ck.train_config
        if isinstance(ck.model, EBMM):
            mcfg = ck.model.config
        else:
            baseline = ck.model
    elif model_kind != "ebmm":
        baseline = model_from_config(model_kind, {"max_patterns": patterns or tcfg.patterns})
    if baseline is not None and any(v is not None for v in (energy, hidden, read_steps, write_steps, write_chunk)):
        raise click.BadParameter("--energy, --hidden, -K, -T and --write-chunk apply to ebmm only", param_hint="--model")
    if distortion is not None:
        _parse_distortion(distortion)
    tcfg = _with_overrides(tcfg, group_lr, patterns=patterns, min_patterns=min_patterns, steps=steps, distortion=distortion, episodes=episodes,
                           lr=lr, clip_norm=clip_norm, seed=seed, compile=compile_, checkpoint_every=checkpoint_every,
                           eval_every=eval_every, clamp_known=clamp_known, write_chunks=episode_chunks,
                           device=device, precision=precision)
    if baseline is None:
        try:
            mcfg = energy_memory_config(mcfg, max_patterns=tcfg.patterns, energy=energy, hidden=hidden, read_steps=read_steps,
                                        write_steps=write_steps, write_chunk=write_chunk)
        except ValueError as e:
            raise click.BadParameter(str(e), param_hint="--hidden") from None
        model = EBMM.from_config(mcfg)
    else:
        model = baseline
    _parse_distortion(tcfg.distortion, (model.dim,))
    _hint_unused_gpu(tcfg, quiet)
    try:
        result = run(model, tcfg, out_dir, resume=resume, progress=not quiet)
    except TrainingInterrupted as e:
        raise _stopped(e) from None
    except (EBMMError, ValueError) as e:
        raise _training_failed(e) from None
    _echo_summary(result, out_dir)


IMAGE_ENERGY_DEFAULT_FLOATS = {"resnet_fc": 8224, "resnet_conv": 9232, "image_slots": 9232}  # the paper's mid-range


@train.command("images")
@_training_options
@click.option("--dataset", type=click.Choice(["omniglot", "natural", "mnist", "cifar"]), default="omniglot", show_default=True)
@click.option("--data", "data_path", type=click.Path(exists=True, path_type=Path),
              help="Data set location (Omniglot zip/folder, default the shared copy; CIFAR: cifar-10-batches-py).")
@click.option("--preset", type=click.Choice(["slots", "fast", "paper", "tiny"]), default="fast", show_default=True,
              help="Base configuration (slots: the image slot energy; fast, paper, tiny: the paper's ResNet energies); "
                   "the options below override its fields.")
@click.option("--energy", type=click.Choice(["image_slots", "resnet_fc", "resnet_conv"]),
              help="image_slots (one slot per stored image, preset slots), or appendix B.2 (fully connected memory, "
                   "257·d floats) or B.3 (convolutional, 1154·d). Default: the preset's (slots: image_slots, others resnet_conv).")
@click.option("--memory-floats", type=click.IntRange(1),
              help="Memory size in float32; the writable width d nearest it is used (default 8224 fc, 9232 conv).")
@click.option("--patterns", "-N", type=click.IntRange(1), help="Images stored per episode (paper: 64).")
@click.option("--distortion", help="FILL:SIDE, FILL noise|zeros: the occluded square (default noise:16).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("runs/images"), show_default=True,
              help="Run directory: checkpoint, best memory, metrics, config.")
@click.option("--energy-arg", "energy_args", multiple=True, metavar="KEY=VALUE",
              help="An energy constructor argument on top of the preset's (VALUE as JSON, or a bare string), e.g. "
                   "--energy-arg detector_features=gap; repeatable; not with --resume.")
@click.option("--resume", is_flag=True, help="Continue the run saved in --out (its data set and model).")
def train_images(dataset, data_path, preset, energy, memory_floats, patterns, distortion, energy_args, steps, episodes, lr, clip_norm,
                 group_lr, seed,
                 compile_, checkpoint_every, eval_every, out_dir, resume, threads, quiet, device, precision):
    """Meta-train an image memory (paper §4.2): store a batch of images, retrieve them from
    copies with a random square occluded. Held-out images score the memory (Hamming error on
    Omniglot and MNIST, squared error on natural images and CIFAR, per image)."""
    from .meta.trainer import train as run
    from .presets import image_preset
    from .tasks import OCCLUSION_FILLS, Occlusion, parse_corruption, task_from_config

    _set_threads(threads)
    if resume and energy_args:
        raise click.BadParameter("a resumed run keeps its own energy", param_hint="--energy-arg")
    if resume:
        ck = _resumed(out_dir, "images")
        model, tcfg = ck.model, ck.train_config
    else:
        from .data import DATASET_SHAPE
        from .models.ebmm import EBMM

        try:
            energy = energy or ("image_slots" if preset == "slots" else "resnet_conv")
            mcfg, tcfg = image_preset(preset, energy, dataset, DATASET_SHAPE[dataset],
                                      memory_floats or IMAGE_ENERGY_DEFAULT_FLOATS[energy], str(data_path or ""),
                                      patterns=patterns)
            if energy_args:
                mcfg = dataclasses.replace(mcfg, energy=dataclasses.replace(
                    mcfg.energy, kwargs={**mcfg.energy.kwargs, **_energy_args(energy_args)}))
            model = EBMM.from_config(mcfg)
        except (ValueError, TypeError) as e:
            raise click.BadParameter(str(e)) from None
    if distortion is not None:
        try:
            spec = parse_corruption(distortion)
        except ValueError as e:
            raise click.BadParameter(str(e), param_hint="--distortion") from None
        if not isinstance(spec, Occlusion):
            raise click.BadParameter(f"images take FILL:SIDE (FILL one of {OCCLUSION_FILLS}, or fills joined by '+'), "
                                     f"got {distortion!r}", param_hint="--distortion")
    tcfg = _with_overrides(tcfg, group_lr, patterns=patterns, steps=steps, distortion=distortion, episodes=episodes, lr=lr, clip_norm=clip_norm,
                           seed=seed, compile=compile_, checkpoint_every=checkpoint_every, eval_every=eval_every,
                           device=device, precision=precision)
    _hint_unused_gpu(tcfg, quiet)
    try:
        task = task_from_config(tcfg.task, model.dim, tcfg.distortion, tcfg.dataset, tcfg.data_path)
        result = run(model, tcfg, out_dir, resume=resume, progress=not quiet, task=task)
    except TrainingInterrupted as e:
        raise _stopped(e) from None
    except EBMMError as e:
        raise _training_failed(e) from None
    except ModuleNotFoundError as e:
        raise _missing_package(tcfg.dataset, e) from None
    except ValueError as e:
        raise click.BadParameter(str(e)) from None
    _echo_summary(result, out_dir, memory_size=model.memory_size())



# ------------------------------------------------------------------------------------ helpers
def _load_memory(name_or_path: str, device: str | None = None, **kwargs):
    from .registry import load

    try:
        return load(name_or_path, device=device, **kwargs)
    except EBMMError as e:
        raise click.BadParameter(str(e), param_hint="--memory") from None


def _parse_patterns(value: str, hint: str = "--patterns") -> tuple[int, ...]:
    try:
        ns = tuple(int(v) for v in value.split(",") if v.strip())
    except ValueError:
        raise click.BadParameter(f"expected comma-separated integers, got {value!r}", param_hint=hint) from None
    if not ns or min(ns) < 1:
        raise click.BadParameter(f"expected positive integers, got {value!r}", param_hint=hint)
    return ns


def _parse_distortion(value: str, event_shape: tuple[int, ...] | int | None = None):
    """``--distortion`` parsed, and checked against a pattern shape when given
    (:func:`ebmm.tasks.check_corruption`, the one check); a usage error otherwise."""
    from .tasks import Distortion, check_corruption

    try:
        return Distortion.parse(value) if event_shape is None else check_corruption(value, event_shape)
    except ValueError as e:
        raise click.BadParameter(str(e), param_hint="--distortion") from None


def _command_line() -> str:
    """The running command, rebuilt from its parsed options so figures and tables record how
    to remake them (also when invoked in-process, where argv is not ours)."""
    ctx = click.get_current_context()
    parts = ["ebmm", *ctx.command_path.split()[1:]]
    for param in ctx.command.params:
        value = ctx.params.get(param.name)
        if not isinstance(param, click.Option) or value is None:
            continue
        if param.is_flag:
            if value:
                parts.append(param.opts[0])
            elif param.secondary_opts:
                parts.append(param.secondary_opts[0])
        elif isinstance(value, (tuple, list)):  # a repeatable option: once per value
            parts.extend(f"{param.opts[0]} {v}" for v in value)
        else:
            parts.append(f"{param.opts[0]} {value}")
    return " ".join(parts)


# ------------------------------------------------------------------------------------- eval
@main.group("eval")
def eval_():
    """Evaluate memories under the paper's protocols."""


@eval_.command("binary")
@click.option("--memory", "memory_name", default="binary-erase", show_default=True, help="Shipped name, baseline name or .safetensors path.")
@click.option("--patterns", "-N", default="16,32,48,64,96,128,160", show_default=True,
              help="Comma-separated numbers of stored patterns (the paper's five, and two beyond its range).")
@click.option("--distortion", default="erase:64", show_default=True, help="KIND:K, KIND in erase|replace|flip|zero.")
@click.option("--baselines/--no-baselines", default=True, show_default=True, help="Also evaluate the Hopfield rules.")
@click.option("--clamp-known", is_flag=True,
              help="Clamped completion: every memory is told which query entries are intact and keeps them.")
@click.option("--min-patterns", type=click.IntRange(1), default=1000, show_default=True, help="Stored patterns averaged over, per N.")
@click.option("--seed", type=int, default=1234, show_default=True)
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), help="Write results.json, table.md and a plot here.")
@click.option("--threads", type=click.IntRange(1))
@_device_option
def eval_binary(memory_name, patterns, distortion, baselines, clamp_known, min_patterns, seed, out_dir, threads, device):
    """Error bits (mean [5th, 95th percentile]) at each N: a markdown table, plus JSON."""
    from .evaluation.experiments import eval_binary as run
    from .evaluation.plots import plot_error_vs_patterns
    from .evaluation.report import write_report

    _set_threads(threads)
    ns = _parse_patterns(patterns)
    dist = _parse_distortion(distortion)
    memories = {memory_name: _load_memory(memory_name, device=device)}
    if baselines:
        dim = memories[memory_name].dim
        memories.update({n: _load_memory(n, dim=dim, device=device) for n in hopfield_names() if n != memory_name})
    try:  # checks the distortion against every memory's pattern size first
        record, md, results = run(memories, ns, dist, min_patterns=min_patterns, seed=seed, clamp_known=clamp_known,
                                  command=_command_line(),
                                  progress=lambda name, n, st: click.echo(f"  {name:<28} N={n:<4} {st}", err=True))
    except ValueError as e:
        raise click.BadParameter(str(e), param_hint="--distortion") from None
    click.echo(md)
    if out_dir is not None:
        title = f"binary 128-bit, {dist}" + (", clamped" if clamp_known else "")
        draw = lambda path: plot_error_vs_patterns(results, path, title=title, caption=record["command"])  # noqa: E731
        write_report(out_dir, record, md, figure=("error_bits.png", draw))
        click.echo(f"wrote {out_dir}/results.json, table.md, error_bits.png", err=True)
    else:
        click.echo(json.dumps(record))


@eval_.command("images")
@click.option("--memory", "memory_names", required=True, help="Comma-separated image memories (.safetensors paths or names).")
@click.option("--dataset", "datasets", default="omniglot", show_default=True,
              help="Comma-separated data sets of omniglot, natural, mnist, cifar; e.g. omniglot,mnist for the transfer test.")
@click.option("--data", "data_path", type=click.Path(exists=True, path_type=Path), help="Omniglot or CIFAR-10 location.")
@click.option("--patterns", "-N", type=click.IntRange(1), default=64, show_default=True, help="Images stored per set.")
@click.option("--distortion", default="noise:16", show_default=True,
              help="Comma-separated FILL:SIDE, FILL one of noise, binary, zeros, ones, mix (or fills joined by '+'); "
                   "one row per fill, e.g. noise:16,binary:16,zeros:16,ones:16,mix:16.")
@click.option("--clamp-known", is_flag=True,
              help="The clamped protocol: every memory is told which pixels the square hid (default: the free protocol, "
                   "the query alone).")
@click.option("--min-patterns", type=click.IntRange(1), default=1024, show_default=True, help="Images scored per data set and fill.")
@click.option("--seed", type=int, default=1234, show_default=True)
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), help="Write results.json and table.md here.")
@click.option("--threads", type=click.IntRange(1))
@_device_option
def eval_images(memory_names, datasets, data_path, patterns, distortion, clamp_known, min_patterns, seed, out_dir, threads, device):
    """Score image memories on held-out images of one or more data sets (per-image error,
    mean [p5, p95] over stored sets), under one or more fills of the occluded square. A memory
    trained on Omniglot and scored on MNIST is the transfer test of the paper's later version.
    Every table says its protocol: free (the memory sees the query alone) or clamped."""
    from .data import DATASET_METRIC
    from .evaluation.experiments import eval_images as run
    from .evaluation.report import write_report
    from .tasks import OCCLUSION_FILLS, Occlusion, parse_corruption

    _set_threads(threads)
    specs = []
    for part in (d.strip() for d in distortion.split(",") if d.strip()):
        try:
            spec = parse_corruption(part)
        except ValueError as e:
            raise click.BadParameter(str(e), param_hint="--distortion") from None
        if not isinstance(spec, Occlusion):
            raise click.BadParameter(f"images take FILL:SIDE (FILL one of {OCCLUSION_FILLS}), got {part!r}", param_hint="--distortion")
        specs.append(spec)
    if not specs:
        raise click.BadParameter("give at least one FILL:SIDE", param_hint="--distortion")
    names = [d.strip() for d in datasets.split(",") if d.strip()]
    unknown = sorted(set(names) - set(DATASET_METRIC))
    if unknown or not names:
        raise click.BadParameter(f"unknown data set(s) {unknown}; choose from {sorted(DATASET_METRIC)}", param_hint="--dataset")
    # keyed by what was given: run directories all hold a "best" memory, so names can collide
    memories = {n.strip(): _load_memory(n.strip(), device=device) for n in memory_names.split(",") if n.strip()}
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


# ----------------------------------------------------------------------------------- recall
@main.command()
@click.option("--memory", "memory_name", default="binary-erase", show_default=True, help="Shipped name, baseline name or .safetensors path.")
@click.option("--store", "store_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="(N, d) .npy of patterns in [0, 1] to store (added to --state when both are given).")
@click.option("--state", "state_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Read from this saved state (from `ebmm write`) instead of, or before, writing --store.")
@click.option("--queries", "query_path", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path), help="(M, d) .npy of queries in [0, 1].")
@click.option("--out", "out_path", required=True, type=click.Path(dir_okay=False, path_type=Path), help="Where to write the (M, d) retrievals (.npy).")
@click.option("--trajectory", is_flag=True, help="Write every read iterate, (S, M, d), instead.")
@click.option("--clamp-known", is_flag=True,
              help="Clamped completion: keep the queries' known entries (with no --known: every entry that is 0 or 1, "
                   "i.e. all but the erased 0.5s).")
@click.option("--known", "known_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="(M, d) .npy of booleans (or 0/1): True where the query's entry is intact; implies --clamp-known.")
@_device_option
def recall(memory_name, store_path, state_path, query_path, out_path, trajectory, clamp_known, known_path, device):
    """Store the rows of --store (or take a saved --state), retrieve every row of --queries,
    write the result."""
    import numpy as np

    if store_path is None and state_path is None:
        raise click.UsageError("give --store (patterns to write), --state (a saved state), or both")
    memory = _load_memory(memory_name, device=device)
    state = _load_state(state_path, memory) if state_path is not None else None
    arrays = {}
    sources = ([("--store", store_path)] if store_path else []) + [("--queries", query_path)] + (
        [("--known", known_path)] if known_path else [])
    for hint, path in sources:
        arrays[hint] = _load_rows(path, hint, memory.dim)
    known = arrays.get("--known")
    if known is None and clamp_known:
        queries = arrays["--queries"]
        known = (queries == 0) | (queries == 1) if np.issubdtype(queries.dtype, np.number) else None
    try:
        if store_path is not None:
            state = memory.write(arrays["--store"], state=state)
        result = memory.read(arrays["--queries"], state, trajectory=trajectory, known=known)
    except (ValueError, TypeError) as e:
        raise click.ClickException(str(e)) from None
    out_path.parent.mkdir(parents=True, exist_ok=True)
    np.save(out_path, result.astype(np.float32))
    click.echo(f"memory holds {len(state)} patterns, retrieved {arrays['--queries'].shape[0]} queries -> {out_path} {result.shape}",
               err=True)


def _load_rows(path: Path, hint: str, dim: int):
    """A 2-D ``(rows, dim)`` .npy array from ``path``, or a usage error naming option ``hint``."""
    import numpy as np

    try:
        rows = np.load(path, allow_pickle=False)
    except (ValueError, OSError) as e:
        raise click.BadParameter(f"{path} is not a readable .npy array: {e}", param_hint=hint) from None
    if rows.ndim != 2:
        raise click.BadParameter(f"{path}: expected a 2-D (rows, {dim}) array, got shape {rows.shape}", param_hint=hint)
    return rows


def _load_state(path: Path, memory):
    from .memory import load_state

    try:
        return load_state(path, memory)
    except (EBMMError, ValueError) as e:
        raise click.BadParameter(str(e), param_hint="--state") from None


# ------------------------------------------------------------------------------------ write
@main.command()
@click.option("--memory", "memory_name", default="binary-erase", show_default=True, help="Shipped name, baseline name or .safetensors path.")
@click.option("--store", "store_path", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="(N, d) .npy of patterns in [0, 1] to store.")
@click.option("--state", "state_path", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="A saved state to add the patterns to (default: a fresh memory).")
@click.option("--state-out", "state_out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="Where to save the resulting state (.safetensors); may equal --state.")
@_device_option
def write(memory_name, store_path, state_path, state_out, device):
    """Write the rows of --store into a memory (a fresh one, or a saved --state) and save the
    state, for later `ebmm recall --state` or more `ebmm write --state`."""
    memory = _load_memory(memory_name, device=device)
    state = _load_state(state_path, memory) if state_path is not None else None
    patterns = _load_rows(store_path, "--store", memory.dim)
    try:
        new = memory.write(patterns, state=state)
    except (ValueError, TypeError) as e:
        raise click.ClickException(str(e)) from None
    new.save(state_out)
    click.echo(f"{memory.name}: the state holds {len(new)} patterns -> {state_out}", err=True)


# --------------------------------------------------------------------------------- capacity
@main.command()
@click.option("--memory", "memory_name", default="binary-erase", show_default=True, help="Shipped name, baseline name or .safetensors path.")
@click.option("--budget", type=click.FloatRange(0), default=1.0, show_default=True, help="Mean error bits allowed.")
@click.option("--distortion", default="erase:64", show_default=True, help="KIND:K, KIND in erase|replace|flip|zero.")
@click.option("--clamp-known", is_flag=True, help="Clamped completion (the memory keeps the intact bits).")
@click.option("--max-n", type=click.IntRange(1), default=512, show_default=True, help="Largest N probed.")
@click.option("--min-patterns", type=click.IntRange(1), default=1000, show_default=True, help="Stored patterns per probe.")
@click.option("--confidence", type=click.FloatRange(0, 1, min_open=True, max_open=True), default=0.95, show_default=True)
@click.option("--seed", type=int, default=1234, show_default=True)
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), help="Write capacity.json and capacity.png here.")
@click.option("--threads", type=click.IntRange(1))
@_device_option
def capacity(memory_name, budget, distortion, clamp_known, max_n, min_patterns, confidence, seed, out_dir, threads, device):
    """The largest N whose mean error bits stay within --budget (doubling, then bisection)."""
    from .evaluation.experiments import capacity as run
    from .evaluation.report import write_report

    _set_threads(threads)
    dist = _parse_distortion(distortion)
    memory = _load_memory(memory_name, device=device)
    try:  # checks the distortion against the memory's pattern size first
        record, result, draw = run(memory, budget, dist, max_n=max_n, min_patterns=min_patterns, confidence=confidence, seed=seed,
                                   clamp_known=clamp_known, command=_command_line())
    except ValueError as e:
        raise click.BadParameter(str(e), param_hint="--distortion") from None
    for p in sorted(result.probes, key=lambda p: p.n):
        mark = "ok " if p.mean <= budget else "   "
        click.echo(f"  {mark} N={p.n:<5} {p.mean:8.3f} error bits  [{p.low:.3f}, {p.high:.3f}]  ({p.patterns} patterns)", err=True)
    note = "" if result.monotone else " (warning: the error was not monotone in N over the probes)"
    click.echo(f"{memory.name}: capacity {result.capacity} patterns at ≤ {budget} error bits under {dist}"
               + (" (clamped)" if clamp_known else "") + note)
    if out_dir is not None:
        md = f"{memory.name}: capacity {result.capacity} patterns at ≤ {budget} error bits under {dist}" + note
        write_report(out_dir, record, md, stem="capacity", figure=("capacity.png", draw))
        click.echo(f"wrote {out_dir}/capacity.json, capacity.md, capacity.png", err=True)


# ------------------------------------------------------------------------------------- demo
@main.command()
@click.option("--memory", "memory_name", default="binary-erase", show_default=True)
@click.option("--patterns", "-N", type=click.IntRange(1), default=32, show_default=True, help="Patterns to store.")
@click.option("--distortion", default="erase:64", show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--out", "out_path", type=click.Path(dir_okay=False, path_type=Path), default=Path("ebmm-demo.png"), show_default=True)
@_device_option
def demo(memory_name, patterns, distortion, seed, out_path, device):
    """Store fresh random patterns in the shipped memory, corrupt and retrieve them, compare
    with the Hopfield rules and save a PNG of the retrieval trajectory."""
    import warnings

    import torch

    from .errors import CapacityWarning
    from .evaluation.plots import plot_trajectory
    from .tasks import error_bits, random_patterns

    memory = _load_memory(memory_name, device=device)
    dist = _parse_distortion(distortion)
    gen = torch.Generator().manual_seed(seed)
    x = random_patterns((patterns, memory.dim), generator=gen)
    q = dist.apply(x, generator=gen)
    with warnings.catch_warnings():
        warnings.simplefilter("always", CapacityWarning)
        state = memory.write(x)
    traj = memory.read(q, state, trajectory=True)
    rows = [("query (no memory)", float(error_bits(q, x).mean()))]
    rows.append((f"{memory.name} (EBMM, {memory.memory_size()} floats)", float(error_bits(torch.from_numpy(traj[-1]), x).mean())))
    extra = {}
    for name in hopfield_names():
        hop = _load_memory(name, dim=memory.dim, device=device)
        r = hop.read(q, hop.write(x))
        extra[name.replace("hopfield-", "")] = r
        rows.append((f"{name} ({hop.memory_size()} floats)", float(error_bits(torch.from_numpy(r), x).mean())))
    click.echo(f"stored {patterns} random {memory.dim}-bit patterns; queries: {dist}\n")
    click.echo("| memory | error bits |\n|---|---|")
    for name, bits in rows:
        click.echo(f"| {name} | {bits:.2f} |")
    plot_trajectory(x.numpy(), traj, out_path, title=f"{memory.name}: N={patterns}, {dist}",
                    caption=_command_line(), extra_columns=extra)
    click.echo(f"\nsaved {out_path}")


# ------------------------------------------------------------------------------------- show
SHOW_DATASETS = ("binary", "omniglot", "natural", "mnist", "cifar")


@main.command()
@click.option("--memory", "memory_name", default="binary-erase", show_default=True)
@click.option("--dataset", type=click.Choice(SHOW_DATASETS), default="binary", show_default=True)
@click.option("--data", "data_path", type=click.Path(exists=True, path_type=Path), help="Dataset location (Omniglot zip/folder, CIFAR folder).")
@click.option("--patterns", "-N", type=click.IntRange(1), default=16, show_default=True, help="Patterns (images) stored.")
@click.option("--distortion", default="erase:64", show_default=True, help="Binary patterns: KIND:K.")
@click.option("--fill", type=click.Choice(["noise", "binary", "zeros", "ones", "mix", "all"]), default="noise", show_default=True,
              help="Images: what fills the 16×16 block; 'all' draws one figure per fill (OUT-FILL.png).")
@click.option("--rows", type=click.IntRange(1), default=6, show_default=True, help="Patterns shown.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--out", "out_path", type=click.Path(dir_okay=False, path_type=Path), default=Path("ebmm-show.png"), show_default=True)
@_device_option
def show(memory_name, dataset, data_path, patterns, distortion, fill, rows, seed, out_path, device):
    """The paper's Figure 2 for any memory and dataset: stored patterns, distorted queries,
    every read iterate and the retrieval, as a PNG (held-out images; random binary patterns)."""
    from .evaluation.experiments import figure2
    from .evaluation.plots import plot_trajectory
    from .tasks import task_from_config

    memory = _load_memory(memory_name, device=device)
    if dataset == "binary":
        if len(memory.event_shape) != 1:
            raise click.BadParameter(f"{memory.name} stores images {memory.event_shape}; choose an image --dataset", param_hint="--dataset")
        figures = [(str(_parse_distortion(distortion, (memory.dim,))), str(_parse_distortion(distortion)), out_path)]
    else:
        from .tasks import BASIC_FILLS

        fills = [*BASIC_FILLS, "mix"] if fill == "all" else [fill]
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
                        caption=_command_line())
        click.echo(f"{what}: {score}\nsaved {path}")


# --------------------------------------------------------------------------- ratedistortion
@main.command()
@click.option("--dataset", type=click.Choice(["omniglot", "natural", "cifar", "mnist"]), default="omniglot", show_default=True)
@click.option("--data", "data_path", type=click.Path(exists=True, path_type=Path), help="Omniglot or CIFAR-10 location.")
@click.option("--systems", default="resnet_conv,resnet_fc", show_default=True,
              help="Comma-separated: image energies image_slots (its own preset, slots), resnet_conv, resnet_fc; flattened "
                   "baselines memory_networks, mann.")
@click.option("--sizes", default="2308,4616,9232,13848", show_default=True, help="Comma-separated memory sizes (float32).")
@click.option("--preset", type=click.Choice(["fast", "paper", "tiny"]), default="fast", show_default=True)
@click.option("--steps", "-S", type=click.IntRange(1), help="Meta-training steps per memory (default: the preset's).")
@click.option("--patterns", "-N", type=click.IntRange(1), help="Images stored per episode (default: the preset's, 64).")
@click.option("--distortion", help="FILL:SIDE (default noise:16).")
@click.option("--min-patterns", type=click.IntRange(1), default=1024, show_default=True, help="Held-out images scored per memory.")
@click.option("--quick", is_flag=True, help="Smoke test: tiny preset, 2 steps, 2 small sizes, 16 images scored.")
@click.option("--fills", default="", help="Comma-separated fills to score every memory under (noise, binary, zeros, ones, mix; "
              "the square of --distortion); default: --distortion's alone.")
@click.option("--transfer", default="", help="Comma-separated data sets to score the memories on besides --dataset (e.g. mnist).")
@click.option("--clamp-known", is_flag=True, help="The clamped protocol: every memory is told the covered pixels (default: free).")
@click.option("--detector-from", type=click.Path(exists=True, path_type=Path),
              help="image_slots: start every new run's trust detector from this checkpoint or run directory's.")
@click.option("--read", "read_options", multiple=True, metavar="KEY=VALUE",
              help="image_slots: a read-time option for scoring (recheck, outlier_cost, candidates), e.g. --read recheck=4.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), help="Default: results/ratedistortion-DATASET.")
@click.option("--threads", type=click.IntRange(1))
@click.option("--quiet", is_flag=True, help="No progress bars.")
@_device_option
def ratedistortion(dataset, data_path, systems, sizes, preset, steps, patterns, distortion, min_patterns, quick, fills, transfer, clamp_known,
                   detector_from, read_options, out_dir, threads, quiet, device):
    """The paper's Figure 3: meta-train image memories at several memory sizes, score each on
    held-out images and plot error against memory size beside the published points. Runs
    that finished are reused and interrupted ones resume, so it can be stopped and rerun."""
    from .evaluation.ratedistortion import DEFAULT_SIZES, run_ratedistortion

    _set_threads(threads)
    kinds = [s.strip() for s in systems.split(",") if s.strip()]
    allowed = ("image_slots", "resnet_conv", "resnet_fc", "memory_networks", "mann")
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
    from .evaluation.binary import TABLE1_DIM
    from .evaluation.table1 import default_systems, run_table1

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


def _energy_args(items: tuple[str, ...]) -> dict:
    """``("detector_features=gap", "candidates=4")`` -> ``{"detector_features": "gap", "candidates": 4}``:
    each VALUE parsed as JSON, else kept as a string; a usage error without ``=``."""
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not (sep and key):
            raise click.BadParameter(f"expected KEY=VALUE, got {item!r}", param_hint="--energy-arg")
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out


def _read_options(items: tuple[str, ...]) -> dict:
    """``("recheck=4", ...)`` -> ``{"recheck": 4}``; a usage error for anything but KEY=NUMBER."""
    options = {}
    for item in items:
        key, sep, value = item.partition("=")
        try:
            options[key] = json.loads(value) if sep and key else None
        except json.JSONDecodeError:
            options[key] = None
        if not isinstance(options[key], (int, float)):
            raise click.BadParameter(f"expected KEY=NUMBER, got {item!r}", param_hint="--read")
    return options


# ----------------------------------------------------------------------------------- export
@main.command()
@click.argument("source", type=click.Path(exists=True, path_type=Path))
@click.argument("dest", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--name", help="Name stored in the file (default: DEST's stem).")
@click.option("--note", default="", help="Free text stored with the memory (e.g. the training command).")
@click.option("--read", "read_options", multiple=True, metavar="KEY=VALUE",
              help="A read-time option of the energy to store with the memory (image slots: recheck, outlier_cost, "
                   "candidates), e.g. --read recheck=4; repeatable.")
def export(source, dest, name, note, read_options):
    """Write the memory of a run directory or checkpoint (SOURCE) to DEST without optimiser
    state: a small file that ebmm.load reads."""
    from .learned_memory import LearnedMemory

    memory = _load_memory(str(source))
    if not isinstance(memory, LearnedMemory):
        raise click.BadParameter(f"{source} is not a trained memory", param_hint="SOURCE")
    if read_options:
        try:
            memory = LearnedMemory(memory.model.with_read_options(**_read_options(read_options)), memory.params, name=memory.name,
                                   info=memory.info)
        except (AttributeError, ValueError) as e:
            raise click.BadParameter(str(e), param_hint="--read") from None
    memory.name = name or dest.stem
    if note:
        memory.info["note"] = note
    memory.save(dest)
    click.echo(f"wrote {dest} ({dest.stat().st_size} bytes, {memory.memory_size()} writable floats)")


# ------------------------------------------------------------------------------------- list
@main.command()
@click.argument("runs", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@click.option("--out", "out_path", type=click.Path(dir_okay=False, path_type=Path), default=Path("ebmm-curve.png"), show_default=True)
@click.option("--title", default="", help="The figure's title.")
def curve(runs, out_path, title):
    """Held-out error against meta-step of one or more training runs (their metrics.jsonl), the
    untrained memory (step 0) marked: whether meta-training helped, as a figure."""
    from .evaluation.plots import plot_training_curves, read_eval_curve

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
    from .registry import _baselines, pretrained

    try:
        shipped = pretrained()
    except EBMMError as e:
        raise click.ClickException(str(e)) from None
    for name, desc in shipped.items():
        click.echo(f"{name:<28} {desc.get('description', '')}")
    for name in _baselines():
        click.echo(f"{name:<28} classical baseline")
    from .models import system_kinds

    for kind in sorted(k for k in system_kinds() if k != "ebmm"):
        click.echo(f"{kind:<28} learned baseline: ebmm train binary --model {kind}")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
