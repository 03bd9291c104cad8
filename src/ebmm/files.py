"""The one place that reads and writes ``.safetensors`` files (memories, training checkpoints,
memory states).

Writes are atomic: the file is written beside its target, flushed to disk, then renamed over
it, so a crash mid-write never damages the last good file. Tensors are saved from the CPU, so
files are device-free.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import Tensor

from .errors import CheckpointError


def save_safetensors(path: str | Path, tensors: dict[str, Tensor], metadata: dict[str, str]) -> Path:
    """Write ``tensors`` (any device) and string ``metadata`` to ``path`` atomically, with the
    ordinary permissions of a new file. Returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    try:
        save_file({k: v.detach().cpu().contiguous() for k, v in tensors.items()}, tmp, metadata=metadata)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp's 0600 (kept by save_file) -> a new file's ordinary permissions
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def read_safetensors(path: str | Path, what: str) -> tuple[dict[str, str], dict[str, Tensor]]:
    """``(metadata, tensors)`` of a safetensors file; :class:`~ebmm.errors.CheckpointError` if it
    is missing, unreadable or truncated (``what`` names the file's role in the message)."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"no {what} file at {path}")
    try:
        from safetensors import safe_open

        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
        return meta, load_file(str(path))
    except (SafetensorError, OSError, ValueError, RuntimeError) as e:
        raise CheckpointError(f"{path} is not a readable safetensors file (corrupt or truncated?): {e}") from e
