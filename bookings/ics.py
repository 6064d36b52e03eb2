"""iCalendar invites (RFC 5546 iTIP), written as RFC 5545 text.

One booking keeps one `UID` for life; every change bumps `SEQUENCE`, so calendar apps update or
remove the event they already have instead of adding a second one.

The text is written here rather than through the `icalendar` library's component tree, which cost
more than the rest of a booking POST's invite put together; the properties, their order and their
escaping are the ones that library writes (text escaped per RFC 5545 3.3.11, parameter values
quoted per 3.2 with RFC 6868's caret escapes, lines folded at 75 octets), and the tests read every
invite back with `icalendar`.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from django.utils import timezone

from bookings.models import Booking
from clientsflow.site import host_display_name

PRODID = "-//ClientsFlow//Bookings//EN"
REMINDER_BEFORE = timedelta(minutes=15)


def booking_location(booking: Booking) -> str:
    return booking.meet_url or booking.event_type.location or "Details to follow by email"


def _text(value: str) -> str:
    """A TEXT value (RFC 5545 3.3.11): backslash, semicolon and comma escaped, line breaks as \\n."""
    value = value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
    return value.replace("\r\n", "\\n").replace("\r", "\\n").replace("\n", "\\n")


_PARAM_NEEDS_QUOTES = re.compile(r"[,;: ]")


def _param(value: str) -> str:
    """A parameter value: RFC 6868 escapes (^^, ^n, ^'), quoted when it holds , ; : or a space."""
    value = value.replace("^", "^^").replace("\r\n", "^n").replace("\n", "^n").replace("\r", "^n")
    value = value.replace('"', "^'")
    return f'"{value}"' if _PARAM_NEEDS_QUOTES.search(value) else value


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def _fold(line: str) -> str:
    """Fold a content line (RFC 5545 3.1) as `icalendar` does: pieces under 75 octets, never
    inside a UTF-8 character nor between a backslash or caret and the character it escapes."""
    if line.isascii():
        if len(line) < 75:
            return line
        # One octet a character: pieces of 74, one fewer where the 74th would split an escape.
        pieces: list[str] = []
        start, length = 0, len(line)
        while length - start > 74:
            end = start + 74
            if line[end - 1] in "\\^":
                end -= 1
            pieces.append(line[start:end])
            start = end
        pieces.append(line[start:])
        return "\r\n ".join(pieces)
    pieces = []
    current: list[str] = []
    size = 0
    for char in line:
        width = len(char.encode())
        if current and size + width >= 75:
            if len(current) > 1 and current[-1] in "\\^":
                carried = current.pop()
                pieces.append("".join(current))
                current, size = [carried], len(carried.encode())
            else:
                pieces.append("".join(current))
                current, size = [], 0
        current.append(char)
        size += width
    pieces.append("".join(current))
    return "\r\n ".join(pieces)


def invite_ics(*, booking: Booking, method: str, manage_url: str = "") -> bytes:
    """`METHOD:REQUEST` for a new or moved booking, `METHOD:CANCEL` for a cancelled one."""
    if method not in ("REQUEST", "CANCEL"):
        raise ValueError("method must be REQUEST or CANCEL")
    host_name = host_display_name(booking.host.name)
    title = booking.event_type.title
    description = [f"{title} with {host_name}."]
    if booking.meet_url:
        description.append(f"Join with Google Meet: {booking.meet_url}")
    if manage_url and method == "REQUEST":
        description.append(f"Need to reschedule or cancel? {manage_url}")
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        f"PRODID:{_text(PRODID)}",
        "CALSCALE:GREGORIAN",
        f"METHOD:{method}",
        "BEGIN:VEVENT",
        f"SUMMARY:{_text(f'{title} with {host_name}')}",
        f"DTSTART:{_utc(booking.start_at)}",
        f"DTEND:{_utc(booking.end_at)}",
        f"DTSTAMP:{_utc(timezone.now())}",
        f"UID:{_text(booking.ics_uid)}",
        f"SEQUENCE:{int(booking.sequence)}",
        f"ATTENDEE;CN={_param(booking.name)};PARTSTAT=NEEDS-ACTION;ROLE=REQ-PARTICIPANT;RSVP=TRUE:"
        f"mailto:{booking.email}",
        f"DESCRIPTION:{_text(chr(10).join(description))}",
        f"LOCATION:{_text(booking_location(booking))}",
        f"ORGANIZER;CN={_param(host_name)}:mailto:{booking.host.email}",
        f"STATUS:{'CANCELLED' if method == 'CANCEL' else 'CONFIRMED'}",
        "TRANSP:OPAQUE",
    ]
    if booking.meet_url:
        lines.insert(lines.index("TRANSP:OPAQUE") + 1, f"URL:{booking.meet_url}")
    if method == "REQUEST":
        lines += [
            "BEGIN:VALARM",
            "ACTION:DISPLAY",
            f"DESCRIPTION:{_text(f'{title} starts in 15 minutes')}",
            f"TRIGGER:-PT{int(REMINDER_BEFORE.total_seconds() // 60)}M",
            "END:VALARM",
        ]
    lines += ["END:VEVENT", "END:VCALENDAR"]
    return ("\r\n".join(_fold(line) for line in lines) + "\r\n").encode()
