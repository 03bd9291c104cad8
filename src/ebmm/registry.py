"""Finding memories by name: the pretrained ones shipped in the package, the classical
baselines, and files on disk."""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import partial
from importlib import resources
from pathlib import Path

from .errors import PackageDataError, UnknownMemoryError
from .memory import AssociativeMemory, HopfieldMemory
from .models.hopfield import HOPFIELD_RULES

_PRETRAINED_DIR = "pretrained"


def _pretrained_root() -> Path:
    return Path(str(resources.files("ebmm").joinpath(_PRETRAINED_DIR)))


def pretrained() -> dict[str, dict]:
    """The memories shipped inside the package: ``{name: description}`` (from their index).

    Raises :class:`~ebmm.errors.PackageDataError` when the index is not there: the package was
    installed without its data files."""
    index = _pretrained_root() / "index.json"
    if not index.is_file():
        raise PackageDataError(
            f"the package data is missing: {index} does not exist, so the pretrained memories that ship with ebmm "
            "cannot be found; reinstall the package with its data files (pip install -e . from the source tree, or a "
            "wheel built from it)"
        )
    return json.loads(index.read_text())


def _baselines() -> dict[str, Callable[..., AssociativeMemory]]:
    return {f"hopfield-{r.replace('_', '-')}": partial(HopfieldMemory, rule=r) for r in HOPFIELD_RULES}


def hopfield_names() -> tuple[str, ...]:
    """The classical baselines' names, e.g. ``hopfield-hebb`` (the keys :func:`load` accepts)."""
    return tuple(_baselines())


def available() -> list[str]:
    """Every name :func:`load` accepts besides file paths."""
    return sorted(pretrained()) + sorted(_baselines())


def load(name_or_path: str | Path, *, device: str | None = "cpu", **kwargs) -> AssociativeMemory:
    """Load a memory: a shipped pretrained name (see :func:`pretrained`), a baseline name
    (e.g. ``hopfield-hebb``; ``kwargs`` such as ``dim`` go to its constructor), or a
    ``.safetensors`` path (or run directory) written by ``save`` or by ``ebmm train``.
    ``device`` (``auto|cpu|cuda|cuda:N|mps``; default ``"cpu"``, as every ``--device`` of the
    command line; ``auto``: CUDA when present) is where it computes
    (:meth:`~ebmm.memory.AssociativeMemory.to`); files are device-free, so a memory trained on
    a GPU loads on the CPU and back.

    Raises :class:`~ebmm.errors.UnknownMemoryError` for an unknown name,
    :class:`~ebmm.errors.CheckpointError` for a bad file and
    :class:`~ebmm.devices.DeviceError` for an absent device.
    """
    memory = _load(name_or_path, **kwargs)
    return memory.to(device if device is not None else "cpu")


def _load(name_or_path: str | Path, **kwargs) -> AssociativeMemory:
    key = str(name_or_path)
    baselines = _baselines()
    try:
        shipped = pretrained()
    except PackageDataError:
        if key not in baselines and not Path(key).exists() and Path(key).suffix != ".safetensors":
            raise  # a name only the missing index could resolve: say what is missing
        shipped = {}  # a baseline or a file loads without the package's own memories
    if kwargs and key not in baselines:
        raise TypeError(f"keyword arguments {sorted(kwargs)} apply only to baseline names, not to {key!r}")
    if key in shipped:
        return AssociativeMemory.from_file(_pretrained_root() / shipped[key]["file"], name=key)
    if key in baselines:
        return baselines[key](**kwargs)
    path = Path(key)
    if path.is_dir():
        for candidate in ("best.safetensors", "checkpoint.safetensors", "memory.safetensors"):
            if (path / candidate).is_file():  # a run directory: the memory is named after it
                return AssociativeMemory.from_file(path / candidate, name=path.resolve().name)
    if path.exists() or path.suffix == ".safetensors":
        return AssociativeMemory.from_file(path)
    raise UnknownMemoryError(
        f"unknown memory {key!r}: not a file, and not one of {', '.join(available()) or '(none)'}"
    )
