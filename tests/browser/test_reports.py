"""The reports in Debian's chromium: every report with data and with none, at phone width (390 px)
and on a desktop, with no axe violations and nothing in the console; charts need no JavaScript."""

from __future__ import annotations

from typing import Any

import pytest
from django.utils import timezone

from reports.pages import REPORTS
from reports.seed import seed_report_data
from tests.browser.conftest import VIEWPORTS, axe_violations, logged_in_page, save_screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _check_every_report(page: Any, label: str, *, with_data: bool) -> None:
    for slug in REPORTS:
        page.goto(f"/reports/{slug}/?range=this_year")
        page.wait_for_selector("svg.chart")
        assert page.locator("svg.chart title").count() >= 1
        assert page.locator("table.report-data").count() >= 1
        assert (page.locator(".empty-note").count() == 0) == with_data, slug
        assert axe_violations(page) == [], f"{slug} at {label}"
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= page.viewport_size["width"], f"{slug} scrolls sideways at {label}"
        save_screenshot(page, f"report-{slug}-{label}", full_page=True)


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
def test_every_report_with_data(new_page, owner, live_server, viewport):
    seed_report_data(leads=400, now=timezone.now())
    page = logged_in_page(new_page, owner, live_server, viewport=VIEWPORTS[viewport])
    page.goto("/reports/")
    assert page.locator(".report-list li").count() == len(REPORTS)
    assert axe_violations(page) == []
    _check_every_report(page, f"{viewport}-data", with_data=True)


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
def test_every_report_with_no_data(new_page, owner, live_server, viewport):
    page = logged_in_page(new_page, owner, live_server, viewport=VIEWPORTS[viewport])
    _check_every_report(page, f"{viewport}-empty", with_data=False)


def test_filters_and_charts_work_without_javascript(new_page, owner, live_server):
    seed_report_data(leads=120, now=timezone.now())
    page = logged_in_page(new_page, owner, live_server, java_script_enabled=False)
    page.goto("/board/")
    page.click("a[href='/reports/']")
    page.click("a[href='/reports/funnel/']")
    page.select_option("#id_range", "custom")
    page.fill("#id_start", "2026-01-01")
    page.fill("#id_end", "2026-12-31")
    page.select_option("#id_source", "referral")
    page.click("button[type=submit]")
    assert "range=custom" in page.url and "source=referral" in page.url
    assert "source referral" in page.inner_text(".period")
    assert page.locator("svg.chart rect.bar").count() > 0
