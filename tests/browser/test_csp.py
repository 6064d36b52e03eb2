"""The Content-Security-Policy in a real browser: the board, the booking page, the proposal page
and the admin load and work with zero CSP violations in the console."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from billing.services.links import proposal_link_token
from leads.models import Lead
from tests.billing.conftest import make_lead, sent_proposal
from tests.bookings.factories import EventTypeFactory
from tests.browser.conftest import csp_violations, logged_in_page, record_csp_violations

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_board_has_no_csp_violations_and_htmx_still_works(new_page, owner, live_server):
    make_lead(email="ada@example.com", name="Ada Lovelace")
    make_lead(email="bob@example.com", name="Bob Builder")
    page = logged_in_page(new_page, owner, live_server)
    record_csp_violations(page)

    page.goto("/board/")
    page.wait_for_selector("#needs-you-title")
    page.wait_for_selector(".needs-you:not([hx-get])", state="attached")  # htmx swapped the panel in
    page.fill("#id_q", "Ada")
    expect(page.locator(".columns .card")).to_have_count(1)
    assert "Ada Lovelace" in page.inner_text("#columns")
    # htmx's indicator rules come from base.css, not an inline <style> of its own.
    assert page.evaluate("document.querySelectorAll('head style').length") == 0

    assert csp_violations(page) == []


def test_booking_page_has_no_csp_violations(new_page, live_server):
    EventTypeFactory(slug="intro-call", host__name="Olivia Owner")
    page = new_page(timezone_id="Europe/Paris")
    record_csp_violations(page)

    page.goto("/book/intro-call/")
    page.wait_for_url("**tz=Europe%2FParis**")  # booking.js ran
    page.locator("a.slot").first.click()
    page.wait_for_selector("#id_name")

    assert csp_violations(page) == []


def test_proposal_page_has_no_csp_violations_and_print_still_works(new_page, live_server):
    token = proposal_link_token(proposal=sent_proposal())
    page = new_page()
    record_csp_violations(page)
    page.add_init_script("window.print = () => { window.__printed = true; };")

    page.goto(f"/p/{token}/")
    page.click("button[data-print]")

    assert page.evaluate("window.__printed === true")
    assert csp_violations(page) == []


def test_admin_pages_have_no_csp_violations(new_page, owner, live_server):
    make_lead(email="ada@example.com", name="Ada Lovelace")
    lead = Lead.objects.get()
    page = logged_in_page(new_page, owner, live_server)
    record_csp_violations(page)

    for path in ("/admin/", "/admin/leads/lead/", f"/admin/leads/lead/{lead.pk}/change/", "/admin/auth/user/add/"):
        page.goto(path)
        page.wait_for_selector("#content")
        page.wait_for_load_state("load")

    # The admin's own scripts ran: the change list's "select all" box ticks every row.
    page.goto("/admin/leads/lead/")
    page.check("#action-toggle")
    assert page.is_checked("input.action-select")

    assert csp_violations(page) == []
