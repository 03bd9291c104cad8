"""Checkpoints: one safetensors file holding a memory (and, for training runs, the optimiser).

Layout — tensors ``params/<group>/<name>`` (the :data:`MetaParams` pytree) and, in training
checkpoints, ``optim/<i>/<key>``; string metadata ``format``, ``format_version`` (the layout's
version, :data:`FORMAT_VERSION`; absent in files written before it was recorded, which are
version 1), ``model_kind`` (``ebmm`` or a learned baseline; absent means ``ebmm``),
``memory_config`` (the model's JSON config), ``train_config`` (JSON), ``step``, ``skipped``,
``optim_groups`` (JSON) and free ``info``.

**Versions.** A file of an older version is brought to today's layout by the model's
``migrate(tensors, version)`` (e.g. tensors added since, filled with the values the file was
trained with). A file of the current version is read as it is: a tensor missing there is damage
and raises :class:`~ebmm.errors.CheckpointError`. Whoever changes a model's tensor layout bumps
:data:`FORMAT_VERSION` and teaches ``migrate`` the step.

Writes are atomic and files device-free (:mod:`ebmm.files`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from .config import TrainConfig, to_dict, train_config_from_dict
from .errors import CheckpointError
from .files import read_safetensors, save_safetensors
from .models import model_from_config
from .models.protocol import LearnedModel, MetaParams

FORMAT = "ebmm-memory-v1"
#: the tensor layout's version, recorded in every file written (files without one are version 1:
#: written before the slot energies' writing-energy and image-slot read terms, and the per-term write rates)
FORMAT_VERSION = 2


@dataclass
class Checkpoint:
    """What a checkpoint file holds."""

    model: LearnedModel
    params: MetaParams
    train_config: TrainConfig | None = None
    step: int = 0
    skipped: int = 0
    optimizer_state: dict[str, Any] | None = None
    info: dict[str, Any] = field(default_factory=dict)


def _flatten(params: MetaParams) -> dict[str, Tensor]:
    return {f"params/{g}/{n}": t.detach().contiguous() for g, d in params.items() for n, t in d.items()}


def _optim_to_tensors(state: dict[str, Any]) -> tuple[dict[str, Tensor], str]:
    tensors = {}
    for idx, s in state["state"].items():
        for key, val in s.items():
            tensors[f"optim/{idx}/{key}"] = torch.as_tensor(val).detach().contiguous()
    return tensors, json.dumps(state["param_groups"])


def _optim_from_tensors(tensors: dict[str, Tensor], groups_json: str) -> dict[str, Any]:
    state: dict[int, dict[str, Tensor]] = {}
    for key, val in tensors.items():
        if key.startswith("optim/"):
            _, idx, name = key.split("/", 2)
            state.setdefault(int(idx), {})[name] = val
    return {"state": state, "param_groups": json.loads(groups_json)}


def save_checkpoint(path: str | Path, ckpt: Checkpoint) -> Path:
    """Write ``ckpt`` to ``path`` atomically. Returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tensors = _flatten(ckpt.params)
    meta = {
        "format": FORMAT,
        "format_version": str(FORMAT_VERSION),
        "model_kind": ckpt.model.kind,
        "memory_config": json.dumps(ckpt.model.config_dict()),
        "step": str(ckpt.step),
        "skipped": str(ckpt.skipped),
        "info": json.dumps(ckpt.info),
    }
    if ckpt.train_config is not None:
        meta["train_config"] = json.dumps(to_dict(ckpt.train_config))
    if ckpt.optimizer_state is not None:
        opt_tensors, groups = _optim_to_tensors(ckpt.optimizer_state)
        tensors.update(opt_tensors)
        meta["optim_groups"] = groups
    return save_safetensors(path, tensors, meta)


def load_checkpoint(path: str | Path) -> Checkpoint:
    """Read and validate a checkpoint.

    Raises :class:`~ebmm.errors.CheckpointError` when the file is missing, unreadable,
    truncated, of another format, or its tensors do not match its own configuration.
    """
    path = Path(path)
    meta, tensors = read_safetensors(path, "checkpoint")
    if meta.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not an ebmm memory (format {meta.get('format')!r}, expected {FORMAT!r})")
    try:
        model = model_from_config(meta.get("model_kind", "ebmm"), json.loads(meta["memory_config"]))
        tcfg = train_config_from_dict(json.loads(meta["train_config"])) if "train_config" in meta else None
        step, skipped = int(meta.get("step", 0)), int(meta.get("skipped", 0))
        info = json.loads(meta.get("info", "{}"))
        version = int(meta.get("format_version", "1"))
    except (KeyError, TypeError, ValueError) as e:
        raise CheckpointError(f"{path} has malformed metadata: {e}") from e
    if version > FORMAT_VERSION:
        raise CheckpointError(f"{path} has format version {version}, written by a newer ebmm; this one reads up to "
                              f"version {FORMAT_VERSION}")

    migrate = getattr(model, "migrate", None)  # an older layout of the same model, if any
    if migrate is not None and version < FORMAT_VERSION:  # a current file is taken as it is: nothing is filled in
        tensors = migrate(tensors, version)
    # the pytree the configuration requires, to check the file against (a fresh initialisation:
    # ~2 ms; on the meta device it would allocate nothing but costs ~1.5 s of first-dispatch)
    expected = model.init_params()
    params: MetaParams = {}
    for group, d in expected.items():
        params[group] = {}
        for name, ref in d.items():
            key = f"params/{group}/{name}"
            if key not in tensors:
                raise CheckpointError(f"{path} lacks tensor {key!r} required by its configuration")
            if tensors[key].shape != ref.shape:
                raise CheckpointError(
                    f"{path}: tensor {key!r} has shape {tuple(tensors[key].shape)}, "
                    f"its configuration needs {tuple(ref.shape)}"
                )
            if not torch.isfinite(tensors[key]).all():
                raise CheckpointError(f"{path}: tensor {key!r} holds non-finite values")
            params[group][name] = tensors[key].float().clone()  # own, aligned memory: identical outputs
    extra = {k for k in tensors if k.startswith("params/")} - {
        f"params/{g}/{n}" for g, d in expected.items() for n in d
    }
    if extra:
        raise CheckpointError(f"{path} holds tensors its configuration does not know: {sorted(extra)[:5]}")
    optim = _optim_from_tensors(tensors, meta["optim_groups"]) if "optim_groups" in meta else None
    return Checkpoint(model, params, tcfg, step, skipped, optim, info)
