"""The one way the app writes a CSV file a person may open in a spreadsheet.

A cell that starts with `=`, `+`, `-`, `@`, `|` or `%` can run as a formula (`=HYPERLINK(...)`
leaks data, `=cmd|...` reaches DDE), so defusedcsv prefixes it with `'`, which spreadsheets show
as text. defusedcsv leaves a leading tab or carriage return alone, yet Excel strips those and then
reads the formula behind them (OWASP "CSV Injection"), so they get the same quote here.
Plain numbers (`-12.5`) are written as they are.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import IO, Any

from defusedcsv import csv as defusedcsv

_WHITESPACE_TRIGGERS = ("\t", "\r", "\n")


def _defuse_whitespace(cell: Any) -> Any:
    if isinstance(cell, str) and cell[:1] in _WHITESPACE_TRIGGERS:
        return "'" + cell
    return cell


class SafeCsvWriter:
    def __init__(self, handle: IO[str], **fmtparams: Any) -> None:
        self._writer = defusedcsv.writer(handle, **fmtparams)

    def writerow(self, row: Iterable[Any]) -> Any:
        return self._writer.writerow([_defuse_whitespace(cell) for cell in row])

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        for row in rows:
            self.writerow(row)


def csv_writer(handle: IO[str], **fmtparams: Any) -> SafeCsvWriter:
    """A `csv.writer` whose every cell is defused against formula injection."""
    return SafeCsvWriter(handle, **fmtparams)
