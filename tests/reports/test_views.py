"""The report pages: who may see them, empty data, bad filters, and a query count that does not
grow with the data."""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from reports.pages import REPORTS
from reports.seed import seed_report_data
from tests.leads.factories import staff_user

pytestmark = pytest.mark.django_db

SLUGS = list(REPORTS)


@pytest.fixture
def owner_client(client):
    client.force_login(staff_user("owner"))
    return client


def test_anonymous_visitors_are_sent_to_the_login_page(client):
    for path in ["/reports/", *(f"/reports/{slug}/" for slug in SLUGS)]:
        response = client.get(path)
        assert response.status_code == 302
        assert response["Location"].startswith("/admin/login/") or "login" in response["Location"]


def test_staff_without_permissions_get_403(client):
    user = get_user_model().objects.create_user("nobody", password="x", is_staff=True)
    client.force_login(user)
    assert client.get("/reports/").status_code == 403
    for slug in SLUGS:
        assert client.get(f"/reports/{slug}/").status_code == 403


def test_a_viewer_sees_every_report(client):
    client.force_login(staff_user("viewer", role="Viewer"))
    index = client.get("/reports/")
    assert index.status_code == 200
    for slug in SLUGS:
        assert f'href="/reports/{slug}/"' in index.content.decode()
        assert client.get(f"/reports/{slug}/").status_code == 200


def test_an_assistant_without_billing_permissions_does_not_see_revenue(client):
    client.force_login(staff_user("assistant", role="Assistant"))
    assert client.get("/reports/revenue/").status_code == 403
    assert 'href="/reports/revenue/"' not in client.get("/reports/").content.decode()
    assert client.get("/reports/funnel/").status_code == 200


def test_an_unknown_report_is_404(owner_client):
    assert owner_client.get("/reports/nope/").status_code == 404


@pytest.mark.parametrize("slug", SLUGS)
def test_every_report_renders_with_no_data(owner_client, slug):
    response = owner_client.get(f"/reports/{slug}/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "No data in this range yet" in html
    assert '<svg class="chart" role="img"' in html
    assert "<table" in html


@pytest.mark.parametrize("slug", SLUGS)
def test_every_report_renders_a_described_chart_and_its_table_with_data(owner_client, slug):
    seed_report_data(leads=90, now=timezone.now())
    html = owner_client.get(f"/reports/{slug}/?range=this_year").content.decode()
    assert "No data in this range yet" not in html
    for svg in re.findall(r"<svg.*?</svg>", html, flags=re.S):
        ids = re.search(r'aria-labelledby="(\S+) (\S+)"', svg).groups()
        assert f'<title id="{ids[0]}">' in svg and f'<desc id="{ids[1]}">' in svg
    assert "<caption>" in html
    assert "style=" not in html and "<script>" not in html  # the CSP refuses inline styles and scripts


def test_a_custom_range_the_wrong_way_round_is_a_400_that_says_what_to_do(owner_client):
    response = owner_client.get("/reports/funnel/?range=custom&start=2026-05-01&end=2026-04-01")
    assert response.status_code == 400
    assert "The To date is before the From date" in response.content.decode()
    assert owner_client.get("/reports/funnel/?range=custom&start=2026-04-01").status_code == 400
    assert owner_client.get("/reports/funnel/?range=forever").status_code == 400
    assert owner_client.get("/reports/funnel/?source=Not A Source").status_code == 400


def test_a_custom_range_and_a_source_are_kept_in_the_page(owner_client):
    seed_report_data(leads=60, now=timezone.now())
    html = owner_client.get("/reports/funnel/?range=custom&start=2026-01-01&end=2026-03-31&source=ghl").content.decode()
    assert "Jan 1, 2026 to Mar 31, 2026" in html
    assert '<option value="ghl" selected>' in html
    assert "source ghl" in html


@pytest.mark.parametrize("slug", SLUGS)
def test_the_query_count_does_not_grow_with_the_data(owner_client, slug):
    def queries() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert owner_client.get(f"/reports/{slug}/?range=this_year").status_code == 200
        return len(ctx.captured_queries)

    seed_report_data(leads=10, now=timezone.now(), prefix="small")
    small = queries()
    seed_report_data(leads=200, now=timezone.now(), prefix="large", seed=9)
    assert queries() == small
