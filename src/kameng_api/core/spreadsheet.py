"""Cells bound for spreadsheets (CSV/XLSX exports)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from datetime import UTC, datetime
from decimal import Decimal

from openpyxl import Workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_safe(value: object) -> str:
    """Neutralise spreadsheet formula injection: prefix cells that could start a formula."""
    s = "" if value is None else str(value)
    if s and s[0] in FORMULA_STARTS:
        return "'" + s
    return s


def _cell(value: object) -> object:
    """Numbers stay numbers; text is neutralised (openpyxl would write ``=…`` as a formula)."""
    if value is None or isinstance(value, (int, float, Decimal)):
        return value
    if isinstance(value, datetime):
        return value.astimezone(UTC).replace(tzinfo=None)
    return csv_safe(value)


def csv_bytes(header: list[str], rows: Iterable[list[object]]) -> bytes:
    """A CSV file (UTF-8 with BOM, so spreadsheet programs read Chinese right)."""
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(header)
    for row in rows:
        w.writerow(
            [
                format(v, "f") if isinstance(v, Decimal) else "" if v is None else _cell(v)
                for v in row
            ]
        )
    return "\ufeff".encode() + buf.getvalue().encode()


def xlsx_bytes(title: str, header: list[str], rows: Iterable[list[object]]) -> bytes:
    """An XLSX workbook with one sheet (times in UTC)."""
    wb = Workbook(write_only=True)
    ws = wb.create_sheet(title[:31])
    ws.append(header)
    for row in rows:
        # XML 1.0 has no control characters: a memo holding one would fail the whole file
        ws.append([_xml_safe(_cell(v)) for v in row])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def _xml_safe(value: object) -> object:
    if isinstance(value, str):
        return ILLEGAL_CHARACTERS_RE.sub("\ufffd", value)
    return value
