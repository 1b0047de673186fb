"""A run's records as CSV that a spreadsheet opens as data, never as formulas.

OWASP's CSV injection guidance: a cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a
carriage return is read by Excel, LibreOffice Calc and Google Sheets as a formula, so such a cell
gets a leading apostrophe (shown as text, not run). This applies to every cell the way it is
written, whatever the directory value was: a string, the first entry of a list, a nested object.
Only JSON numbers stay as they are: a spreadsheet reads them as numbers, which run nothing.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from typing import Any

from connections.syncs.results import as_text

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n", "\0")


class _Line:
    """A file-like object whose ``write`` returns the text, so csv.writer yields one line at a time."""

    def write(self, text: str) -> str:
        return text


def csv_lines(columns: list[str], data: Iterable[dict[str, Any]]) -> Iterator[str]:
    """The header, then one line per record; every field quoted as RFC 4180 needs."""
    writer = csv.writer(_Line())
    yield "\ufeff" + writer.writerow([csv_cell(name) for name in columns])  # the BOM makes Excel read UTF-8
    for item in data:
        yield writer.writerow([csv_cell(item.get(name)) for name in columns])


def csv_cell(value: Any) -> str:
    """The cell's text, with a leading apostrophe when a spreadsheet would evaluate it."""
    text = as_text(value)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return text
    if text.startswith(FORMULA_STARTS):
        return "'" + text
    return text
