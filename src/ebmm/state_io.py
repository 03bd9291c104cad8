"""Saving and loading a written memory state (``MemoryState.save`` / :func:`load_state`).

A state file is a ``.safetensors`` file of the state's tensors (with their leading episode axis)
and metadata: the format tag, the fingerprint and name of the memory that wrote it, the number
of patterns it holds, and whether it was a batch. It loads only into a memory with the same
fingerprint — the same kind, and for a learned memory the same parameters — because a state
means nothing to any other memory.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import torch
from safetensors.torch import save_file

from .errors import CheckpointError
from .memory import AssociativeMemory, MemoryState
from .meta.checkpoint import read_safetensors

STATE_FORMAT = "ebmm-state-1"


def save_state(state: MemoryState, path: str | Path) -> Path:
    """Write ``state`` to ``path`` atomically (a temporary file renamed into place)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    meta = {
        "format": STATE_FORMAT,
        "fingerprint": state.owner.fingerprint(),
        "memory": state.owner.name,
        "n_patterns": str(state.n_patterns),
        "batched": json.dumps(state.batched),
        "batch_size": str(state.batch_size),
    }
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    os.close(fd)
    try:
        save_file({k: v.detach().cpu().contiguous() for k, v in state.tensors.items()}, tmp, metadata=meta)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def load_state(path: str | Path, memory: AssociativeMemory) -> MemoryState:
    """Read a state saved by :meth:`MemoryState.save` for ``memory`` (which must be the memory
    that wrote it, or one with the same fingerprint).

    Raises :class:`~ebmm.errors.CheckpointError` for a missing, corrupt or truncated file and
    ``ValueError`` for a state written by another memory.
    """
    path = Path(path)
    meta, tensors = read_safetensors(path, "state")
    if meta.get("format") != STATE_FORMAT:
        raise CheckpointError(f"{path} is not an ebmm memory state (format {meta.get('format')!r}, expected {STATE_FORMAT!r})")
    try:
        n, batch, batched = int(meta["n_patterns"]), int(meta["batch_size"]), bool(json.loads(meta["batched"]))
    except (KeyError, ValueError, TypeError) as e:
        raise CheckpointError(f"{path} has malformed metadata: {e}") from e
    if meta.get("fingerprint") != memory.fingerprint():
        raise ValueError(f"{path} holds a state written by {meta.get('memory')!r}, not by {memory.name!r}")
    if n < 1 or batch < 1 or any(t.dim() < 1 or t.shape[0] != batch for t in tensors.values()):
        raise CheckpointError(f"{path}: its tensors do not match its metadata ({batch} sets)")
    if not all(torch.isfinite(t).all() for t in tensors.values() if t.is_floating_point()):
        raise CheckpointError(f"{path}: the state holds NaN or infinite values (corrupt?)")
    return MemoryState(tensors, n, batch, batched, memory)
