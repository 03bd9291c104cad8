"""``ebmm train binary`` and ``ebmm train images``: meta-train a memory."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import click

from ..errors import EBMMError, TrainingInterrupted
from ._app import main, _set_threads, _parse_distortion, _energy_args, _json_or_text, _key_values
from ._training import _training_options, _with_overrides, _resumed, _started_from, _echo_summary, _hint_unused_gpu, _stopped, _training_failed, _missing_package


@main.group()
def train():
    """Meta-train a memory."""


@train.command("binary")
@_training_options
@click.option("--preset", type=click.Choice(["slots", "slots-replace", "compressive", "compressive-replace", "fast", "paper", "tiny"]),
              default="slots", show_default=True,
              help="Base configuration (slots: the slot energy written one pattern per step; slots-replace: the same memory "
                   "trained under replace:64; compressive(-replace): one slot per pattern, the code width following N, "
                   "trained over N in [16, 256]; fast: the log-cosh energy; paper: the paper's gated RNN); the options "
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
@click.option("--energy", type=click.Choice(["slots", "compressive_slots", "logcosh", "gated_rnn"]), help="Energy network.")
@click.option("--hidden", type=click.IntRange(1), help="Energy hidden size.")
@click.option("--read-steps", "-K", type=click.IntRange(1), help="Read iterations K.")
@click.option("--write-steps", "-T", type=click.IntRange(1), help="Write iterations T (passes, with --write-chunk).")
@click.option("--write-chunk", type=click.IntRange(0),
              help="Patterns per write step: 0 = all (the paper's eq. 4), 1 = one at a time (the slots preset).")
@click.option("--clamp-known/--no-clamp-known", default=None,
              help="Train under clamped completion: the read holds each query's intact entries fixed.")
@click.option("--episode-chunks", type=click.IntRange(1),
              help="Write each training episode in C consecutive chunks (write, then write more), for incremental use.")
@click.option("--model-arg", "model_args", multiple=True, metavar="KEY=VALUE",
              help="A learned baseline's field (VALUE as JSON), e.g. --model memory_networks --model-arg width_follows_n=true; "
                   "repeatable; not with --resume.")
@click.option("--from", "start_from", metavar="RUN|FILE|NAME",
              help="Start a new run from a memory: another run's best memory (else its last checkpoint), a .safetensors "
                   "memory, or a shipped name. Its model and weights, a fresh optimiser at step 0; the training settings "
                   "of the run or file where it has them, else --preset's; the options given override them. Not with "
                   "--resume, --model, --model-arg, --energy, --hidden, -K, -T or --write-chunk.")
def train_binary(preset, patterns, min_patterns, steps, out_dir, resume, model_kind, distortion, energy, hidden, episodes,
                 read_steps, write_steps, write_chunk, clamp_known, episode_chunks, model_args, start_from, lr, clip_norm, group_lr,
                 seed, compile_, checkpoint_every, eval_every, threads, quiet, device, precision):
    """Meta-train an energy memory (or a learned baseline) on random 128-bit patterns."""
    from ..models.ebmm import EBMM
    from ..models import model_from_config, system_kinds
    from ..meta.trainer import train as run
    from ..presets import binary_base, energy_memory_config

    _set_threads(threads)
    kinds = system_kinds()
    if model_kind not in kinds:
        raise click.BadParameter(f"unknown model {model_kind!r}; choose one of {sorted(kinds)}", param_hint="--model")
    mcfg, tcfg = binary_base(preset, model_kind)
    baseline = None
    start_model = start = None
    if start_from is not None:
        _check_from(start_from, out_dir, "a memory takes its model",
                    (("--resume", "resume"), ("--model", "model_kind"), ("--model-arg", "model_args"), ("--energy", "energy"),
                     ("--hidden", "hidden"), ("--read-steps", "read_steps"), ("--write-steps", "write_steps"),
                     ("--write-chunk", "write_chunk")))
        start_model, run_tcfg, start = _binary_start(start_from)
        tcfg = run_tcfg or tcfg
    if resume:  # the saved run's configuration is the base; explicit options still override
        ck = _resumed(out_dir, "binary")
        tcfg = ck.train_config
        if isinstance(ck.model, EBMM):
            mcfg = ck.model.config
        else:
            baseline = ck.model
    if model_args and (resume or model_kind == "ebmm"):
        raise click.BadParameter("sets a new learned baseline's fields (not ebmm's, not a resumed run's)", param_hint="--model-arg")
    if not resume and model_kind != "ebmm":
        fields = {"max_patterns": patterns or tcfg.patterns,
                  **_key_values(model_args, "--model-arg", "KEY=VALUE (VALUE as JSON)", _json_or_text)}
        try:
            baseline = model_from_config(model_kind, fields)
        except (TypeError, ValueError) as e:
            raise click.BadParameter(str(e), param_hint="--model-arg") from None
    if baseline is not None and any(v is not None for v in (energy, hidden, read_steps, write_steps, write_chunk)):
        raise click.BadParameter("--energy, --hidden, -K, -T and --write-chunk apply to ebmm only", param_hint="--model")
    if distortion is not None:
        _parse_distortion(distortion)
    tcfg = _with_overrides(tcfg, group_lr, patterns=patterns, min_patterns=min_patterns, steps=steps, distortion=distortion, episodes=episodes,
                           lr=lr, clip_norm=clip_norm, seed=seed, compile=compile_, checkpoint_every=checkpoint_every,
                           eval_every=eval_every, clamp_known=clamp_known, write_chunks=episode_chunks,
                           device=device, precision=precision)
    if start_model is not None:
        model = start_model
    elif baseline is None:
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
        result = run(model, tcfg, out_dir, resume=resume, progress=not quiet, params=start)
    except TrainingInterrupted as e:
        raise _stopped(e) from None
    except (EBMMError, ValueError) as e:
        raise _training_failed(e) from None
    _echo_summary(result, out_dir)


def _check_from(start_from, out_dir: Path, takes: str, refused: tuple[tuple[str, str], ...]) -> None:
    """``--from``'s usage errors: an option of ``refused`` (flag, parameter) given on the command
    line (the run started from ``takes`` them: "a run started --from {takes}"), or ``--out`` the
    source itself."""
    ctx = click.get_current_context()
    given = [o for o, p in refused if ctx.get_parameter_source(p) == click.core.ParameterSource.COMMANDLINE]
    if given:
        raise click.BadParameter(f"a run started --from {takes}; not with {', '.join(given)}", param_hint="--from")
    if Path(start_from).resolve() == Path(out_dir).resolve():
        raise click.BadParameter("--out must be a new directory, not the run it starts from (or use --resume)",
                                 param_hint="--from")


def _binary_start(source: str):
    """``train binary --from SOURCE``: ``(model, training settings or None, weights)`` of a run
    directory (its best memory, else its last checkpoint, and the run's settings), a
    ``.safetensors`` memory (its settings where it keeps them) or a shipped name (none)."""
    from ..checkpoint import load_checkpoint
    from ..registry import load

    path = Path(source)
    if path.is_dir():
        ck = _started_from(path, "binary")
        return ck.model, ck.train_config, ck.params
    try:
        if path.is_file():
            ck = load_checkpoint(path)
            settings = ck.train_config if ck.train_config is not None and ck.train_config.task == "binary" else None
            return ck.model, settings, ck.params
        memory = load(source)  # a shipped name (a classical rule too: the trainer says it has nothing to train)
    except EBMMError as e:
        raise click.BadParameter(str(e), param_hint="--from") from None
    return memory.model, None, memory.params


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
@click.option("--distortion", help="FILL:SIDE (a square; FILL noise|binary|zeros|ones|mix|grey|patch|invert or fills joined by '+'), "
                                   "FILL:P% (P % of the pixels, scattered), or several joined by '|', each image drawing one: "
                                   "e.g. 'mix:16|noise:10%'. Default: the preset's (slots: mix:16, others noise:16).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("runs/images"), show_default=True,
              help="Run directory: checkpoint, best memory, metrics, config.")
@click.option("--from", "start_from", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Start a new run from another run's best memory (else its last checkpoint): its model, weights and "
                   "training settings, a fresh optimiser at step 0; the options given override the settings (e.g. "
                   "--distortion to fine-tune on other corruptions). Not with --resume, --preset, --energy, --energy-arg, "
                   "--memory-floats, --dataset or --data.")
@click.option("--energy-arg", "energy_args", multiple=True, metavar="KEY=VALUE",
              help="An energy constructor argument on top of the preset's (VALUE as JSON, or a bare string), e.g. "
                   "--energy-arg detector_features=gap; repeatable; not with --resume.")
@click.option("--resume", is_flag=True, help="Continue the run saved in --out (its data set and model).")
def train_images(dataset, data_path, preset, energy, memory_floats, patterns, distortion, energy_args, steps, episodes, lr, clip_norm,
                 group_lr, seed,
                 compile_, checkpoint_every, eval_every, out_dir, start_from, resume, threads, quiet, device, precision):
    """Meta-train an image memory (paper §4.2): store a batch of images, retrieve them from
    copies with a random square occluded. Held-out images score the memory (Hamming error on
    Omniglot and MNIST, squared error on natural images and CIFAR, per image)."""
    from ..meta.trainer import train as run
    from ..presets import image_preset
    from ..tasks import OCCLUSION_FILLS, Occlusion, parse_corruption, task_from_config

    _set_threads(threads)
    if resume and energy_args:
        raise click.BadParameter("a resumed run keeps its own energy", param_hint="--energy-arg")
    start = None
    if start_from is not None:
        _check_from(start_from, out_dir, "another takes its model and data",
                    (("--resume", "resume"), ("--energy-arg", "energy_args"), ("--preset", "preset"), ("--energy", "energy"),
                     ("--memory-floats", "memory_floats"), ("--dataset", "dataset"), ("--data", "data_path")))
        ck = _started_from(start_from, "images")
        model, tcfg, start = ck.model, ck.train_config, ck.params
    elif resume:
        ck = _resumed(out_dir, "images")
        model, tcfg = ck.model, ck.train_config
    else:
        from ..data import DATASET_SHAPE
        from ..models.ebmm import EBMM

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
            raise click.BadParameter(f"images take FILL:SIDE or FILL:P% (FILL one of {OCCLUSION_FILLS}, or fills joined by "
                                     f"'+'), got {distortion!r}", param_hint="--distortion")
    tcfg = _with_overrides(tcfg, group_lr, patterns=patterns, steps=steps, distortion=distortion, episodes=episodes, lr=lr, clip_norm=clip_norm,
                           seed=seed, compile=compile_, checkpoint_every=checkpoint_every, eval_every=eval_every,
                           device=device, precision=precision)
    _hint_unused_gpu(tcfg, quiet)
    try:
        task = task_from_config(tcfg.task, model.dim, tcfg.distortion, tcfg.dataset, tcfg.data_path)
        result = run(model, tcfg, out_dir, resume=resume, progress=not quiet, task=task, params=start)
    except TrainingInterrupted as e:
        raise _stopped(e) from None
    except EBMMError as e:
        raise _training_failed(e) from None
    except ModuleNotFoundError as e:
        raise _missing_package(tcfg.dataset, e) from None
    except ValueError as e:
        raise click.BadParameter(str(e)) from None
    _echo_summary(result, out_dir, memory_size=model.memory_size())
