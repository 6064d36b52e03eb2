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
        booking_cancel(booking=booking, reason="No longer needed", now=NOW)
    parsed = [parse(m.attachments[0][1]) for m in mail.outbox]
    assert [str(c["METHOD"]) for c, _ in parsed] == ["REQUEST", "REQUEST", "CANCEL"]
    assert {str(e["UID"]) for _, e in parsed} == {booking.ics_uid}
    assert [e["SEQUENCE"] for _, e in parsed] == [0, 1, 2]
    assert parsed[1][1].decoded("DTSTART") == START + timedelta(hours=2)
    assert str(parsed[2][1]["STATUS"]) == "CANCELLED"
    assert not [c for c in parsed[2][1].walk() if c.name == "VALARM"]
    # The email shows the time in the invitee's zone.
    assert "Wednesday 2 December 2026 at 00:00 (Asia/Tokyo)" in mail.outbox[0].body


def _icalendar_reference(*, booking, method: str, manage_url: str) -> bytes:
    """The invite as the `icalendar` library writes it (what `invite_ics` was built on): the
    hand-written text must say the same thing, byte for byte."""
    from icalendar import Alarm, Event, vCalAddress, vText

    from bookings.ics import PRODID, REMINDER_BEFORE, booking_location
    from clientsflow.site import host_display_name

    calendar = Calendar()
    for name, value in (("prodid", PRODID), ("version", "2.0"), ("calscale", "GREGORIAN"), ("method", method)):
        calendar.add(name, value)
    event = Event()
    event.add("uid", booking.ics_uid)
    event.add("sequence", booking.sequence)
    event.add("dtstamp", NOW)
    event.add("dtstart", booking.start_at)
    event.add("dtend", booking.end_at)
    host_name = host_display_name(booking.host.name)
    event.add("summary", f"{booking.event_type.title} with {host_name}")
    description = [f"{booking.event_type.title} with {host_name}."]
    if booking.meet_url:
        description.append(f"Join with Google Meet: {booking.meet_url}")
    if manage_url and method == "REQUEST":
        description.append(f"Need to reschedule or cancel? {manage_url}")
    event.add("description", "\n".join(description))
    event.add("location", booking_location(booking))
    if booking.meet_url:
        event.add("url", booking.meet_url)
    event.add("status", "CANCELLED" if method == "CANCEL" else "CONFIRMED")
    event.add("transp", "OPAQUE")
    organizer = vCalAddress(f"mailto:{booking.host.email}")
    organizer.params["cn"] = vText(host_name)
    event.add("organizer", organizer)
    attendee = vCalAddress(f"mailto:{booking.email}")
    attendee.params["cn"] = vText(booking.name)
    attendee.params["role"] = vText("REQ-PARTICIPANT")
    attendee.params["partstat"] = vText("NEEDS-ACTION")
    attendee.params["rsvp"] = vText("TRUE")
    event.add("attendee", attendee)
    if method == "REQUEST":
        alarm = Alarm()
        alarm.add("action", "DISPLAY")
        alarm.add("description", f"{booking.event_type.title} starts in 15 minutes")
        alarm.add("trigger", -REMINDER_BEFORE)
        event.add_component(alarm)
    calendar.add_component(event)
    return calendar.to_ical()


@pytest.mark.parametrize(
    ("name", "title", "meet_url", "location", "method"),
    [
        ("Ada", "Intro call", "", "", "REQUEST"),
        ('Zoë "Z" O\'Neil, Jr; CEO: Ops ^ Co', "Intro; call, with \\ backslash", "", "Room 1, Floor 2", "REQUEST"),
        ("Łukasz Żółć " * 6, "Ünïcödé " * 12, "https://meet.google.com/abc-defg-hij", "", "REQUEST"),
        ("Line\nBreak", "A" * 80 + "\\" + "B" * 80, "", "Phone: we call you", "CANCEL"),
        ("中文名字 " * 10, "Долгий звонок " * 8, "https://meet.google.com/xyz", "", "CANCEL"),
    ],
)
def test_the_written_invite_is_what_icalendar_writes(name, title, meet_url, location, method, settings):
    booking = BookingFactory(
        start_at=START, name=name, email="ada@example.com", meet_url=meet_url, sequence=3,
        event_type__title=title, event_type__location=location,
    )  # fmt: skip
    manage_url = "https://x.example/book/manage/" + "t" * 120 + "/"
    ours = invite_ics(booking=booking, method=method, manage_url=manage_url)
    reference = _icalendar_reference(booking=booking, method=method, manage_url=manage_url)

    def without_stamp(raw: bytes) -> list[bytes]:
        return [line for line in raw.split(b"\r\n") if not line.startswith(b"DTSTAMP:")]

    assert without_stamp(ours) == without_stamp(reference)
    _, event = parse(ours)
    assert str(event["ATTENDEE"].params["CN"]) == name and str(event["SUMMARY"]).startswith(title)
