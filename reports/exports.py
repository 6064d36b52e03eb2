"""A report's tables as a CSV file: what the page shows, cell for cell.

UTF-8 with a byte-order mark so Excel reads the accents; every cell through the formula-safe
writer (a source or sequence name such as `=HYPERLINK(...)` arrives as text). The tables are a
few dozen rows at most, so the file is built in memory.
"""

from __future__ import annotations

import io

from clientsflow.csvfiles import csv_writer
from reports.pages import ReportPage, Table

BOM = "\ufeff"


def page_tables(page: ReportPage) -> list[Table]:
    """Every table on the page, in page order: each chart's table, then the other tables."""
    return [table for _, table in page.charts] + list(page.tables)


def report_csv(page: ReportPage, *, table: str = "") -> str | None:
    """The CSV text of one table (`table` = its slug), or of every table one after another, each
    under its caption and followed by a blank row. None when no table has that slug."""
    tables = page_tables(page)
    if table:
        tables = [t for t in tables if t.slug == table]
        if not tables:
            return None
    buffer = io.StringIO()
    buffer.write(BOM)
    writer = csv_writer(buffer)
    for index, current in enumerate(tables):
        if len(tables) > 1:
            if index:
                writer.writerow([])
            writer.writerow([current.caption])
        writer.writerow(current.columns)
        writer.writerows(current.rows)
    return buffer.getvalue()
