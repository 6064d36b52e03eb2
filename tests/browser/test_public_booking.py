"""The booking page as a lead uses it, in Debian's chromium, on a phone and a desktop: pick a
day in the month calendar, a time, a zone through the searchable list; submit with errors (the
summary lists each); book; cancel without a reason; book another time. No axe violations and
nothing in the console on any page visited."""

from __future__ import annotations

import re

import pytest

from bookings.models import Booking
from clientsflow.site import site_settings
from tests.bookings.factories import EventTypeFactory
from tests.browser.conftest import VIEWPORTS, axe_violations, refused, save_screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def intro_call(transactional_db):
    return EventTypeFactory(slug="intro-call", host__name="Sam Rivera")


@pytest.mark.parametrize("viewport", ["phone", "desktop"])
def test_book_cancel_and_book_again(new_page, intro_call, viewport, expect_console_errors):
    # The one deliberate invalid submission is answered 400 (bad input is a 4xx).
    expect_console_errors(refused("/book/intro-call/", 400))
    page = new_page(timezone_id="America/Los_Angeles", viewport=VIEWPORTS[viewport])
    page.goto("/book/intro-call/")
    page.wait_for_url(re.compile(r"tz=America%2FLos_Angeles"))
    assert page.locator("#tz").input_value() == "America/Los_Angeles"
    host = site_settings().host_name.strip() or "Sam Rivera"  # the settings' host, else the event's
    assert f"Book a call with {host}" in page.inner_text("main")
    assert page.locator("a.day-link").count() >= 5
    assert page.evaluate("document.documentElement.scrollWidth") <= VIEWPORTS[viewport]["width"]
    assert axe_violations(page) == []
    save_screenshot(page, f"booking-calendar-{viewport}", full_page=True)

    # The searchable zone list: typing filters it, the visitor's zone was first, picking applies it.
    page.click("#tz")
    page.keyboard.press("ArrowDown")
    assert page.locator("#tz-results li").first.inner_text().startswith("Your zone: America/Los Angeles")
    # Canonical names only: an old alias is not offered (its canonical city is).
    page.fill("#tz", "")
    page.type("#tz", "asmera")
    page.locator("#tz-results li.zone-empty").wait_for()
    assert page.locator("#tz-results li[data-zone]").count() == 0
    page.fill("#tz", "")
    page.type("#tz", "london")
    option = page.locator("#tz-results li[data-zone='Europe/London']")
    option.wait_for()
    assert page.locator("#tz-results li").count() <= 3
    save_screenshot(page, f"booking-zone-search-{viewport}")
    option.click()
    page.wait_for_url(re.compile(r"tz=Europe%2FLondon"))
    assert page.locator("#tz").input_value() == "Europe/London"

    # Pick the second free day in the calendar (htmx swaps the picker, focus stays on the day).
    second = page.locator("a.day-link").nth(1)
    day_id = second.get_attribute("id")
    second.click()
    page.wait_for_selector(f"#{day_id}[aria-current=date]")
    assert page.evaluate("document.activeElement.id") == day_id
    assert day_id.removeprefix("day-") in page.url  # the URL follows (hx-push-url)
    page.locator("#times a.slot").first.click()

    # Submit with two errors: the summary lists each, with links to the fields.
    page.wait_for_selector("#id_name")
    page.fill("#id_email", "not-an-email")
    page.click("button:has-text('Confirm booking')")
    summary = page.locator("#error-summary")
    summary.wait_for()
    assert summary.locator("a").count() == 2
    assert "Please tell us your name." in summary.inner_text()
    assert "That email address does not look right" in summary.inner_text()
    assert page.evaluate("document.activeElement.id") == "error-summary"
    assert axe_violations(page) == []
    save_screenshot(page, f"booking-errors-{viewport}", full_page=True)
    summary.locator("a[href='#id_name']").click()
    assert page.evaluate("document.activeElement.id") == "id_name"

    page.fill("#id_name", "Maya Chen")
    page.fill("#id_email", "maya@brightline.example")
    page.click("button:has-text('Confirm booking')")
    page.wait_for_selector("#booking-confirmed")
    confirmed = page.inner_text("#booking-confirmed")
    assert "with a calendar file (.ics)" in confirmed and "Meet" not in confirmed
    assert "(Europe/London)" in page.inner_text("#booking-when")
    assert axe_violations(page) == []
    save_screenshot(page, f"booking-confirmed-{viewport}", full_page=True)

    # Cancel without a reason, then book another time.
    page.click("summary:has-text('Cancel this booking')")
    page.click("button:has-text('Yes, cancel my booking')")
    page.wait_for_selector("#booking-cancelled")
    booking = Booking.objects.get()
    assert booking.status == Booking.Status.CANCELLED and booking.cancel_reason == ""
    assert axe_violations(page) == []
    save_screenshot(page, f"booking-cancelled-{viewport}", full_page=True)
    page.click("#book-again")
    page.wait_for_selector("a.day-link")
    assert "tz=Europe%2FLondon" in page.url


def test_calendar_works_from_the_keyboard(new_page, intro_call):
    page = new_page(timezone_id="Asia/Tokyo")
    page.goto("/book/intro-call/")
    page.wait_for_url(re.compile(r"tz=Asia%2FTokyo"))
    first_day = page.locator("a.day-link").first
    first_day.focus()
    page.keyboard.press("Tab")
    focused = page.evaluate("document.activeElement.id")
    assert focused.startswith("day-")
    page.keyboard.press("Enter")
    page.wait_for_selector(f"#{focused}[aria-current=date]")
    assert page.evaluate("document.activeElement.id") == focused
