"""CIFAR-10 read from the user's disk in its official "python version" format.

The release unpacks to ``cifar-10-batches-py/`` holding ``data_batch_1`` … ``data_batch_5``
(train, 10,000 images each), ``test_batch`` (10,000) and ``batches.meta``. Each batch is a
pickled dict with ``b'data'``: uint8 ``(N, 3072)``, one row per image, the 1024 red values
first, then green, then blue, each plane row-major 32×32; and ``b'labels'``: N ints in 0–9.

Pickles can run code when loaded, so they are read with an unpickler that only rebuilds
numpy arrays and plain containers; anything else is refused with :class:`DatasetError`.
Nothing is downloaded.
"""

from __future__ import annotations

import importlib
import os
import pickle
from pathlib import Path
from typing import Any

import numpy as np

from ._common import DatasetError, ImageSet, existing_path

CIFAR10_CLASSES = (
    "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck",
)  # fmt: skip
_FOLDER = "cifar-10-batches-py"
_BATCHES = {
    "train": tuple(f"data_batch_{i}" for i in range(1, 6)),
    "test": ("test_batch",),
}
# What the official pickles (Python 2 cPickle of numpy arrays) and re-pickled copies (Python 3,
# protocols 2-5, numpy 1 or 2) need, and nothing more.
_CORE = ("core", "_core")  # numpy 1 and numpy 2 names of the same module
_ALLOWED_GLOBALS = {
    *((f"numpy.{core}.multiarray", name) for core in _CORE for name in ("_reconstruct", "scalar")),
    *((f"numpy.{core}.numeric", "_frombuffer") for core in _CORE),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("_codecs", "encode"),  # how protocol 2 writes bytes from Python 3
}


def load_cifar10(root: str | os.PathLike, split: str = "train") -> ImageSet:
    """Load CIFAR-10 from the official python-format batches on disk.

    **Arguments:**

    - ``root``: the ``cifar-10-batches-py`` folder, or a folder containing it.
    - ``split``: ``"train"`` (``data_batch_1..5``, 50,000 images) or ``"test"``
      (``test_batch``, 10,000 images).

    **Returns:** an :class:`ImageSet`: ``images (n, 3, 32, 32)`` float32 in [0, 1] (channels
    R, G, B), ``labels (n,)`` int64 in 0–9, ``classes`` the ten class names (from
    ``batches.meta`` when present).

    **Raises:** :class:`DatasetError` if the folder or a batch file is missing, a batch is not a
    valid pickle of the expected dict, or its ``data`` / ``labels`` have the wrong shape.
    """
    if split not in _BATCHES:
        raise ValueError(f"split must be one of {tuple(_BATCHES)}, got {split!r}")
    folder = _batches_folder(existing_path(root, "CIFAR-10 folder"))
    images, labels = [], []
    for name in _BATCHES[split]:
        path = folder / name
        if not path.is_file():
            raise DatasetError(
                f"CIFAR-10 batch {str(path)!r} is missing; expected {', '.join(_BATCHES[split])} "
                f"in {str(folder)!r}"
            )
        batch_images, batch_labels = _read_batch(path)
        images.append(batch_images)
        labels.append(batch_labels)
    return ImageSet(
        images=np.concatenate(images),
        labels=np.concatenate(labels),
        classes=_class_names(folder / "batches.meta"),
    )


def _decode_rows(data: np.ndarray) -> np.ndarray:
    """Rows of a CIFAR batch, uint8 ``(N, 3072)`` as R, G, B planes, to float32
    ``(N, 3, 32, 32)`` in [0, 1]."""
    return data.reshape(-1, 3, 32, 32).astype(np.float32) / 255.0


def _batches_folder(root: Path) -> Path:
    if (root / _FOLDER).is_dir():
        return root / _FOLDER
    batch_names = [name for names in _BATCHES.values() for name in names]
    if root.is_dir() and any((root / name).exists() for name in batch_names):
        return root
    raise DatasetError(
        f"{str(root)!r} is not a CIFAR-10 folder: expected {_FOLDER}/ (the official python "
        "version, with data_batch_1..5 and test_batch) in it, or to be that folder"
    )


class _NumpyOnlyUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in _ALLOWED_GLOBALS:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name}")
        if module.startswith(("numpy.core.", "numpy._core.")):  # numpy 2 renamed core -> _core
            rest = module.split(".", 2)[2]
            for candidate in (f"numpy._core.{rest}", f"numpy.core.{rest}"):
                try:
                    return getattr(importlib.import_module(candidate), name)
                except ImportError:
                    continue
        return getattr(importlib.import_module(module), name)


def _unpickle(path: Path) -> Any:
    try:
        with open(path, "rb") as f:
            return _NumpyOnlyUnpickler(f, encoding="bytes").load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError) as err:
        raise DatasetError(f"{str(path)!r} is not a CIFAR-10 python pickle ({err})") from err


def _read_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    batch = _unpickle(path)
    if not isinstance(batch, dict) or b"data" not in batch or b"labels" not in batch:
        found = sorted(batch) if isinstance(batch, dict) else type(batch).__name__
        raise DatasetError(
            f"{str(path)!r} holds {found}; expected a dict with keys b'data' and b'labels'"
        )
    data = batch[b"data"]
    if not (isinstance(data, np.ndarray) and data.dtype == np.uint8 and data.ndim == 2
            and data.shape[1] == 3 * 32 * 32):  # fmt: skip
        desc = f"{data.dtype} {data.shape}" if isinstance(data, np.ndarray) else type(data).__name__
        raise DatasetError(f"{str(path)!r}: b'data' is {desc}; expected uint8 (N, 3072)")
    try:
        labels = np.asarray(batch[b"labels"], dtype=np.int64)
    except (TypeError, ValueError) as err:
        raise DatasetError(f"{str(path)!r}: b'labels' is not a list of integers") from err
    if labels.shape != (len(data),):
        raise DatasetError(
            f"{str(path)!r}: b'labels' has shape {labels.shape}; expected ({len(data)},), "
            "one per row of b'data'"
        )
    if labels.size and (labels.min() < 0 or labels.max() >= len(CIFAR10_CLASSES)):
        raise DatasetError(f"{str(path)!r}: b'labels' outside 0–9")
    return _decode_rows(data), labels


def _class_names(meta_path: Path) -> tuple[str, ...]:
    if not meta_path.is_file():
        return CIFAR10_CLASSES
    meta = _unpickle(meta_path)
    names = meta.get(b"label_names") if isinstance(meta, dict) else None
    if not isinstance(names, list) or len(names) != len(CIFAR10_CLASSES):
        raise DatasetError(f"{str(meta_path)!r}: expected b'label_names', a list of 10 names")
    return tuple(n.decode() if isinstance(n, bytes) else str(n) for n in names)
