"""Every source file compiles with warnings as errors, on every Python we support.

An invalid escape such as ``"\\s"`` in a docstring is a DeprecationWarning on Python 3.11 (which
pyproject's ``filterwarnings`` ignores) but a SyntaxWarning on 3.12+, which our
``filterwarnings = error`` turns into an import error of the whole suite. Compiling each file
under ``warnings.simplefilter("error")`` catches it on 3.11 too. A valid escape that was meant
as maths (``"\\tfrac"``, ``"\\beta"``) compiles silently into a TAB or a backspace, so docstrings
are also checked for control characters.
"""

from __future__ import annotations

import ast
import warnings
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = ("src", "tests", "benchmarks")


def _python_files() -> list[Path]:
    files = sorted(p for folder in FOLDERS for p in (ROOT / folder).rglob("*.py"))
    assert len(files) > 50, "expected the package, its tests and benchmarks"
    return files


def _compile_strictly(source: str, path: str) -> None:
    """Compile ``source`` with every warning raised as an error."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        compile(source, path, "exec")


def test_the_strict_compile_rejects_an_invalid_escape(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text('"""E(x) = \\sum_j \\mu_j"""\n', encoding="utf-8")
    with pytest.raises((SyntaxError, SyntaxWarning, DeprecationWarning)):
        _compile_strictly(bad.read_text(encoding="utf-8"), str(bad))
    _compile_strictly('r"""E(x) = \\sum_j \\mu_j"""\n', "good.py")


def test_every_source_file_compiles_with_warnings_as_errors():
    failures = []
    for path in _python_files():
        try:
            _compile_strictly(path.read_text(encoding="utf-8"), str(path))
        except (SyntaxError, Warning) as error:
            failures.append(f"{path.relative_to(ROOT)}: {type(error).__name__}: {error}")
    assert not failures, "\n".join(failures)


def _docstrings(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            doc = ast.get_docstring(node, clean=False)
            if doc is not None:
                yield getattr(node, "lineno", 1), doc


def test_no_docstring_holds_a_control_character():
    """``"\\tfrac"`` or ``"\\big"`` in a non-raw docstring is a TAB or a backspace."""
    failures = []
    for path in _python_files():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for line, doc in _docstrings(tree):
            bad = sorted({repr(c) for c in doc if ord(c) < 32 and c != "\n"})
            if bad:
                failures.append(f"{path.relative_to(ROOT)}:{line}: {', '.join(bad)} (use a raw docstring)")
    assert not failures, "\n".join(failures)
