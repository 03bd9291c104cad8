"""The ``ebmm`` command group and what every command shares: threads, ``--device``, loading a
memory by name, parsing N lists, corruptions and KEY=VALUE options, the command line for result files."""

from __future__ import annotations

import json

import click

from ..errors import EBMMError


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
    from ..devices import DeviceError, resolve_device

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


def _load_memory(name_or_path: str, device: str | None = None, **kwargs):
    from ..registry import load

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
    from ..tasks import Distortion, check_corruption

    try:
        return Distortion.parse(value) if event_shape is None else check_corruption(value, event_shape)
    except ValueError as e:
        raise click.BadParameter(str(e), param_hint="--distortion") from None


def _command_line(unused: tuple[str, ...] = ()) -> str:
    """The running command, rebuilt from its parsed options so figures and tables record how
    to remake them (also when invoked in-process, where argv is not ours); the options named in
    ``unused`` (parameter names) are left out, for a command where they had no effect."""
    ctx = click.get_current_context()
    root = ctx.find_root().info_name or "ebmm"  # "ebmm", or "python -m ebmm" when run as a module
    parts = ["ebmm", *ctx.command_path.split()[len(root.split()):]]
    for param in ctx.command.params:
        value = ctx.params.get(param.name)
        if not isinstance(param, click.Option) or value is None or param.name in unused:
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


def _key_values(items: tuple[str, ...], hint: str, expected: str, parse) -> dict:
    """``("KEY=VALUE", ...)`` -> ``{KEY: parse(VALUE)}``: a usage error saying ``expected`` for an
    item without ``KEY=`` or whose VALUE ``parse`` rejects (raises ``ValueError``). The one parser
    behind ``--energy-arg``, ``--read`` and ``--group-lr``."""
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        try:
            if not (sep and key):
                raise ValueError(item)
            out[key] = parse(value)
        except ValueError:
            raise click.BadParameter(f"expected {expected}, got {item!r}", param_hint=hint) from None
    return out


def _json_or_text(value: str):
    """A VALUE as JSON (numbers, booleans, lists), else the string itself."""
    try:
        return json.loads(value)
    except json.JSONDecodeError:
        return value


def _number(value: str) -> int | float:
    """A VALUE that must be a JSON number (``ValueError`` otherwise)."""
    parsed = json.loads(value)
    if not isinstance(parsed, (int, float)):
        raise ValueError(value)
    return parsed


def _energy_args(items: tuple[str, ...]) -> dict:
    """``("detector_features=gap", "candidates=4")`` -> ``{"detector_features": "gap", "candidates": 4}``:
    each VALUE parsed as JSON, else kept as a string; a usage error without ``=``."""
    return _key_values(items, "--energy-arg", "KEY=VALUE", _json_or_text)


def _number_or_list(value: str) -> int | float | list:
    """A VALUE that must be a JSON number or a JSON list of numbers (``ValueError`` otherwise)."""
    parsed = json.loads(value)
    if isinstance(parsed, list) and parsed and all(isinstance(v, (int, float)) for v in parsed):
        return parsed
    return _number(value)


def _read_options(items: tuple[str, ...]) -> dict:
    """``("recheck=4", "choice_weights=[0.1, ...]")`` -> ``{"recheck": 4, "choice_weights": [0.1, ...]}``;
    a usage error for anything but KEY=NUMBER or KEY=[NUMBER, ...]."""
    return _key_values(items, "--read", "KEY=NUMBER or KEY=[NUMBER,...]", _number_or_list)
