"""What the image loaders share: ImageSet, split_by_class, bundled-file lookup, DatasetError."""

import numpy as np
import pytest

from ebmm.data import DatasetError, ImageSet, split_by_class
from ebmm.data._bundled import bundled_file
from ebmm.errors import EBMMError


def _data(n_classes=8, per_class=3) -> ImageSet:
    labels = np.repeat(np.arange(n_classes), per_class)
    images = np.arange(len(labels), dtype=np.float32)[:, None, None, None] * np.ones((1, 1, 2, 2))
    return ImageSet(images.astype(np.float32), labels, tuple(f"c{i}" for i in range(n_classes)))


def test_subset_keeps_images_and_labels_together():
    data = _data()
    part = data.subset(data.labels % 2 == 0)
    assert len(part) == 12 and part.classes == data.classes
    np.testing.assert_array_equal(part.images[:, 0, 0, 0], np.flatnonzero(data.labels % 2 == 0))
    np.testing.assert_array_equal(data.subset(np.array([5, 0])).labels, [1, 0])


def test_split_by_class_is_disjoint_and_deterministic():
    data = _data()
    train, test = split_by_class(data, 0.25, seed=0)
    assert len(np.unique(test.labels)) == 2 and len(np.unique(train.labels)) == 6
    assert not set(train.labels) & set(test.labels)
    assert len(train) + len(test) == len(data)
    again, _ = split_by_class(data, 0.25, seed=0)
    np.testing.assert_array_equal(train.labels, again.labels)
    splits = {tuple(np.unique(split_by_class(data, 0.25, seed=s)[1].labels)) for s in range(10)}
    assert len(splits) > 1  # the seed matters


def test_split_by_class_bad_arguments():
    with pytest.raises(ValueError):
        split_by_class(_data(), 1.0)
    with pytest.raises(ValueError):
        split_by_class(_data(n_classes=1), 0.5)


def test_dataset_error_is_a_value_error_and_ours():
    assert issubclass(DatasetError, ValueError) and issubclass(DatasetError, EBMMError)


def test_bundled_file_lookup():
    with pytest.raises(ModuleNotFoundError, match="pip install no-such-dist"):
        bundled_file("ebmm_no_such_package", "no-such-dist", "x.png", "a test")
    with pytest.raises(DatasetError, match="missing from the installed pillow"):
        bundled_file("PIL", "pillow", "no/such/file.png", "a test")
    assert bundled_file("PIL", "pillow", "__init__.py", "a test").is_file()
