"""Evaluation protocols, tables and figures."""

from .binary import PAPER_PATTERNS, PAPER_TABLE1, ErrorStats, binary_table, evaluate_binary, table_markdown

__all__ = ["PAPER_PATTERNS", "PAPER_TABLE1", "ErrorStats", "binary_table", "evaluate_binary", "table_markdown"]
