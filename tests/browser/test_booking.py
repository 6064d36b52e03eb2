"""The public booking page in Debian's chromium: the visitor's zone lands in the URL, a slot is
booked, the confirmation shows, and the owner finds the lead `booked` on the board and can cancel
the call from the card. Also the whole flow with JavaScript switched off."""

from __future__ import annotations

import re

import pytest

from bookings.models import Booking
from leads.models import Lead, Stage
from tests.bookings.factories import EventTypeFactory
from tests.browser.conftest import logged_in_page, save_screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def intro_call():
    return EventTypeFactory(slug="intro-call", host__name="Olivia Owner")


def test_book_a_slot_and_find_the_lead_booked_on_the_board(new_page, intro_call, owner, live_server):
    page = new_page(timezone_id="America/Los_Angeles", viewport={"width": 390, "height": 844})
    page.goto("/book/intro-call/")
    # The script put the browser's zone in the URL; the slots are in that zone.
    page.wait_for_url(re.compile(r"tz=America%2FLos_Angeles"))
    assert page.locator("#tz").input_value() == "America/Los_Angeles"
    save_screenshot(page, "booking-slots-phone")
    page.locator("a.slot").first.click()
    page.fill("#id_name", "Maya Chen")
    page.fill("#id_email", "maya@brightline.example")
    page.fill("#id_note", "New website for the practice")
    save_screenshot(page, "booking-form-phone")
    page.click("button:has-text('Confirm booking')")
    page.wait_for_selector("#booking-confirmed")
    assert "You're booked!" in page.inner_text("#booking-confirmed")
    assert "(America/Los_Angeles)" in page.inner_text("#booking-when")
    save_screenshot(page, "booking-confirmed-phone")

    lead = Lead.objects.get(email_normalized="maya@brightline.example")
    assert lead.stage == Stage.BOOKED
    booking = Booking.objects.get(lead=lead)
    assert booking.timezone == "America/Los_Angeles"
    assert booking.invite_status == Booking.InviteStatus.FALLBACK_SENT

    board = logged_in_page(new_page, owner, live_server)
    board.goto("/board/")
    card = board.locator(f"#card-{lead.public_id}")
    card.wait_for()
    assert card.get_attribute("data-stage") == "booked"
    assert "Call " in card.inner_text() and "Invite: ICS email" in card.inner_text()
    save_screenshot(board, "booking-board-card")

    # Cancel from the card: a dialog asks for the reason, the card updates in place
    # (tests/browser/test_board_cancel.py covers the dialog, rollbacks and the no-JS page).
    card.locator("a:has-text('Cancel call')").click()
    board.fill("#card-confirm-reason", "Lead phoned to cancel")
    board.click("#card-confirm-dialog button:has-text('Cancel the call')")
    board.wait_for_selector("#move-status[data-tone=good]")
    assert board.locator("#move-status").inner_text().startswith("Call cancelled")
    booking.refresh_from_db()
    assert booking.status == Booking.Status.CANCELLED and booking.cancel_reason == "Lead phoned to cancel"


def test_booking_works_without_javascript(new_page, intro_call):
    page = new_page(java_script_enabled=False)
    page.goto("/book/intro-call/")
    assert page.locator("#tz").input_value() == "America/New_York"  # the host's zone until one is picked
    page.fill("#tz", "Europe/London")
    page.click("button.zone-apply")
    page.wait_for_url(re.compile(r"tz=Europe%2FLondon"))
    page.locator("a.slot").first.click()  # the first day shown may have one time left
    page.fill("#id_name", "Jonas Weber")
    page.fill("#id_email", "jonas@northwind.example")
    page.click("button:has-text('Confirm booking')")
    page.wait_for_selector("#booking-confirmed")
    assert Booking.objects.get().timezone == "Europe/London"
    assert Lead.objects.get().stage == Stage.BOOKED
