"""The board's view and the leads list as CSV (BOM, formula-safe, streamed) and XLSX."""

from __future__ import annotations

import csv
import io
import subprocess
import sys
import zipfile
from datetime import UTC, datetime, timedelta
from xml.etree import ElementTree

import pytest
from django.conf import settings
from django.http import StreamingHttpResponse
from django.utils import timezone

from leads.models import Lead
from privacy import tables
from privacy.tables import BOM, xlsx_file
from tests.leads.factories import LeadFactory, staff_user

pytestmark = pytest.mark.django_db

HEADER = ["Lead id", "Name", "Email", "Company", "Arrived (UTC)"]

# Run in a fresh interpreter so its peak resident memory (ru_maxrss) is the export's alone; the
# rows come from a generator, as they come from a server-side cursor in the views. tracemalloc
# would measure the same but makes a million rows take minutes.
_PEAK_SCRIPT = """
import resource, sys
from privacy.tables import csv_chunks, xlsx_file

def rows(n):
    for i in range(n):
        yield [f"lead-{i}", f"Person {i}", f"p{i}@example.com", "=cmd|' /C calc'!A0", "2026-11-30 12:00:00"]

kind, n = sys.argv[1], int(sys.argv[2])
header = ["Lead id", "Name", "Email", "Company", "Arrived (UTC)"]
if kind == "csv":
    size = sum(len(chunk) for chunk in csv_chunks(header, rows(n)))
else:
    handle = xlsx_file(header, rows(n))
    size = handle.seek(0, 2)
print(size, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def _peak(kind: str, rows: int) -> tuple[int, int]:
    """(bytes written, peak resident KiB) of exporting `rows` rows in a fresh interpreter."""
    result = subprocess.run(
        [sys.executable, "-c", _PEAK_SCRIPT, kind, str(rows)],
        check=True,
        capture_output=True,
        text=True,
        cwd=settings.BASE_DIR,
    )
    size, peak = result.stdout.split()
    return int(size), int(peak)


def test_a_million_csv_rows_stream_in_constant_memory():  # type: ignore[no-untyped-def]
    small_size, small_peak = _peak("csv", 10_000)
    size, peak = _peak("csv", 1_000_000)
    assert size > 90 * small_size  # every row was written: ~75 MB of CSV
    assert peak - small_peak < 8 * 1024, f"grew by {peak - small_peak} KiB for 990,000 more rows"


def test_xlsx_rows_are_written_in_constant_memory():  # type: ignore[no-untyped-def]
    small_size, small_peak = _peak("xlsx", 5_000)
    size, peak = _peak("xlsx", 200_000)
    assert size > 30 * small_size
    assert peak - small_peak < 8 * 1024, f"grew by {peak - small_peak} KiB for 195,000 more rows"


def test_more_rows_than_a_spreadsheet_holds_are_refused(monkeypatch):  # type: ignore[no-untyped-def]
    monkeypatch.setattr(tables, "XLSX_MAX_ROWS", 10)  # Excel's 1,048,576, made small to be quick
    with pytest.raises(ValueError, match="download CSV"):
        xlsx_file(HEADER, ([i] for i in range(20)))


@pytest.fixture
def leads():  # type: ignore[no-untyped-def]
    ada = LeadFactory(name="Ada Lovelace", email="ada@example.com", company='=HYPERLINK("http://evil")')
    ada.created_at = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    Lead.objects.filter(pk=ada.pk).update(created_at=ada.created_at)
    LeadFactory(name="Zoë Bücher", email="zoe@example.com", company="Straße AG", stage="booked")
    LeadFactory(name="Other", email="other@example.com", source="import")
    return ada


def _csv(response) -> list[list[str]]:  # type: ignore[no-untyped-def]
    assert isinstance(response, StreamingHttpResponse)
    raw = b"".join(response.streaming_content).decode("utf-8")
    assert raw.startswith(BOM)
    return list(csv.reader(io.StringIO(raw[1:])))


def test_board_csv_has_the_filters_applied_bom_and_no_formulas(client, leads):  # type: ignore[no-untyped-def]
    client.force_login(staff_user("viewer", role="Viewer"))
    rows = _csv(client.get("/board/export.csv", {"source": "website"}))

    assert rows[0][:3] == ["Lead id", "Name", "Email"]
    names = {row[1] for row in rows[1:]}
    assert names == {"Ada Lovelace", "Zoë Bücher"}
    ada = next(row for row in rows if row[1] == "Ada Lovelace")
    assert ada[4].startswith("'=")  # shown as text, never run
    assert "2026-11-30 12:00:00" in ada

    searched = _csv(client.get("/board/export.csv", {"q": "zoë", "stage": "booked"}))
    assert [row[1] for row in searched[1:]] == ["Zoë Bücher"]


def test_board_xlsx_has_the_filters_applied_and_strings_stay_strings(client, leads):  # type: ignore[no-untyped-def]
    client.force_login(staff_user("viewer", role="Viewer"))
    response = client.get("/board/export.xlsx", {"q": "ada"})
    assert response["Content-Type"].startswith("application/vnd.openxmlformats")
    values, formulas = _sheet(b"".join(response.streaming_content))
    assert values[0][1] == "Name"
    assert values[1][1] == "Ada Lovelace"
    assert values[1][4] == '=HYPERLINK("http://evil")'
    assert formulas == 0  # written as a string cell, never as a formula


def _sheet(body: bytes) -> tuple[list[list[str]], int]:
    """The first sheet's rows as text, and how many formula cells it has (read from the XML)."""
    with zipfile.ZipFile(io.BytesIO(body)) as archive:
        root = ElementTree.fromstring(archive.read("xl/worksheets/sheet1.xml"))  # noqa: S314 (our own file)
    ns = {"x": "http://schemas.openxmlformats.org/spreadsheetml/2006/main"}
    rows = [["".join(cell.itertext()) for cell in row.findall("x:c", ns)] for row in root.iter(f"{{{ns['x']}}}row")]
    return rows, len(root.findall(".//x:f", ns))


def test_board_export_needs_the_view_permission(client, leads):  # type: ignore[no-untyped-def]
    user = staff_user("nobody", role="Viewer")
    user.groups.clear()
    client.force_login(user)
    assert client.get("/board/export.csv").status_code == 403
    client.logout()
    assert client.get("/board/export.xlsx").status_code == 302


def test_the_board_links_its_current_view_as_csv(client, leads):  # type: ignore[no-untyped-def]
    client.force_login(staff_user("viewer", role="Viewer"))
    page = client.get("/board/", {"source": "website", "q": "ada"}).content.decode()
    assert 'href="/board/export.csv?q=ada&amp;source=website"' in page


def test_the_board_export_follows_every_board_filter(client):  # type: ignore[no-untyped-def]
    now = timezone.now()
    fresh = LeadFactory(name="Fresh unseen", source="website")
    seen = LeadFactory(name="Seen last week", source="website")
    booked = LeadFactory(name="Booked yesterday", source="ghl", stage="booked")
    merged = LeadFactory(name="Merged away", source="ghl", stage="booked")
    Lead.objects.filter(pk=fresh.pk).update(created_at=now - timedelta(minutes=20), seen_at=None)
    Lead.objects.filter(pk=seen.pk).update(created_at=now - timedelta(days=5), seen_at=now)
    Lead.objects.filter(pk=booked.pk).update(created_at=now - timedelta(hours=20), seen_at=now)
    Lead.objects.filter(pk=merged.pk).update(created_at=now - timedelta(hours=2), seen_at=None, merged_into=booked)
    client.force_login(staff_user("viewer", role="Viewer"))

    def exported(**query: str) -> set[str]:
        return {row[1] for row in _csv(client.get("/board/export.csv", query))[1:]}

    assert exported() == {"Fresh unseen", "Seen last week", "Booked yesterday"}  # merged leads are not on the board
    assert exported(since="1h") == {"Fresh unseen"}
    assert exported(since="24h") == {"Fresh unseen", "Booked yesterday"}
    assert exported(unseen="1") == {"Fresh unseen"}
    assert exported(stage="booked") == {"Booked yesterday"}
    assert exported(source="website", since="7d") == {"Fresh unseen", "Seen last week"}
    assert exported(source="ghl", unseen="1") == set()

    page = client.get("/board/", {"source": "website", "stage": "new", "since": "7d", "unseen": "1"}).content.decode()
    assert 'href="/board/export.csv?source=website&amp;stage=new&amp;since=7d&amp;unseen=1"' in page
