"""The ``ebmm`` command line: train, eval, recall, demo, list."""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

import click

from .errors import EBMMError


def _set_threads(threads: int | None):
    if threads:
        import torch

        torch.set_num_threads(threads)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="ebmm")
def main():
    """Meta-learned energy-based associative memory (Bartunov et al.)."""


# ------------------------------------------------------------------------------------ train
@main.group()
def train():
    """Meta-train a memory."""


@train.command("binary")
@click.option("--preset", type=click.Choice(["fast", "paper", "tiny"]), default="fast", show_default=True,
              help="Base configuration; the options below override its fields.")
@click.option("--patterns", "-N", type=click.IntRange(1), help="Patterns stored per episode.")
@click.option("--steps", "-S", type=click.IntRange(1), help="Meta-training steps.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("runs/binary"), show_default=True,
              help="Run directory: checkpoints, metrics.jsonl, config.json.")
@click.option("--resume", is_flag=True, help="Continue the run saved in --out.")
@click.option("--distortion", help="KIND:K with KIND erase|replace|flip|zero (default erase:64).")
@click.option("--energy", type=click.Choice(["logcosh", "gated_rnn"]), help="Energy network.")
@click.option("--hidden", type=click.IntRange(1), help="Energy hidden size.")
@click.option("--episodes", type=click.IntRange(1), help="Episodes per meta-step.")
@click.option("--read-steps", "-K", type=click.IntRange(1), help="Read iterations K.")
@click.option("--write-steps", "-T", type=click.IntRange(1), help="Write iterations T.")
@click.option("--lr", type=click.FloatRange(0, min_open=True), help="AdamW learning rate.")
@click.option("--clip-norm", type=click.FloatRange(0, min_open=True), help="Global gradient-norm clip.")
@click.option("--seed", type=int, help="Random seed.")
@click.option("--compile/--no-compile", "compile_", default=None, help="torch.compile the meta-step.")
@click.option("--checkpoint-every", type=click.IntRange(1), help="Steps between checkpoints.")
@click.option("--eval-every", type=click.IntRange(0), help="Steps between held-out evaluations (0: never).")
@click.option("--threads", type=click.IntRange(1), help="torch CPU threads.")
@click.option("--quiet", is_flag=True, help="No progress bar.")
def train_binary(preset, patterns, steps, out_dir, resume, distortion, energy, hidden, episodes, read_steps,
                 write_steps, lr, clip_norm, seed, compile_, checkpoint_every, eval_every, threads, quiet):
    """Meta-train an energy memory on random 128-bit patterns."""
    from .meta.trainer import train as run
    from .presets import PRESETS
    from .tasks import Distortion

    _set_threads(threads)
    mcfg, tcfg = PRESETS[preset]
    if resume:  # the saved run's configuration is the base; explicit options still override
        from .meta.checkpoint import load_checkpoint
        from .meta.trainer import CHECKPOINT_NAME

        try:
            ck = load_checkpoint(out_dir / CHECKPOINT_NAME)
        except EBMMError as e:
            raise click.ClickException(f"--resume: {e}") from None
        mcfg, tcfg = ck.memory_config, ck.train_config or tcfg
    if distortion is not None:
        try:
            Distortion.parse(distortion)
        except ValueError as e:
            raise click.BadParameter(str(e), param_hint="--distortion") from None
    tcfg = dataclasses.replace(tcfg, **{k: v for k, v in dict(
        patterns=patterns, steps=steps, distortion=distortion, episodes=episodes, lr=lr, clip_norm=clip_norm,
        seed=seed, compile=compile_, checkpoint_every=checkpoint_every, eval_every=eval_every).items() if v is not None})
    ekw = dict(mcfg.energy.kwargs)
    if energy is not None and energy != mcfg.energy.kind:
        ekw = {}
    if hidden is not None:
        ekw["hidden"] = hidden
    mcfg = dataclasses.replace(
        mcfg,
        energy=dataclasses.replace(mcfg.energy, kind=energy or mcfg.energy.kind, kwargs=ekw),
        read=dataclasses.replace(mcfg.read, steps=read_steps or mcfg.read.steps),
        write=dataclasses.replace(mcfg.write, steps=write_steps or mcfg.write.steps),
        max_patterns=tcfg.patterns,
    )
    if Distortion.parse(tcfg.distortion).count > mcfg.energy.dim:
        raise click.BadParameter(f"cannot corrupt more than {mcfg.energy.dim} positions", param_hint="--distortion")
    try:
        result = run(mcfg, tcfg, out_dir, resume=resume, progress=not quiet)
    except EBMMError as e:
        raise click.ClickException(str(e)) from None
    summary = {"step": result.step, "skipped_steps": result.skipped,
               "final_eval_error_bits": result.final_eval_error_bits,
               "best_eval_error_bits": result.best_eval_error_bits, "out": str(out_dir)}
    click.echo(json.dumps(summary))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
