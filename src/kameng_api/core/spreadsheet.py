"""Cells bound for spreadsheets (CSV/XLSX exports)."""

from __future__ import annotations

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(value: object) -> str:
    """Neutralise spreadsheet formula injection: prefix cells that could start a formula."""
    s = "" if value is None else str(value)
    if s and s[0] in FORMULA_STARTS:
        return "'" + s
    return s
