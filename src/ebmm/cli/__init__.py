"""The ``ebmm`` command line: one module per command group, each parsing its options, calling
the library and printing (``ebmm --help`` lists them)."""

from ._app import main
from . import evaluate, files, show, tables, train  # noqa: F401 - registering the commands

__all__ = ["main"]
