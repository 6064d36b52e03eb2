"""Tables as files a person opens in a spreadsheet, written a row at a time.

CSV goes out as it is written (UTF-8 with a byte-order mark so Excel reads the accents, every
cell through the formula-safe writer). XLSX cannot be streamed as it is built (it is a ZIP whose
directory comes last), so xlsxwriter writes it in `constant_memory` mode, one row flushed at a
time, to a temporary file that is then sent from disk: memory stays flat whatever the row count.
"""

from __future__ import annotations

import io
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime
from typing import IO, Any

import xlsxwriter

from clientsflow.csvfiles import csv_writer

BOM = "\ufeff"
# Rows buffered per chunk sent: fewer, larger writes to the socket, still a few kilobytes.
ROWS_PER_CHUNK = 200
# Excel's own limit; past it the file would not open.
XLSX_MAX_ROWS = 1_048_576


def csv_chunks(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Iterator[str]:
    """The CSV text in chunks: the BOM and header first, then `ROWS_PER_CHUNK` rows at a time."""
    buffer = io.StringIO()
    writer = csv_writer(buffer)
    buffer.write(BOM)
    writer.writerow(header)
    pending = 0
    for row in rows:
        writer.writerow(["" if cell is None else cell for cell in row])
        pending += 1
        if pending >= ROWS_PER_CHUNK:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
            pending = 0
    yield buffer.getvalue()


def _xlsx_cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, datetime):
        # Excel has no time zones: write the UTC wall time, which the header says.
        return value if value.tzinfo is None else value.astimezone(UTC).replace(tzinfo=None)
    if isinstance(value, (int, float, str)):
        return value
    return str(value)


def xlsx_file(header: Sequence[str], rows: Iterable[Sequence[Any]], *, sheet: str = "Export") -> IO[bytes]:
    """The workbook in a temporary file, rewound; the caller sends it and closing it deletes it.

    Every string is written as a string (`write_string`), never as a formula, whatever it starts
    with. Rows past Excel's limit are refused rather than cut silently.
    """
    handle = tempfile.TemporaryFile(suffix=".xlsx")  # noqa: SIM115 (closed by the response)
    workbook = xlsxwriter.Workbook(
        handle,
        {
            "constant_memory": True,
            "strings_to_formulas": False,
            "strings_to_urls": False,
            "strings_to_numbers": False,
            "default_date_format": "yyyy-mm-dd hh:mm:ss",
        },
    )
    worksheet = workbook.add_worksheet(sheet[:31])
    bold = workbook.add_format({"bold": True})
    for col, title in enumerate(header):
        worksheet.write_string(0, col, str(title), bold)
    row_number = 0
    for row_number, row in enumerate(rows, start=1):
        if row_number >= XLSX_MAX_ROWS:
            workbook.close()
            handle.close()
            raise ValueError("More rows than a spreadsheet holds; narrow the filters or download CSV instead.")
        for col, value in enumerate(row):
            cell = _xlsx_cell(value)
            if isinstance(cell, str):
                worksheet.write_string(row_number, col, cell)
            else:
                worksheet.write(row_number, col, cell)
    workbook.close()
    handle.seek(0)
    return handle
