"""Omniglot loading: synthetic fixtures in the official layout, and the real small zips."""

import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ebmm.data import (
    DatasetError,
    OmniglotSet,
    default_omniglot_path,
    load_omniglot,
    split_by_class,
)
from ebmm.data import omniglot as omniglot_module

# (alphabet, character, file name) -> ink square (top, left, side) in the 105×105 image
FIXTURE = {
    ("Alpha", "character01", "0101_01.png"): (0, 0, 53),
    ("Alpha", "character01", "0101_02.png"): (52, 52, 53),
    ("Alpha", "character02", "0102_01.png"): (0, 52, 53),
    ("Beta", "character01", "0201_07.png"): (52, 0, 53),
}
KEYS = sorted(FIXTURE)


def _png(top: int, left: int, side: int) -> Image.Image:
    """A one-bit 105×105 PNG like Omniglot's: True (white) background, a False (black) square."""
    pixels = np.ones((105, 105), dtype=bool)
    pixels[top : top + side, left : left + side] = False
    image = Image.fromarray(pixels)
    assert image.mode == "1"
    return image


def _write_tree(root: Path) -> Path:
    for (alphabet, character, name), square in FIXTURE.items():
        folder = root / "images_background" / alphabet / character
        folder.mkdir(parents=True, exist_ok=True)
        _png(*square).save(folder / name)
    return root


def _write_zip(path: Path, keys=KEYS, subset="images_background") -> Path:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(f"{subset}/", "")
        for key in keys:
            local = path.parent / "_tmp.png"
            _png(*FIXTURE[key]).save(local)
            archive.write(local, f"{subset}/{'/'.join(key)}")
            local.unlink()
    return path


@pytest.fixture
def omniglot_dir(tmp_path):
    return _write_tree(tmp_path / "tree")


@pytest.fixture
def omniglot_zip(tmp_path):
    return _write_zip(tmp_path / "images_background.zip")


def test_zip_and_folder_load_the_same(omniglot_dir, omniglot_zip):
    a, b = load_omniglot(omniglot_dir), load_omniglot(omniglot_zip)
    assert isinstance(a, OmniglotSet)
    np.testing.assert_array_equal(a.images, b.images)
    np.testing.assert_array_equal(a.labels, b.labels)
    assert a.classes == b.classes


def test_shape_binary_and_ink_is_one(omniglot_zip):
    data = load_omniglot(omniglot_zip)
    assert data.images.shape == (4, 1, 32, 32) and data.images.dtype == np.float32
    assert set(np.unique(data.images)) == {0.0, 1.0}
    # images are sorted by (alphabet, character, drawer) = KEYS; each has one ink square
    for image, key in zip(data.images[:, 0], KEYS, strict=True):
        top, left, side = FIXTURE[key]
        rows = slice(round(top * 32 / 105) + 1, round((top + side) * 32 / 105) - 1)
        cols = slice(round(left * 32 / 105) + 1, round((left + side) * 32 / 105) - 1)
        assert image[rows, cols].min() == 1.0, key  # inside the square: ink
        outside = np.ones_like(image, dtype=bool)
        near_rows = slice(max(rows.start - 2, 0), rows.stop + 2)
        near_cols = slice(max(cols.start - 2, 0), cols.stop + 2)
        outside[near_rows, near_cols] = False
        assert image[outside].max() == 0.0, key  # background
        assert abs(image.mean() - (side / 105) ** 2) < 0.05


def test_grey_levels_without_binarize(omniglot_zip):
    grey = load_omniglot(omniglot_zip, binarize=False).images
    assert grey.min() == 0.0 and grey.max() == 1.0
    assert ((grey > 0) & (grey < 1)).any()  # square edges fall inside output pixels
    binary = load_omniglot(omniglot_zip).images
    np.testing.assert_array_equal(binary, (grey >= 0.5).astype(np.float32))
    assert load_omniglot(omniglot_zip, size=16).images.shape == (4, 1, 16, 16)


def test_labels(omniglot_dir):
    data = load_omniglot(omniglot_dir)
    assert data.classes == ("Alpha/character01", "Alpha/character02", "Beta/character01")
    assert data.alphabets == ("Alpha", "Beta")
    np.testing.assert_array_equal(data.labels, [0, 0, 1, 2])
    np.testing.assert_array_equal(data.alphabet, [0, 0, 0, 1])
    np.testing.assert_array_equal(data.drawer, [1, 2, 1, 7])
    for i, (alphabet, character, _) in enumerate(KEYS):
        assert data.classes[data.labels[i]] == f"{alphabet}/{character}"
        assert data.alphabets[data.alphabet[i]] == alphabet


def test_duplicates_dropped_and_zips_merged(tmp_path, omniglot_dir):
    small1 = _write_zip(tmp_path / "images_background_small1.zip", KEYS[:3], "small1")
    small2 = _write_zip(tmp_path / "images_background_small2.zip", KEYS[1:], "small2")
    merged = load_omniglot([small1, small2])  # KEYS[1:3] are in both, byte-identical
    reference = load_omniglot(omniglot_dir)
    np.testing.assert_array_equal(merged.images, reference.images)
    np.testing.assert_array_equal(merged.labels, reference.labels)
    assert len(load_omniglot([small2, omniglot_dir, small1])) == 4
    # a folder holding only zips reads them
    zips_only = tmp_path / "zips"
    zips_only.mkdir()
    for z in (small1, small2):
        z.rename(zips_only / z.name)
    assert len(load_omniglot(zips_only)) == 4


def test_macos_metadata_is_ignored(tmp_path, omniglot_zip):
    with zipfile.ZipFile(omniglot_zip, "a") as archive:
        archive.writestr("__MACOSX/images_background/Alpha/character01/._0101_01.png", b"junk")
        archive.writestr("images_background/Alpha/character01/._0101_01.png", b"junk")
    assert len(load_omniglot(omniglot_zip)) == 4


def test_split_by_character(omniglot_dir):
    data = load_omniglot(omniglot_dir)
    train, test = split_by_class(data, 0.34, seed=0)
    assert isinstance(train, OmniglotSet) and len(train) + len(test) == len(data)
    assert not set(train.labels) & set(test.labels)
    assert len(np.unique(test.labels)) == 1
    assert len(train.drawer) == len(train.images) == len(train.alphabet)


@pytest.mark.parametrize("case", ["missing", "empty_dir", "no_png_zip", "not_zip", "bad_png",
                                  "bad_layout", "bad_name", "no_paths"])  # fmt: skip
def test_malformed_inputs_raise_dataset_error(tmp_path, case):
    target = tmp_path / "input.zip"
    if case == "missing":
        target = tmp_path / "nowhere"
    elif case == "empty_dir":
        target = tmp_path / "empty"
        target.mkdir()
    elif case == "no_png_zip":
        with zipfile.ZipFile(target, "w") as archive:
            archive.writestr("images_background/README.txt", "no images here")
    elif case == "not_zip":
        target.write_bytes(b"this is not a zip")
    elif case == "bad_png":
        with zipfile.ZipFile(target, "w") as archive:
            archive.writestr("images_background/Alpha/character01/0101_01.png", b"not a png")
    elif case == "bad_layout":
        with zipfile.ZipFile(target, "w") as archive:
            archive.writestr("0101_01.png", b"")
    elif case == "bad_name":
        with zipfile.ZipFile(target, "w") as archive:
            archive.writestr("images_background/Alpha/character01/picture.png", b"")
    with pytest.raises(DatasetError) as info:
        load_omniglot([] if case == "no_paths" else target)
    assert isinstance(info.value, ValueError)
    if case != "no_paths":
        assert str(target) in str(info.value)


def test_default_path(tmp_path, monkeypatch):
    monkeypatch.setenv("EBMM_OMNIGLOT", str(tmp_path))
    assert default_omniglot_path() == tmp_path
    monkeypatch.setenv("EBMM_OMNIGLOT", str(tmp_path / "gone"))
    with pytest.raises(DatasetError, match="EBMM_OMNIGLOT"):
        default_omniglot_path()
    monkeypatch.delenv("EBMM_OMNIGLOT")
    monkeypatch.setattr(omniglot_module, "OMNIGLOT_SEARCH_PATHS", (tmp_path / "none",))
    with pytest.raises(DatasetError, match="pass the path"):
        default_omniglot_path()


def _real_omniglot() -> Path:
    beside_checkout = Path(__file__).resolve().parents[2] / "shared" / "data" / "omniglot"
    for folder in (*omniglot_module.OMNIGLOT_SEARCH_PATHS, beside_checkout):
        if (folder / "images_background_small1.zip").exists():
            return folder
    pytest.skip("the shared Omniglot small zips are not on this machine")


def test_real_small_zips():
    folder = _real_omniglot()
    data = load_omniglot([folder / "images_background_small1.zip",
                          folder / "images_background_small2.zip"])  # fmt: skip
    assert data.images.shape == (4840, 1, 32, 32)
    assert len(data.classes) == 242 and len(data.alphabets) == 8
    assert np.bincount(data.labels).tolist() == [20] * 242
    assert set(np.unique(data.drawer)) == set(range(1, 21))
    assert set(np.unique(data.images)) == {0.0, 1.0}
    ink = data.images.mean()
    assert 0.03 < ink < 0.2  # strokes on a background: inverted, not all-white
    # the image border is background in almost every character
    assert data.images[:, 0, 0, :].mean() < 0.01
