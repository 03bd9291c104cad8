"""CIFAR-10 loading from fixture batches in the official python format."""

import os
import pickle
import struct

import numpy as np
import pytest

from ebmm.data import CIFAR10_CLASSES, DatasetError, ImageSet, load_cifar10

ROWS = 3  # images per fixture batch


def _batch(seed: int) -> dict:
    """A batch like the official ones: b'data' uint8 (N, 3072) as R, G, B planes, b'labels'."""
    data = np.zeros((ROWS, 3072), dtype=np.uint8)
    data[:, 0] = seed  # red (0, 0) tells the batches apart
    return {
        b"batch_label": f"fixture batch {seed}".encode(),
        b"labels": [(seed + i) % 10 for i in range(ROWS)],
        b"data": data,
        b"filenames": [f"img_{seed}_{i}.png".encode() for i in range(ROWS)],
    }


def _dump(obj, path, protocol=2) -> None:
    with open(path, "wb") as f:
        pickle.dump(obj, f, protocol=protocol)


@pytest.fixture(params=[2, 5], ids=["protocol2", "protocol5"])
def cifar_root(tmp_path, request):
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    for i in range(1, 6):
        batch = _batch(i)
        if i == 2:  # known pixels in image 1 of data_batch_2: one per channel plane
            batch[b"data"][1, 0 * 1024 + 3 * 32 + 5] = 200  # R at (y=3, x=5)
            batch[b"data"][1, 1 * 1024 + 0 * 32 + 31] = 17  # G at (y=0, x=31)
            batch[b"data"][1, 2 * 1024 + 31 * 32 + 31] = 255  # B at (y=31, x=31)
        _dump(batch, folder / f"data_batch_{i}", request.param)
    _dump(_batch(9), folder / "test_batch", request.param)
    meta = {b"label_names": [n.encode() for n in CIFAR10_CLASSES], b"num_vis": 3072}
    _dump(meta, folder / "batches.meta", request.param)
    return tmp_path


def test_train_split_decodes_channel_planes(cifar_root):
    data = load_cifar10(cifar_root, "train")
    assert isinstance(data, ImageSet)
    assert data.images.shape == (5 * ROWS, 3, 32, 32) and data.images.dtype == np.float32
    assert data.labels.dtype == np.int64 and data.classes == CIFAR10_CLASSES
    image = data.images[ROWS + 1]  # data_batch_2, row 1
    assert image[0, 3, 5] == pytest.approx(200 / 255)
    assert image[1, 0, 31] == pytest.approx(17 / 255)
    assert image[2, 31, 31] == 1.0
    assert np.count_nonzero(image) == 4  # those three and red (0, 0) = 2
    # batches in order 1..5
    np.testing.assert_array_equal(data.images[::ROWS, 0, 0, 0] * 255, [1, 2, 3, 4, 5])
    np.testing.assert_array_equal(data.labels[:ROWS], [1, 2, 3])


def test_test_split_and_folder_itself(cifar_root):
    data = load_cifar10(cifar_root / "cifar-10-batches-py", split="test")
    assert data.images.shape == (ROWS, 3, 32, 32)
    np.testing.assert_array_equal(data.labels, [9, 0, 1])
    assert 0.0 <= data.images.min() and data.images.max() <= 1.0


def test_class_names_default_without_meta(cifar_root):
    os.remove(cifar_root / "cifar-10-batches-py" / "batches.meta")
    assert load_cifar10(cifar_root, "test").classes == CIFAR10_CLASSES


def _corrupt(folder, case):
    path = folder / "data_batch_3"
    batch = _batch(3)
    if case == "missing_batch":
        path.unlink()
        return
    if case == "missing_key":
        del batch[b"labels"]
    elif case == "wrong_shape":
        batch[b"data"] = np.zeros((ROWS, 3000), dtype=np.uint8)
    elif case == "wrong_dtype":
        batch[b"data"] = np.zeros((ROWS, 3072), dtype=np.float64)
    elif case == "labels_length":
        batch[b"labels"] = [0] * (ROWS + 1)
    elif case == "labels_range":
        batch[b"labels"] = [0, 10, 1]
    elif case == "not_dict":
        batch = [1, 2, 3]
    if case == "garbage":
        path.write_bytes(b"definitely not a pickle")
    elif case == "truncated":
        path.write_bytes(pickle.dumps(batch, protocol=2)[:100])
    else:
        _dump(batch, path)


@pytest.mark.parametrize("case", ["missing_batch", "missing_key", "wrong_shape", "wrong_dtype",
                                  "labels_length", "labels_range", "not_dict", "garbage",
                                  "truncated"])  # fmt: skip
def test_malformed_batches_raise_dataset_error(cifar_root, case):
    _corrupt(cifar_root / "cifar-10-batches-py", case)
    with pytest.raises(DatasetError, match="data_batch_3"):
        load_cifar10(cifar_root, "train")
    load_cifar10(cifar_root, "test")  # the other split is untouched


def test_missing_or_wrong_folder(tmp_path):
    with pytest.raises(DatasetError, match="does not exist"):
        load_cifar10(tmp_path / "nowhere")
    with pytest.raises(DatasetError, match="cifar-10-batches-py"):
        load_cifar10(tmp_path)
    with pytest.raises(ValueError, match="split"):
        load_cifar10(tmp_path, split="validation")


class _Evil:
    def __reduce__(self):
        return (os.system, ("true",))


def test_pickle_that_runs_code_is_refused(cifar_root):
    batch = _batch(1) | {b"data": _Evil()}  # would run a harmless shell command if loaded
    _dump(batch, cifar_root / "cifar-10-batches-py" / "data_batch_1")
    with pytest.raises(DatasetError, match="refusing to load"):
        load_cifar10(cifar_root, "train")


def _py2_str(raw: bytes) -> bytes:
    if len(raw) < 256:
        return b"U" + bytes([len(raw)]) + raw  # SHORT_BINSTRING
    return b"T" + struct.pack("<i", len(raw)) + raw  # BINSTRING


def _python2_batch(data: np.ndarray, labels: list[int]) -> bytes:
    """The byte stream Python 2's cPickle (protocol 2) wrote for the released batches:
    str keys, ``numpy.core.multiarray._reconstruct``, the pixels as one str."""
    n, d = data.shape
    array = (
        b"cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\nK\x00\x85" + _py2_str(b"b")
        + b"\x87R(K\x01(J" + struct.pack("<i", n) + b"J" + struct.pack("<i", d) + b"t"
        + b"cnumpy\ndtype\n" + _py2_str(b"u1") + b"K\x00K\x01\x87R(K\x03" + _py2_str(b"|")
        + b"NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xffK\x00tb\x89" + _py2_str(data.tobytes()) + b"tb"
    )  # fmt: skip
    label_list = b"](" + b"".join(b"K" + bytes([label]) for label in labels) + b"e"
    return b"\x80\x02}(" + _py2_str(b"data") + array + _py2_str(b"labels") + label_list + b"u."


def test_python2_pickles_as_released(tmp_path):
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    data = np.zeros((2, 3072), dtype=np.uint8)
    data[1, 2 * 1024 + 4 * 32 + 7] = 51  # blue at (y=4, x=7) of image 1
    (folder / "test_batch").write_bytes(_python2_batch(data, [6, 2]))
    loaded = load_cifar10(tmp_path, "test")
    np.testing.assert_array_equal(loaded.labels, [6, 2])
    assert loaded.images[1, 2, 4, 7] == pytest.approx(0.2)
    assert np.count_nonzero(loaded.images) == 1
