"""What the ``ebmm train`` commands share: the training options, their overrides of a preset,
resuming, the summary line, and how an interrupted or failed run is reported."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import click

from ..errors import EBMMError, TrainingInterrupted
from ._app import _key_values, _resolve_device


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
    def multiplier(value: str) -> float:
        m = float(value)
        if m < 0:
            raise ValueError(value)
        return m

    given = _key_values(group_lr, "--group-lr", "GROUP=MULT with MULT >= 0, e.g. read=10 or static/matcher.=0", multiplier)
    return dataclasses.replace(tcfg, group_lr={**tcfg.group_lr, **given}, **{k: v for k, v in values.items() if v is not None})


def _resumed(out_dir: Path, task: str, option: str = "--resume", name: str | None = None):
    """The checkpoint of the ``task`` run saved in ``out_dir`` (for ``--resume``; ``--from`` reads
    the file ``name`` there, e.g. the run's best memory)."""
    from ..checkpoint import load_checkpoint
    from ..meta.trainer import CHECKPOINT_NAME

    try:
        ck = load_checkpoint(out_dir / (name or CHECKPOINT_NAME))
    except EBMMError as e:
        raise click.ClickException(f"{option}: {e}") from None
    if ck.train_config is None:
        raise click.ClickException(f"{option}: {out_dir} holds no training configuration")
    if ck.train_config.task != task:
        raise click.ClickException(f"{option}: {out_dir} is a {ck.train_config.task} run; continue it with "
                                   f"`ebmm train {ck.train_config.task} {option}`")
    return ck


def _started_from(run_dir: Path, task: str):
    """``--from RUN``: the checkpoint a new run starts from — ``RUN``'s best memory where it has one,
    else its last checkpoint — whose model, weights and training settings the new run takes
    (a fresh optimiser, step 0, its own directory)."""
    from ..meta.trainer import BEST_NAME, CHECKPOINT_NAME

    best = (run_dir / BEST_NAME).is_file()
    if not best and not (run_dir / CHECKPOINT_NAME).is_file():
        raise click.BadParameter(f"{run_dir} holds no {BEST_NAME} or {CHECKPOINT_NAME}", param_hint="--from")
    return _resumed(run_dir, task, "--from", BEST_NAME if best else CHECKPOINT_NAME)


def _echo_summary(result, out_dir: Path, **extra):
    """The one JSON line a training command prints when it ends (rank 0 only, under torchrun).
    After a multi-process run every rank then leaves at once (exit status 0), skipping the
    interpreter's teardown of gloo's threads (see :func:`ebmm.meta.distributed.ended_process_group`)."""
    import os
    import sys

    from ..meta.distributed import ended_process_group

    if os.environ.get("RANK", "0") == "0":
        click.echo(json.dumps({"step": result.step, "skipped_steps": result.skipped, "train_cpu_s": round(result.train_cpu_s, 1), **extra,
                               f"final_eval_{result.metric}": result.final_eval_error,
                               f"best_eval_{result.metric}": result.best_eval_error, "out": str(out_dir)}))
    if ended_process_group() and int(os.environ.get("WORLD_SIZE", "1")) > 1:  # a torchrun rank whose group has ended
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)


def _hint_unused_gpu(tcfg, quiet: bool) -> None:
    """One stderr line when a run trains on the CPU (the default) while a CUDA GPU is visible."""
    import os

    import torch

    from ..devices import resolve_device

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

    from ..devices import DeviceError

    if isinstance(error, DeviceError) and os.environ.get("RANK", "0") != "0":
        return click.exceptions.Exit(1)
    return click.ClickException(str(error))


def _missing_package(dataset: str, error: ModuleNotFoundError) -> click.ClickException:
    return click.ClickException(f"{dataset} needs an optional package: {error} (pip install 'ebmm[data]')")
