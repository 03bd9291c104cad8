"""The one place that reads and writes ``.safetensors`` files (memories, training checkpoints,
memory states).

Writes are atomic: the file is written beside its target, flushed to disk, then renamed over
it, so a crash mid-write never damages the last good file. Tensors are saved from the CPU, so
files are device-free.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import Tensor

from .errors import CheckpointError


def _new_file_beside(path: Path) -> str:
    """Create an empty, uniquely named temporary file beside ``path`` with the permissions any
    new file gets (mode 0666 less the process's umask, applied by the system, so the umask is
    never changed to be read), and return its name."""
    for _ in range(100):
        tmp = str(path.parent / f".{path.name}.{secrets.token_hex(8)}.tmp")
        try:
            os.close(os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))
            return tmp
        except FileExistsError:
            continue
    raise FileExistsError(f"could not create a temporary file beside {path}")


def save_safetensors(path: str | Path, tensors: dict[str, Tensor], metadata: dict[str, str]) -> Path:
    """Write ``tensors`` (any device) and string ``metadata`` to ``path`` atomically, with the
    ordinary permissions of a new file. Returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _new_file_beside(path)
    try:
        mode = os.stat(tmp).st_mode & 0o777  # what the system gave a new file, under the process's umask
        save_file({k: v.detach().cpu().contiguous() for k, v in tensors.items()}, tmp, metadata=metadata)
        os.chmod(tmp, mode)  # save_file leaves 0600
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
