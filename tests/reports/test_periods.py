"""The date ranges every report takes from its URL: what each one covers, in the owner's days, and
that every report page and its downloads keep the range and the source it was asked for."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from leads.models import Lead
from reports.pages import REPORTS
from reports.periods import RANGE_CHOICES, period_for
from tests.leads.factories import LeadFactory, staff_user

TODAY = date(2026, 3, 15)


@pytest.mark.parametrize(
    ("key", "start", "end"),
    [
        ("this_month", date(2026, 3, 1), TODAY),
        ("30d", date(2026, 2, 14), TODAY),  # 30 days, today included
        ("90d", date(2025, 12, 16), TODAY),
        ("this_year", date(2026, 1, 1), TODAY),
    ],
)
def test_each_range_covers_the_days_it_names(key, start, end):
    period = period_for(key, today=TODAY)
    assert (period.start, period.end) == (start, end)
    if key in ("30d", "90d"):
        assert (period.end - period.start).days + 1 == int(key[:-1])


def test_a_custom_range_is_the_two_dates_both_included(settings):
    settings.OWNER_TIMEZONE = "America/New_York"
    period = period_for("custom", today=TODAY, start=date(2026, 2, 1), end=date(2026, 2, 28), source="ghl")
    assert (period.start, period.end, period.source) == (date(2026, 2, 1), date(2026, 2, 28), "ghl")
    # Days are the owner's: midnight in New York, the end exclusive at the next midnight.
    assert period.start_at == datetime(2026, 2, 1, 5, 0, tzinfo=UTC)
    assert period.end_at == datetime(2026, 3, 1, 5, 0, tzinfo=UTC)
    assert period.label == "Feb 1, 2026 to Feb 28, 2026"


def test_this_month_starts_at_midnight_on_the_first_in_the_owners_zone(settings):
    settings.OWNER_TIMEZONE = "Asia/Tokyo"
    period = period_for("this_month", today=TODAY)
    assert period.start_at == datetime(2026, 3, 1, tzinfo=ZoneInfo("Asia/Tokyo"))
    assert period.start_at.astimezone(UTC) == datetime(2026, 2, 28, 15, 0, tzinfo=UTC)


@pytest.mark.django_db
@pytest.mark.parametrize("slug", list(REPORTS))
def test_every_report_keeps_each_range_and_the_source_in_its_url(client, slug):
    LeadFactory(source="referral")
    client.force_login(staff_user("owner"))
    for key, name in RANGE_CHOICES:
        query = f"range={key}&source=referral"
        if key == "custom":
            query += "&start=2026-01-01&end=2026-01-31"
        response = client.get(f"/reports/{slug}/?{query}")
        assert response.status_code == 200, key
        html = response.content.decode()
        assert f'<option value="{key}" selected>{name}</option>' in html
        assert '<option value="referral" selected>' in html
        assert "source referral" in html
        assert response.context["period"].key == key and response.context["period"].source == "referral"
        # The download carries the same filters.
        download = f'href="/reports/{slug}.csv?{query.replace("&", "&amp;")}"'
        assert download in html, key


@pytest.mark.django_db
def test_a_source_with_no_leads_yet_still_shows_as_chosen(client):
    client.force_login(staff_user("owner"))
    html = client.get("/reports/funnel/?range=30d&source=podcast").content.decode()
    assert '<option value="podcast" selected>' in html


@pytest.mark.django_db
def test_the_range_decides_which_leads_count(client):
    client.force_login(staff_user("owner"))
    today = timezone.now()
    recent = LeadFactory(source="referral")
    older = LeadFactory(source="referral")
    Lead.objects.filter(pk=recent.pk).update(created_at=today - timedelta(days=5))
    Lead.objects.filter(pk=older.pk).update(created_at=today - timedelta(days=60))

    def new_leads(query: str) -> int:
        page = client.get(f"/reports/funnel/?{query}").context["page"]
        tables = [table for _, table in page.charts] + list(page.tables)
        table = next(table for table in tables if table.slug == "conversion-every-source")
        return int(table.rows[0][1].replace(",", "")) if table.rows else 0

    assert new_leads("range=30d&source=referral") == 1
    assert new_leads("range=90d&source=referral") == 2
    assert new_leads("range=90d&source=website") == 0
