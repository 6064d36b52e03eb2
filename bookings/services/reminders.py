"""Reminders 24 hours and 1 hour before a booking: each at most once, none after a cancel.

Each reminder is claimed with a compare-and-swap on its `*_sent_at` column before the email goes
out, so a second dispatcher run (or two workers) never sends it twice. A booking made (or moved)
after a reminder's moment does not get that reminder: it just received its confirmation.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import F
from django.db.models.functions import Coalesce
from django.utils import timezone

from bookings.ics import booking_location
from bookings.links import manage_url
from bookings.models import Booking
from bookings.services.invites import local_time, send_booking_email
from clientsflow.site import host_display_name

BATCH = 200
REMINDERS: list[tuple[str, timedelta, str]] = [
    ("24h", timedelta(hours=24), "reminder_24h_sent_at"),
    ("1h", timedelta(hours=1), "reminder_1h_sent_at"),
]


def _due(kind: str, lead_time: timedelta, field: str, now: datetime):
    # The 24 h reminder is skipped once the 1 h one is due: one reminder at a time.
    later_bound = now + timedelta(hours=1) if kind == "24h" else now
    return (
        Booking.objects.select_related("event_type", "host")
        .annotate(confirmed_at=Coalesce("rescheduled_at", "created_at"))
        .filter(
            status__in=Booking.ACTIVE_STATUSES,
            start_at__gt=later_bound,
            start_at__lte=now + lead_time,
            confirmed_at__lte=F("start_at") - lead_time,
            **{f"{field}__isnull": True},
        )
        .order_by("start_at")[:BATCH]
    )


def booking_reminders_send(*, now: datetime | None = None) -> dict[str, int]:
    now = now or timezone.now()
    sent = {"24h": 0, "1h": 0, "suppressed": 0, "blocked": 0, "failed": 0}
    for kind, lead_time, field in REMINDERS:
        for booking in _due(kind, lead_time, field, now):
            claimed = Booking.objects.filter(
                pk=booking.pk,
                status__in=Booking.ACTIVE_STATUSES,
                sequence=booking.sequence,
                **{f"{field}__isnull": True},
            ).update(**{field: now})
            if not claimed:
                continue  # another run took it, or the booking changed meanwhile
            result = send_booking_email(
                booking=booking,
                kind=f"reminder_{kind}",
                subject=f"Reminder: {booking.event_type.title} {'tomorrow' if kind == '24h' else 'in an hour'}",
                lines=[
                    f"A reminder: your {booking.event_type.title} with {host_display_name(booking.host.name)} is on {local_time(booking)}.",
                    f"Where: {booking_location(booking)}",
                    f"Need to reschedule or cancel? {manage_url(booking)}",
                ],
            )
            if result == "sent":
                sent[kind] += 1
            elif result == "suppressed":
                sent["suppressed"] += 1
            elif result in ("allowlist", "no_address"):
                sent["blocked"] += 1  # refused by the mail gate, audited there
            else:
                sent["failed"] += 1
    return sent
