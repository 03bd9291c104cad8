"""What every image loader shares: its error, its labelled-images container, a class split."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from pathlib import Path

import numpy as np

from ..errors import EBMMError


class DatasetError(EBMMError, ValueError):
    """A data set path is missing or malformed; the message names the path and what was expected."""


@dataclass(frozen=True, eq=False)  # eq on arrays would be ambiguous
class ImageSet:
    """Images with one integer class label each.

    **Fields:**

    - ``images``: ``(n, C, H, W)`` float32 in [0, 1] (``C`` = 1 or 3).
    - ``labels``: ``(n,)`` int64, an index into ``classes``.
    - ``classes``: the class names, ``classes[labels[i]]`` names image ``i``.

    ``torch.from_numpy(data.images)`` gives a tensor without a copy.
    """

    images: np.ndarray
    labels: np.ndarray
    classes: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.images)

    def subset(self, index: np.ndarray) -> ImageSet:
        """The images selected by ``index`` (a boolean mask ``(n,)`` or integer indices),
        every per-image field sliced alike; class names are kept."""
        index = np.asarray(index)
        per_image = {
            f.name: getattr(self, f.name)[index]
            for f in fields(self)
            if isinstance(getattr(self, f.name), np.ndarray)
        }
        return replace(self, **per_image)


def split_by_class(
    data: ImageSet, test_fraction: float = 0.25, *, seed: int = 0
) -> tuple[ImageSet, ImageSet]:
    """Split ``data`` so that no class is in both parts (e.g. Omniglot by character).

    A random ``round(test_fraction · k)`` of the ``k`` classes present (at least one, at most
    ``k − 1``) goes to the test part. Deterministic in ``seed``.

    **Returns:** ``(train, test)``, two ``ImageSet`` of the same type as ``data``.
    """
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must lie in (0, 1), got {test_fraction}")
    present = np.unique(data.labels)
    if len(present) < 2:
        raise ValueError(f"cannot split {len(present)} class(es) into two disjoint parts")
    n_test = min(max(round(test_fraction * len(present)), 1), len(present) - 1)
    test_classes = np.random.default_rng(seed).choice(present, size=n_test, replace=False)
    in_test = np.isin(data.labels, test_classes)
    return data.subset(~in_test), data.subset(in_test)


def existing_path(path: str | Path, what: str) -> Path:
    """``path`` as a ``Path`` if it exists, else a ``DatasetError`` saying what was expected."""
    p = Path(path).expanduser()
    if not p.exists():
        raise DatasetError(f"{what}: {str(p)!r} does not exist")
    return p
