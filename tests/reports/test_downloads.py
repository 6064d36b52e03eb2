"""Every report's tables as CSV: what the page shows, with the page's filters, formula-safe."""

from __future__ import annotations

import csv
import io
import re
from html import unescape

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from leads.models import Lead
from reports.exports import page_tables
from reports.pages import REPORTS
from reports.periods import owner_today, period_for
from reports.seed import seed_report_data
from tests.leads.factories import staff_user

pytestmark = pytest.mark.django_db

SLUGS = list(REPORTS)
BOM = "\ufeff"


@pytest.fixture
def owner_client(client):
    client.force_login(staff_user("owner"))
    return client


def _rows(response) -> list[list[str]]:  # type: ignore[no-untyped-def]
    raw = b"".join(response.streaming_content) if response.streaming else response.content
    text = raw.decode("utf-8")
    assert text.startswith(BOM)
    return list(csv.reader(io.StringIO(text[len(BOM) :])))


def _html_tables(html: str) -> list[list[list[str]]]:
    """Each `<table>` on the page as rows of cell text, header row first."""
    tables = []
    for body in re.findall(r"<table.*?</table>", html, flags=re.S):
        rows = []
        for row in re.findall(r"<tr>(.*?)</tr>", body, flags=re.S):
            rows.append([unescape(cell).strip() for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, flags=re.S)])
        tables.append(rows)
    return tables


@pytest.mark.parametrize("slug", SLUGS)
def test_each_table_downloads_as_the_page_shows_it_with_the_page_filters(owner_client, slug):
    seed_report_data(leads=90, now=timezone.now())
    query = "range=this_year&source=ghl"
    html = owner_client.get(f"/reports/{slug}/?{query}").content.decode()
    assert f'href="/reports/{slug}.csv?range=this_year&amp;source=ghl"' in html
    shown = _html_tables(html)
    links = [unescape(href) for href in re.findall(r'href="(/reports/[^"]+\.csv\?[^"]*table=[^"]+)"', html)]
    assert len(links) == len(shown) > 0

    for link, table in zip(links, shown, strict=True):
        response = owner_client.get(link)
        assert response.status_code == 200
        assert response["Content-Type"] == "text/csv; charset=utf-8"
        assert "attachment;" in response["Content-Disposition"] and "-ghl.csv" in response["Content-Disposition"]
        rows = _rows(response)
        if table[1:] == [["Nothing in this range."]]:
            assert rows == table[:1]
        else:
            assert rows == table


def test_the_whole_report_in_one_file_is_every_table_under_its_caption(owner_client):
    seed_report_data(leads=60, now=timezone.now())
    period = period_for("90d", today=owner_today())
    rows = _rows(owner_client.get("/reports/funnel.csv?range=90d"))
    expected: list[list[str]] = []
    for index, table in enumerate(page_tables(REPORTS["funnel"].build(period))):
        expected += ([[]] if index else []) + [[table.caption], table.columns, *table.rows]
    assert rows == expected
    assert rows[2][0] == "New" and int(rows[2][1].replace(",", "")) > 0


def test_the_csv_follows_the_source_filter(owner_client):
    seed_report_data(leads=60, now=timezone.now())
    every = _rows(owner_client.get("/reports/funnel.csv?range=this_year&table=conversion-every-source"))
    ghl = _rows(owner_client.get("/reports/funnel.csv?range=this_year&source=ghl&table=conversion-every-source"))
    assert every[0] == ghl[0] == ["Stage", "Leads", "To the next stage", "To paid"]
    new_every, new_ghl = int(every[1][1].replace(",", "")), int(ghl[1][1].replace(",", ""))
    year = period_for("this_year", today=owner_today())
    created = Lead.objects.filter(created_at__gte=year.start_at, created_at__lt=year.end_at)
    assert new_ghl == created.filter(source="ghl").count()
    assert 0 < new_ghl < new_every


def test_a_formula_looking_cell_is_neutralised(owner_client):
    seed_report_data(leads=30, now=timezone.now())
    Lead.objects.filter(source="ghl").update(source='=HYPERLINK("http://evil.example","x")')
    rows = _rows(owner_client.get("/reports/funnel.csv?range=this_year&table=by-source"))
    cells = [row[0] for row in rows[1:]]
    assert '\'=HYPERLINK("http://evil.example","x")' in cells
    assert not any(cell.startswith("=") for row in rows for cell in row)


def test_downloads_need_the_report_permissions(client):
    assert client.get("/reports/funnel.csv").status_code == 302  # to the login page
    client.force_login(get_user_model().objects.create_user("nobody", password="x", is_staff=True))
    for slug in SLUGS:
        assert client.get(f"/reports/{slug}.csv").status_code == 403
    client.force_login(staff_user("assistant", role="Assistant"))
    assert client.get("/reports/revenue.csv").status_code == 403
    assert client.get("/reports/funnel.csv").status_code == 200


def test_bad_filters_or_an_unknown_table_say_what_to_do(owner_client):
    response = owner_client.get("/reports/funnel.csv?range=custom&start=2026-05-01&end=2026-04-01")
    assert response.status_code == 400
    assert "The To date is before the From date" in response.content.decode()
    assert owner_client.get("/reports/funnel.csv?table=nope").status_code == 404
    assert owner_client.get("/reports/nope.csv").status_code == 404
