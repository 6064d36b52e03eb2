"""iCalendar invites (RFC 5546 iTIP) built with the `icalendar` library.

One booking keeps one `UID` for life; every change bumps `SEQUENCE`, so calendar apps update or
remove the event they already have instead of adding a second one.
"""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone
from icalendar import Alarm, Calendar, Event, vCalAddress, vText

from bookings.models import Booking
from clientsflow.site import host_display_name

PRODID = "-//ClientsFlow//Bookings//EN"
REMINDER_BEFORE = timedelta(minutes=15)


def booking_location(booking: Booking) -> str:
    return booking.meet_url or booking.event_type.location or "Details to follow by email"


def invite_ics(*, booking: Booking, method: str, manage_url: str = "") -> bytes:
    """`METHOD:REQUEST` for a new or moved booking, `METHOD:CANCEL` for a cancelled one."""
    if method not in ("REQUEST", "CANCEL"):
        raise ValueError("method must be REQUEST or CANCEL")
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", method)

    event = Event()
    event.add("uid", booking.ics_uid)
    event.add("sequence", booking.sequence)
    event.add("dtstamp", timezone.now())
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
