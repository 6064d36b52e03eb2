"""The Content-Security-Policy in a real browser: the board, the booking page, the proposal page
and the admin load and work with zero CSP violations in the console."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from billing.services.links import proposal_link_token
from leads.models import Lead
from tests.billing.conftest import make_lead, sent_proposal
from tests.bookings.factories import EventTypeFactory
from tests.browser.conftest import logged_in_page

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# The page's own report of every refused script, style, frame or form target; added by the
# browser before any page script runs (init scripts are not subject to the page's CSP).
RECORD_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__cspViolations.push(`${e.violatedDirective} blocked ${e.blockedURI || "inline"} at ${e.sourceFile}:${e.lineNumber}`);
});
"""


def watch(page: Any) -> list[str]:
    """Console lines about the Content Security Policy or from htmx (it reports refused evals and
    bad attributes there), plus uncaught page errors. (A missing favicon's 404 is not one.)"""
    problems: list[str] = []
    page.add_init_script(RECORD_VIOLATIONS)

    def on_console(msg: Any) -> None:
        if "Content Security Policy" in msg.text or msg.text.startswith("htmx:"):
            problems.append(msg.text)

    page.on("console", on_console)
    page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
    return problems


def violations(page: Any, problems: list[str]) -> list[str]:
    return problems + page.evaluate("window.__cspViolations || []")


def test_board_has_no_csp_violations_and_htmx_still_works(new_page, owner, live_server):
    make_lead(email="ada@example.com", name="Ada Lovelace")
    make_lead(email="bob@example.com", name="Bob Builder")
    page = logged_in_page(new_page, owner, live_server)
    problems = watch(page)

    page.goto("/board/")
    page.wait_for_selector("#needs-you-title")
    page.wait_for_selector(".needs-you:not([hx-get])", state="attached")  # htmx swapped the panel in
    page.fill("#id_q", "Ada")
    expect(page.locator(".columns .card")).to_have_count(1)
    assert "Ada Lovelace" in page.inner_text("#columns")
    # htmx's indicator rules come from base.css, not an inline <style> of its own.
    assert page.evaluate("document.querySelectorAll('head style').length") == 0

    assert violations(page, problems) == []


def test_booking_page_has_no_csp_violations(new_page, live_server):
    EventTypeFactory(slug="intro-call", host__name="Olivia Owner")
    page = new_page(timezone_id="Europe/Paris")
    problems = watch(page)

    page.goto("/book/intro-call/")
    page.wait_for_url("**tz=Europe%2FParis**")  # booking.js ran
    page.locator("a.slot").first.click()
    page.wait_for_selector("#id_name")

    assert violations(page, problems) == []


def test_proposal_page_has_no_csp_violations_and_print_still_works(new_page, live_server):
    token = proposal_link_token(proposal=sent_proposal())
    page = new_page()
    problems = watch(page)
    page.add_init_script("window.print = () => { window.__printed = true; };")

    page.goto(f"/p/{token}/")
    page.click("button[data-print]")

    assert page.evaluate("window.__printed === true")
    assert violations(page, problems) == []


def test_admin_pages_have_no_csp_violations(new_page, owner, live_server):
    make_lead(email="ada@example.com", name="Ada Lovelace")
    lead = Lead.objects.get()
    page = logged_in_page(new_page, owner, live_server)
    problems = watch(page)

    for path in ("/admin/", "/admin/leads/lead/", f"/admin/leads/lead/{lead.pk}/change/", "/admin/auth/user/add/"):
        page.goto(path)
        page.wait_for_selector("#content")
        page.wait_for_load_state("load")

    # The admin's own scripts ran: the change list's "select all" box ticks every row.
    page.goto("/admin/leads/lead/")
    page.check("#action-toggle")
    assert page.is_checked("input.action-select")

    assert violations(page, problems) == []
