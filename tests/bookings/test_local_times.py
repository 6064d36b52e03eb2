"""Regression: the chosen time, the confirmation and the move prompt show the time in the visitor's
zone, not the server's UTC wall clock under the visitor's zone name (Django's `date`/`time`
filters convert aware datetimes to the current time zone unless told not to)."""

from __future__ import annotations

from urllib.parse import quote
from zoneinfo import ZoneInfo

import pytest

from bookings.links import manage_path
from bookings.models import Booking
from bookings.selectors import slots_for
from tests.leads.factories import staff_user

pytestmark = pytest.mark.django_db

LA = "America/Los_Angeles"


def test_form_confirmation_and_move_prompt_show_the_visitors_wall_clock(client, event_type):
    slots = slots_for(event_type=event_type)
    start = slots[0].start.astimezone(ZoneInfo(LA))
    utc_clock = f"{slots[0].start.astimezone(ZoneInfo('UTC')):%H:%M}"
    assert utc_clock != f"{start:%H:%M}"  # LA is never UTC: the two must differ

    form = client.get(f"/book/{event_type.slug}/?tz={quote(LA)}&start={quote(start.isoformat())}").content.decode()
    assert f"at {start:%H:%M}</h2>" in form and f"at {utc_clock}</h2>" not in form

    booked_start = slots[1].start.astimezone(ZoneInfo(LA))  # slots[0] is now held by the form above
    booked_end = slots[1].end.astimezone(ZoneInfo(LA))
    client.post(
        f"/book/{event_type.slug}/?tz={quote(LA)}",
        {"start": booked_start.isoformat(), "timezone": LA, "name": "Ada Lovelace", "email": "ada@example.com"},
    )
    booking = Booking.objects.get()
    confirmation = client.get(f"{manage_path(booking)}?booked=1").content.decode()
    assert f"{booked_start:%H:%M}\u2013{booked_end:%H:%M} ({LA})" in confirmation  # an en dash

    later = slots[3].start.astimezone(ZoneInfo(LA))
    prompt = client.get(f"{manage_path(booking)}?tz={quote(LA)}&start={quote(later.isoformat())}").content.decode()
    assert f"at {later:%H:%M}</strong> ({LA})" in prompt


def test_staff_cancel_confirmation_shows_the_owners_wall_clock(client, event_type, settings):

    settings.OWNER_TIMEZONE = "America/New_York"
    slot = slots_for(event_type=event_type)[0]
    client.post(
        f"/book/{event_type.slug}/?tz={quote(LA)}",
        {
            "start": slot.start.astimezone(ZoneInfo(LA)).isoformat(),
            "timezone": LA,
            "name": "Ada",
            "email": "a@x.example",
        },
    )
    booking = Booking.objects.get()
    client.force_login(staff_user("owner", email="owner@x.example"))
    page = client.get(f"/book/staff/{booking.pk}/cancel/").content.decode()
    owner_clock = slot.start.astimezone(ZoneInfo("America/New_York"))
    assert f"Cancel the call on {owner_clock:%a %-d %b %H:%M} with" in page
