"""Omniglot (Lake et al., 2015) read from its official release, as binary 32×32 images.

The release is ``images_background.zip`` (964 characters), ``images_evaluation.zip`` (659) and
the two subsets ``images_background_small1.zip`` / ``images_background_small2.zip``, each laid
out ``<subset>/<Alphabet>/characterNN/<id>_<drawer>.png``: 105×105 one-bit PNGs in which True
(white) is the background. :func:`load_omniglot` reads them from the zips or from their
extracted folders with one code path: inverts (ink = 1), resizes with Pillow's box filter
(each output pixel averages the input pixels whose centres fall in its 105/32-wide footprint),
binarises at 0.5, and drops byte-identical duplicates (Greek and Latin are in both small zips).

Nothing is downloaded: pass a path, or use :func:`default_omniglot_path` to find the copy
shared beside the repository (``$EBMM_OMNIGLOT``, or ``../shared/data/omniglot`` beside the checkout).
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np
from PIL import Image

from ._common import DatasetError, ImageSet, existing_path

OMNIGLOT_ENV = "EBMM_OMNIGLOT"
# Where default_omniglot_path() looks after $EBMM_OMNIGLOT: the project's shared data folder
# beside this checkout (src/ebmm/data/omniglot.py -> <checkout>/../shared/data/omniglot), found
# relative to this file, never by a machine's absolute path. An installed (non-editable)
# package has no checkout beside it: pass --data or set $EBMM_OMNIGLOT.
OMNIGLOT_SEARCH_PATHS: tuple[Path, ...] = tuple(
    p / "shared" / "data" / "omniglot" for p in Path(__file__).resolve().parents[4:5]
)

_LAYOUT = "<Alphabet>/<character>/<id>_<drawer>.png"
_FILE_NAME = re.compile(r"^(\d+)_(\d+)\.png$")


@dataclass(frozen=True, eq=False)
class OmniglotSet(ImageSet):
    """Omniglot images with their character, alphabet and drawer.

    **Fields** (besides :class:`ImageSet`'s ``images (n, 1, size, size)`` float32, binary by
    default, ink = 1):

    - ``labels``: ``(n,)`` int64 character index; ``classes[i]`` is ``"Alphabet/characterNN"``.
    - ``alphabet``: ``(n,)`` int64 index into ``alphabets`` (alphabet names, sorted).
    - ``drawer``: ``(n,)`` int64, the drawer number (1–20) from the file name.

    Images are sorted by (alphabet, character, drawer). Split by character with
    :func:`ebmm.data.split_by_class`.
    """

    alphabet: np.ndarray
    alphabets: tuple[str, ...]
    drawer: np.ndarray


@dataclass(frozen=True)
class _Record:
    alphabet: str
    character: str
    file_name: str
    drawer: int
    data: bytes
    origin: str  # where it came from, for error messages


def load_omniglot(
    path_or_paths: str | os.PathLike | Sequence[str | os.PathLike],
    *,
    size: int = 32,
    binarize: bool = True,
) -> OmniglotSet:
    """Load Omniglot from its official zips or their extracted folders.

    **Arguments:**

    - ``path_or_paths``: one path or a list of them. Each is a release zip
      (``images_background.zip``, ``images_evaluation.zip``, ``images_background_small1.zip``,
      ...) or a folder. A folder is read for ``.png`` files at any depth; a folder holding no
      PNG is read for the ``.zip`` files directly inside it (so the shared data folder, which
      holds the two small zips, loads as is). Each image's labels come from its last three
      path components, ``<Alphabet>/<character>/<id>_<drawer>.png``.
    - ``size``: output side in pixels (box-filter resampling from 105).
    - ``binarize``: threshold the resized ink at 0.5 to {0, 1}; if false, keep the grey levels.

    **Returns:** an :class:`OmniglotSet`, ``images (n, 1, size, size)`` float32 in [0, 1] with
    ink = 1; byte-identical files are kept once.

    **Raises:** :class:`DatasetError` if a path is missing, a zip is corrupt, no PNG is found, a
    PNG does not decode, or a path does not follow the layout above.

    Example::

        data = load_omniglot(default_omniglot_path())  # the two small zips: 4,840 images
        train, test = split_by_class(data, 0.25, seed=0)  # disjoint characters
    """
    if size < 1:
        raise ValueError(f"size must be a positive number of pixels, got {size}")
    if isinstance(path_or_paths, (str, os.PathLike)):
        paths = [path_or_paths]
    else:
        paths = list(path_or_paths)
    if not paths:
        raise DatasetError("load_omniglot: no path given; expected an Omniglot zip or folder")

    records: list[_Record] = []
    seen: set[bytes] = set()
    for path in paths:
        found = 0
        for record in _records(existing_path(path, "Omniglot zip or folder")):
            found += 1
            digest = hashlib.sha1(record.data).digest()
            if digest not in seen:
                seen.add(digest)
                records.append(record)
        if found == 0:
            raise DatasetError(f"no Omniglot PNG ({_LAYOUT}) found in {str(path)!r}")
    records.sort(key=lambda r: (r.alphabet, r.character, r.drawer, r.file_name))

    images = np.empty((len(records), 1, size, size), dtype=np.float32)  # (n, 1, size, size)
    for i, record in enumerate(records):
        images[i, 0] = _decode(record, size)
    if binarize:
        images = (images >= 0.5).astype(np.float32)  # ink covering at least half a pixel

    alphabets = tuple(sorted({r.alphabet for r in records}))
    classes = tuple(sorted({f"{r.alphabet}/{r.character}" for r in records}))
    alphabet_index = {name: i for i, name in enumerate(alphabets)}
    class_index = {name: i for i, name in enumerate(classes)}
    return OmniglotSet(
        images=images,
        labels=np.array([class_index[f"{r.alphabet}/{r.character}"] for r in records], np.int64),
        classes=classes,
        alphabet=np.array([alphabet_index[r.alphabet] for r in records], np.int64),
        alphabets=alphabets,
        drawer=np.array([r.drawer for r in records], np.int64),
    )


def default_omniglot_path() -> Path:
    """The local Omniglot copy to use when none is given.

    ``$EBMM_OMNIGLOT`` if set (it must exist), else the first existing of
    :data:`OMNIGLOT_SEARCH_PATHS` (``../shared/data/omniglot`` beside this repository's
    checkout). Raises :class:`DatasetError` telling the user to pass a
    path when there is none.
    """
    env = os.environ.get(OMNIGLOT_ENV)
    if env:
        path = Path(env).expanduser()
        if not path.exists():
            raise DatasetError(
                f"${OMNIGLOT_ENV} is {env!r}, which does not exist; point it at an Omniglot "
                "zip or folder, or unset it"
            )
        return path
    for path in OMNIGLOT_SEARCH_PATHS:
        if path.exists():
            return path
    raise DatasetError(
        "no local Omniglot copy found (looked at "
        + ", ".join(repr(str(p)) for p in OMNIGLOT_SEARCH_PATHS)
        + f"); pass the path of images_background.zip (or any Omniglot zip or extracted "
        f"folder) to load_omniglot(...), or set ${OMNIGLOT_ENV}. Nothing is downloaded."
    )


def _records(path: Path) -> Iterator[_Record]:
    if path.is_file():
        yield from _zip_records(path)
        return
    pngs = sorted(p for p in path.rglob("*") if _is_png(p.name) and "__MACOSX" not in p.parts)
    if pngs:
        for png in pngs:
            yield _record(png.parts, png.read_bytes(), str(png))
        return
    for zip_path in sorted(path.glob("*.zip")):
        yield from _zip_records(zip_path)


def _zip_records(path: Path) -> Iterator[_Record]:
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as err:
        raise DatasetError(f"{str(path)!r} is not a readable zip file ({err})") from err
    with archive:
        for info in archive.infolist():
            parts = PurePosixPath(info.filename).parts
            if info.is_dir() or not _is_png(info.filename) or "__MACOSX" in parts:
                continue
            origin = f"{path}:{info.filename}"
            try:
                data = archive.read(info)
            except (zipfile.BadZipFile, OSError) as err:
                raise DatasetError(f"cannot read {origin!r} ({err})") from err
            yield _record(parts, data, origin)


def _is_png(name: str) -> bool:
    base = PurePosixPath(name).name
    return base.lower().endswith(".png") and not base.startswith("._")


def _record(parts: Sequence[str], data: bytes, origin: str) -> _Record:
    match = _FILE_NAME.match(parts[-1]) if len(parts) >= 3 else None
    if match is None:
        raise DatasetError(f"{origin!r} does not follow the Omniglot layout {_LAYOUT}")
    return _Record(parts[-3], parts[-2], parts[-1], int(match.group(2)), data, origin)


def _decode(record: _Record, size: int) -> np.ndarray:
    """Ink in [0, 1] (1 = stroke), ``(size, size)`` float32, area-resampled."""
    try:
        with Image.open(io.BytesIO(record.data)) as image:
            grey = image.convert("L").convert("F")  # one-bit True (background) -> 255.0
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as err:
        raise DatasetError(f"{record.origin!r} is not a readable PNG ({err})") from err
    small = np.asarray(grey.resize((size, size), Image.Resampling.BOX), dtype=np.float32)
    return 1.0 - small / 255.0
