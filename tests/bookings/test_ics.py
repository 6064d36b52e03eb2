"""Each ICS we send, parsed back with icalendar and checked field by field."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.core import mail
from icalendar import Calendar

from bookings.ics import invite_ics
from bookings.services import booking_cancel, booking_create, booking_reschedule
from clientsflow.site import site_settings
from tests.bookings.factories import BookingFactory

pytestmark = pytest.mark.django_db

START = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)
NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def parse(raw: bytes | str):
    calendar = Calendar.from_ical(raw)
    events = [c for c in calendar.walk() if c.name == "VEVENT"]
    assert len(events) == 1
    return calendar, events[0]


def test_request_has_every_field_a_calendar_needs():
    booking = BookingFactory(
        start_at=START, meet_url="https://meet.google.com/abc-defg-hij", name="Ada", email="ada@example.com"
    )
    calendar, event = parse(
        invite_ics(booking=booking, method="REQUEST", manage_url="https://x.example/book/manage/t/")
    )
    assert calendar["METHOD"] == "REQUEST" and calendar["VERSION"] == "2.0"
    assert str(event["UID"]) == f"booking-{booking.public_id}@clientsflow"
    assert event["SEQUENCE"] == 0
    assert event.decoded("DTSTART") == START and event.decoded("DTEND") == START + timedelta(minutes=30)
    assert str(event["ORGANIZER"]) == "mailto:owner@agency.example"
    # leads see the host as the settings name them (Admin > Settings > host's name)
    assert event["ORGANIZER"].params["CN"] == site_settings().host_name == "Alex Morgan"
    assert str(event["SUMMARY"]) == f"{booking.event_type.title} with Alex Morgan"
    attendee = event["ATTENDEE"]
    assert str(attendee) == "mailto:ada@example.com"
    assert attendee.params["CN"] == "Ada" and attendee.params["RSVP"] == "TRUE"
    assert attendee.params["PARTSTAT"] == "NEEDS-ACTION" and attendee.params["ROLE"] == "REQ-PARTICIPANT"
    assert str(event["LOCATION"]) == "https://meet.google.com/abc-defg-hij"
    assert str(event["URL"]) == "https://meet.google.com/abc-defg-hij"
    assert "https://x.example/book/manage/t/" in str(event["DESCRIPTION"])
    assert str(event["STATUS"]) == "CONFIRMED"
    alarms = [c for c in event.walk() if c.name == "VALARM"]
    assert len(alarms) == 1 and str(alarms[0]["ACTION"]) == "DISPLAY"
    assert alarms[0].decoded("TRIGGER") == -timedelta(minutes=15)


def test_location_is_used_when_there_is_no_meet_link():
    booking = BookingFactory(start_at=START, event_type__location="Phone: we call you")
    _, event = parse(invite_ics(booking=booking, method="REQUEST"))
    assert str(event["LOCATION"]) == "Phone: we call you" and "URL" not in event


def test_confirmation_move_and_cancel_keep_the_uid_and_bump_the_sequence(
    event_type, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        booking = booking_create(
            event_type=event_type, start=START, now=NOW, timezone_name="Asia/Tokyo", name="Ada", email="ada@example.com"
        )
    with django_capture_on_commit_callbacks(execute=True):
        booking_reschedule(booking=booking, start=START + timedelta(hours=2), now=NOW)
    with django_capture_on_commit_callbacks(execute=True):
        booking_cancel(booking=booking, reason="No longer needed")
    parsed = [parse(m.attachments[0][1]) for m in mail.outbox]
    assert [str(c["METHOD"]) for c, _ in parsed] == ["REQUEST", "REQUEST", "CANCEL"]
    assert {str(e["UID"]) for _, e in parsed} == {booking.ics_uid}
    assert [e["SEQUENCE"] for _, e in parsed] == [0, 1, 2]
    assert parsed[1][1].decoded("DTSTART") == START + timedelta(hours=2)
    assert str(parsed[2][1]["STATUS"]) == "CANCELLED"
    assert not [c for c in parsed[2][1].walk() if c.name == "VALARM"]
    # The email shows the time in the invitee's zone.
    assert "Wednesday 2 December 2026 at 00:00 (Asia/Tokyo)" in mail.outbox[0].body
