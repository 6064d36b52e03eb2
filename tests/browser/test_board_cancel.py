"""The "Cancel call" pill on a booked card, in Debian's chromium: a dialog asks for the reason,
the card shows "Cancelling…" at once, the banner says "Call cancelled"; a refusal (already
cancelled behind the page's back, no connection) puts the card back with the reason. Without
JavaScript the pill is a link to the confirmation page."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from bookings.models import Booking
from bookings.selectors import slots_for
from bookings.services import booking_cancel, booking_create
from tests.bookings.factories import EventTypeFactory
from tests.browser.conftest import axe_violations, logged_in_page, refused, save_screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CANCEL_URL = "**/book/staff/*/cancel/**"


@pytest.fixture
def booking(owner) -> Booking:
    """An upcoming call booked through the service, so the lead is `booked` with a call badge."""
    event_type = EventTypeFactory(slug="intro-call", host__name="Olivia Owner")
    start = slots_for(event_type=event_type)[0].start
    return booking_create(
        event_type=event_type,
        start=start,
        timezone_name="Europe/London",
        name="Maya Chen",
        email="maya@brightline.example",
    )


def _card(page, booking):
    return page.locator(f"#card-{booking.lead.public_id}")


def _call_badge(page, booking):
    return _card(page, booking).locator(".badges > li").first


def test_cancel_with_a_reason_from_the_card(owner_page, booking):
    page = owner_page
    page.goto("/board/")
    card = _card(page, booking)
    badge_before = _call_badge(page, booking).inner_text()
    assert badge_before.startswith("Call ")
    pill = card.locator("a.pill-action", has_text="Cancel call")

    # The dialog: focus in the reason field, Escape keeps the call, focus back on the pill.
    pill.click()
    dialog = page.locator("#card-confirm-dialog")
    expect(dialog).to_be_visible()
    assert page.evaluate("document.activeElement.id") == "card-confirm-reason"
    assert "Maya Chen" in dialog.inner_text() and "Cancel the call on " in dialog.inner_text()
    page.keyboard.press("Escape")
    expect(dialog).to_be_hidden()
    assert page.evaluate("document.activeElement.textContent.trim()") == "Cancel call"
    assert page.locator("#move-status").is_hidden()

    # "Keep it" closes too; a blank reason is refused in the dialog itself.
    pill.click()
    dialog.locator("button", has_text="Keep it").click()
    expect(dialog).to_be_hidden()
    pill.click()
    dialog.locator("button", has_text="Cancel the call").click()
    expect(dialog.locator("#card-confirm-error")).to_contain_text("is needed")
    expect(dialog).to_be_visible()
    page.fill("#card-confirm-reason", "Lead phoned to cancel")
    expect(dialog.locator("#card-confirm-error")).to_be_hidden()
    save_screenshot(page, "board-cancel-dialog")
    assert axe_violations(page, serious_only=True, context="#card-confirm-dialog") == []

    # Hold the request to see the card change before the server answers.
    held = []
    page.route(CANCEL_URL, lambda route: held.append(route))
    dialog.locator("button", has_text="Cancel the call").click()
    expect(_call_badge(page, booking)).to_have_text("Cancelling…")
    expect(pill).to_have_attribute("aria-disabled", "true")
    expect(page.locator("#move-status")).to_have_text("Saving…")
    assert held, "the cancel request should be waiting"
    save_screenshot(page, "board-cancel-saving")
    held[0].continue_()
    page.unroute(CANCEL_URL)

    expect(page.locator("#move-status[data-tone=good]")).to_contain_text("Call cancelled: Maya Chen")
    expect(_call_badge(page, booking)).to_contain_text("Cancelled: ")
    expect(card.locator("a.pill-action", has_text="Cancel call")).to_have_count(0)
    booking.refresh_from_db()
    assert booking.status == Booking.Status.CANCELLED
    assert booking.cancel_reason == "Lead phoned to cancel" and booking.cancelled_by == "owner"

    page.reload()
    expect(_call_badge(page, booking)).to_contain_text("Cancelled: ")
    expect(_card(page, booking).locator("a.pill-action")).to_have_count(0)


def test_a_refused_cancel_rolls_the_card_back_with_the_reason(owner_page, booking, expect_console_errors):
    expect_console_errors(refused("/cancel/", "ERR_FAILED"))  # no connection
    expect_console_errors(refused("/cancel/", 409))  # already cancelled
    page = owner_page
    page.goto("/board/")
    card = _card(page, booking)
    badge_before = _call_badge(page, booking).inner_text()
    pill = card.locator("a.pill-action", has_text="Cancel call")

    # No connection: the card comes back as it was.
    page.route(CANCEL_URL, lambda route: route.abort())
    pill.click()
    page.fill("#card-confirm-reason", "Lead phoned to cancel")
    page.locator("#card-confirm-dialog button", has_text="Cancel the call").click()
    expect(page.locator("#move-status[data-tone=error]")).to_contain_text("could not be reached")
    expect(_call_badge(page, booking)).to_have_text(badge_before)
    assert pill.get_attribute("aria-disabled") is None
    page.unroute(CANCEL_URL)

    # The lead cancelled from their manage link meanwhile: the server refuses, the card rolls back.
    booking_cancel(booking=booking, reason="Found another agency", actor_label="lead (manage link)")
    pill.click()
    page.fill("#card-confirm-reason", "Owner cancels too")
    page.locator("#card-confirm-dialog button", has_text="Cancel the call").click()
    status = page.locator("#move-status[data-tone=error]")
    expect(status).to_contain_text("Not saved: This booking is already cancelled.")
    expect(_call_badge(page, booking)).to_have_text(badge_before)
    expect(card).not_to_have_attribute("aria-busy", "true")
    assert pill.get_attribute("aria-disabled") is None
    save_screenshot(page, "board-cancel-refused")
    booking.refresh_from_db()
    assert booking.cancel_reason == "Found another agency" and booking.cancelled_by == "lead (manage link)"


def test_without_javascript_the_pill_opens_the_confirmation_page(new_page, owner, live_server, booking):
    page = logged_in_page(new_page, owner, live_server, java_script_enabled=False)
    page.goto("/board/")
    _card(page, booking).locator("a.pill-action", has_text="Cancel call").click()
    page.wait_for_url(re.compile(rf"/book/staff/{booking.pk}/cancel/"))
    page.fill(f"#reason-{booking.pk}", "Lead emailed to cancel")
    page.click("button:has-text('Yes, cancel the call')")
    page.wait_for_url(re.compile(r"/board/$"))
    assert "Cancelled: " in _call_badge(page, booking).inner_text()
    booking.refresh_from_db()
    assert booking.status == Booking.Status.CANCELLED and booking.cancel_reason == "Lead emailed to cancel"
