"""The one writer of result files: a JSON record, a markdown table that ends with the command
that made it, and optionally a figure — the layout every ``results/`` folder shares."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any


def write_report(
    out_dir: str | Path,
    record: dict[str, Any],
    markdown: str,
    *,
    stem: str | tuple[str, str] = ("results", "table"),
    figure: tuple[str, Callable[[Path], None]] | None = None,
) -> list[Path]:
    """Write ``record`` (which carries its ``command``) as JSON and ``markdown`` followed by
    ``Made by: `command``` into ``out_dir`` (created). ``stem``: one name for both files
    (``table1`` -> ``table1.json``, ``table1.md``) or a ``(json stem, markdown stem)`` pair;
    ``figure``: ``(file name, draw)`` where ``draw(path)`` saves the plot. Returns the paths."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    json_stem, md_stem = (stem, stem) if isinstance(stem, str) else stem
    paths = [out / f"{json_stem}.json", out / f"{md_stem}.md"]
    paths[0].write_text(json.dumps({k: v for k, v in record.items() if k != "markdown"}, indent=2))
    paths[1].write_text(f"{markdown}\n\nMade by: `{record.get('command', '')}`\n")
    if figure is not None:
        name, draw = figure
        draw(out / name)
        paths.append(out / name)
    return paths
