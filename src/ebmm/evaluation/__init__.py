"""Evaluation protocols, tables and figures."""

from .binary import PAPER_PATTERNS, PAPER_TABLE1, ErrorStats, binary_table, evaluate_binary, table_markdown
from .images import PAPER_FIGURE3, evaluate_images, images_table_markdown, ratedistortion_markdown

__all__ = ["PAPER_FIGURE3", "PAPER_PATTERNS", "PAPER_TABLE1", "ErrorStats", "evaluate_images", "images_table_markdown",
           "ratedistortion_markdown", "binary_table", "evaluate_binary", "table_markdown"]
