"""Natural-image patches from photographs bundled in scikit-image / scikit-learn wheels."""

import socket

import numpy as np
import pytest

from ebmm.data import NATURAL_SOURCES, natural_patches, natural_photographs
from ebmm.data import natural as natural_module


def _contains(photo: np.ndarray, patch: np.ndarray) -> bool:
    """Whether ``patch (32, 32, 3)`` is a window of ``photo (H, W, 3)``."""
    h, w, _ = photo.shape
    tops, lefts = np.nonzero((photo[: h - 31, : w - 31] == patch[0, 0]).all(-1))
    return any(np.array_equal(photo[t : t + 32, l : l + 32], patch) for t, l in zip(tops, lefts))


def test_train_patches():
    pytest.importorskip("skimage")
    patches = natural_patches("train", 64, seed=0)
    assert patches.shape == (64, 3, 32, 32) and patches.dtype == np.float32
    assert patches.min() >= 0.0 and patches.max() <= 1.0 and patches.std() > 0.05
    np.testing.assert_array_equal(patches, natural_patches("train", 64, seed=0))
    assert not np.array_equal(patches, natural_patches("train", 64, seed=1))
    assert len(natural_photographs("train")) == len(NATURAL_SOURCES["train"][3])


def test_scale_one_patches_are_windows_of_the_photographs():
    pytest.importorskip("skimage")
    photos = natural_photographs("train")
    patches = natural_patches("train", 4, seed=3, scales=(1,))
    for patch in np.round(patches * 255).astype(np.uint8).transpose(0, 2, 3, 1):
        assert any(_contains(photo, patch) for photo in photos)


def test_test_split_is_sklearns_sample_images():
    pytest.importorskip("sklearn")
    from sklearn.datasets import load_sample_images

    public = load_sample_images().images
    ours = natural_photographs("test")
    assert len(ours) == len(public) == 2
    for a, b in zip(ours, public, strict=True):
        np.testing.assert_array_equal(a, b)
    patches = natural_patches("test", 16, seed=0)
    assert patches.shape == (16, 3, 32, 32)


def test_no_network_is_used(monkeypatch):
    pytest.importorskip("skimage")
    pytest.importorskip("sklearn")

    def refuse(*args, **kwargs):
        raise AssertionError("natural_patches tried to open a network connection")

    monkeypatch.setattr(socket, "socket", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    natural_module._pyramid_level.cache_clear()
    for split in NATURAL_SOURCES:
        assert natural_patches(split, 2, seed=0).shape == (2, 3, 32, 32)


def test_bad_arguments():
    with pytest.raises(ValueError, match="split"):
        natural_patches("validation", 4)
    with pytest.raises(ValueError, match="scales"):
        natural_patches("train", 4, scales=(0,))
    with pytest.raises(ValueError, match="non-negative"):
        natural_patches("train", -1)
