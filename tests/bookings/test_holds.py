"""Holds on the public page: one per visitor, a few per address, the holder alone may book."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import quote
from zoneinfo import ZoneInfo

import pytest
from django.test import Client
from django.utils import timezone

from bookings.models import Booking, Hold
from bookings.selectors import slots_for
from tests.bookings.test_views import LA, book_url, post_data

pytestmark = pytest.mark.django_db


@pytest.fixture
def slots(event_type):
    return slots_for(event_type=event_type)


def open_slot(client: Client, event_type, slot):
    return client.get(book_url(event_type, tz=LA, start=slot.start.astimezone(ZoneInfo(LA)).isoformat()))


def visitor(address: str = "203.0.113.7") -> Client:
    return Client(REMOTE_ADDR=address)


def test_a_visitor_opening_many_slots_holds_only_the_last(event_type, slots):
    browser = visitor()
    for slot in slots[:6]:
        assert open_slot(browser, event_type, slot).status_code == 200
    hold = Hold.objects.get()
    assert hold.start_at == slots[5].start
    # The slots the visitor let go are offered to everyone again, on their own day's times (the
    # first five can fall on two days in the visitor's zone, depending on the hour the test runs).
    other = visitor("198.51.100.1")
    for slot in slots[:5]:
        local = slot.start.astimezone(ZoneInfo(LA))
        day_page = other.get(book_url(event_type, tz=LA, day=local.date().isoformat()))
        assert f"start={quote(local.isoformat())}" in day_page.content.decode().replace("&amp;", "&")


def test_an_address_holds_at_most_a_few_slots(event_type, slots, settings):
    settings.BOOKING_HOLDS_PER_ADDRESS = 3
    for slot in slots[:5]:
        assert open_slot(visitor(), event_type, slot).status_code == 200  # a new session each time
    held = sorted(Hold.objects.values_list("start_at", flat=True))
    assert held == [slot.start for slot in slots[2:5]]  # the oldest went first


def test_a_held_slot_is_refused_to_others_at_once_with_other_times(event_type, slots):
    open_slot(visitor(), event_type, slots[0])
    response = open_slot(visitor("198.51.100.1"), event_type, slots[0])
    html = response.content.decode()
    assert response.status_code == 409
    assert "Someone else is booking that time right now" in html
    assert f">{slots[1].start.astimezone(ZoneInfo(LA)):%H:%M}</a>" in html  # other times offered
    assert 'name="email"' not in html
    assert Hold.objects.count() == 1


def test_only_the_holder_can_book_a_held_slot_until_the_hold_lapses(event_type, slots):
    holder, other = visitor(), visitor("198.51.100.1")
    open_slot(holder, event_type, slots[0])
    token = Hold.objects.get().token

    refused = other.post(book_url(event_type, tz=LA), post_data(slots[0].start, email="grace@example.com"))
    assert refused.status_code == 409 and "Someone else is booking" in refused.content.decode()
    assert not Booking.objects.exists()

    booked = holder.post(book_url(event_type, tz=LA), post_data(slots[0].start, hold=token))
    assert booked.status_code == 302
    assert Booking.objects.get().email == "ada@example.com" and not Hold.objects.exists()


def test_a_lapsed_hold_frees_the_slot_for_the_next_visitor(event_type, slots):
    open_slot(visitor(), event_type, slots[0])
    Hold.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    other = visitor("198.51.100.1")
    assert open_slot(other, event_type, slots[0]).status_code == 200
    token = Hold.objects.get().token  # the lapsed one is gone, the new one is the other visitor's
    response = other.post(book_url(event_type, tz=LA), post_data(slots[0].start, hold=token))
    assert response.status_code == 302 and Booking.objects.count() == 1


def test_reopening_the_slot_you_hold_keeps_it(event_type, slots):
    browser = visitor()
    open_slot(browser, event_type, slots[0])
    assert open_slot(browser, event_type, slots[0]).status_code == 200
    assert Hold.objects.get().start_at == slots[0].start


def test_holds_never_hide_more_than_a_handful_of_slots(event_type, slots, settings):
    """Many addresses at once (a botnet, or a busy launch) still leave every other slot visible."""
    settings.BOOKING_HOLDS_PER_HOST = 4
    for index, slot in enumerate(slots[:10]):
        response = open_slot(visitor(f"198.51.100.{index + 1}"), event_type, slot)
        assert response.status_code == 200  # everyone still gets the form
    assert Hold.objects.count() == 4
    # The page lists one day at a time: each slot is looked for on its own day's page (late in the
    # host's day, the next slots are tomorrow's).
    late_visitor = visitor("192.0.2.200")
    listings: dict[str, str] = {}
    for slot in slots[4:10]:
        local = slot.start.astimezone(ZoneInfo(LA))
        day = local.date().isoformat()
        if day not in listings:
            page = late_visitor.get(book_url(event_type, tz=LA, day=day)).content.decode()
            listings[day] = page.replace("&amp;", "&")
        assert f"start={quote(local.isoformat())}" in listings[day]


def test_a_visitor_past_the_host_cap_can_still_book_without_a_hold(event_type, slots, settings):
    settings.BOOKING_HOLDS_PER_HOST = 1
    open_slot(visitor("198.51.100.1"), event_type, slots[0])
    late = visitor("198.51.100.2")
    assert open_slot(late, event_type, slots[1]).status_code == 200
    response = late.post(book_url(event_type, tz=LA), post_data(slots[1].start, hold=""))
    assert response.status_code == 302
    assert Booking.objects.get().start_at == slots[1].start
