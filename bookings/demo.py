"""Demo data: the owner as host, the `intro-call` event type, and bookings in every state."""

from __future__ import annotations

from datetime import time, timedelta

from django.conf import settings

from bookings.availability import available_slots
from bookings.models import Booking, EventType, Host, WeeklyHours
from bookings.selectors import busy_intervals, rules_for
from clientsflow.demo import DemoContext
from leads.models import Lead

BLOCKED_REASON = (
    "Google refused the service account (unauthorized_client): domain-wide delegation is not granted for the "
    "Calendar scope. The lead was sent the ICS email instead."
)
# (status, invite status, invite error) cycled over the booked leads, so every state appears.
STATES = [
    (Booking.Status.CONFIRMED, Booking.InviteStatus.SENT, ""),
    (Booking.Status.CONFIRMED, Booking.InviteStatus.FALLBACK_SENT, ""),
    (Booking.Status.RESCHEDULED, Booking.InviteStatus.SENT, ""),
    (Booking.Status.CONFIRMED, Booking.InviteStatus.BLOCKED, BLOCKED_REASON),
    (Booking.Status.CONFIRMED, Booking.InviteStatus.PENDING, ""),
    (Booking.Status.CANCELLED, Booking.InviteStatus.FALLBACK_SENT, ""),
]


def host_and_event_type(owner) -> EventType:
    host, _ = Host.objects.get_or_create(
        user=owner,
        defaults={
            "name": owner.get_full_name() or owner.get_username(),
            "email": owner.email or "owner@localhost",
            "timezone": settings.OWNER_TIMEZONE,
        },
    )
    event_type, created = EventType.objects.get_or_create(
        slug="intro-call",
        defaults={
            "host": host,
            "title": "Intro call",
            "description": "A first 30-minute conversation about what you need.",
            "duration_minutes": 30,
            "slot_interval_minutes": 30,
            "buffer_after_minutes": 0,
            "min_notice_minutes": 240,
            "days_ahead": 30,
            "location": "Google Meet (link in the invite)",
        },
    )
    if created:
        WeeklyHours.objects.bulk_create(
            WeeklyHours(event_type=event_type, weekday=day, start_time=time(9), end_time=time(17)) for day in range(5)
        )
    return event_type


def seed_bookings(ctx: DemoContext) -> dict[str, int]:
    event_type = host_and_event_type(ctx.owner)
    rules = rules_for(event_type)
    busy = busy_intervals(
        host=event_type.host,
        time_min=ctx.now - timedelta(days=1),
        time_max=ctx.now + timedelta(days=rules.days_ahead + 2),
        now=ctx.now,
        include_google=False,
    )
    slots = available_slots(rules, now=ctx.now, busy=busy)
    ctx.rng.shuffle(slots)
    slots = sorted(slots[: len(ctx.leads_by_stage.get("booked", []))], key=lambda s: s.start)
    leads = Lead.objects.in_bulk(ctx.leads_by_stage.get("booked", []))
    made = []
    for i, (lead_id, slot) in enumerate(zip(sorted(leads), slots, strict=False)):
        lead = leads[lead_id]
        status, invite_status, error = STATES[i % len(STATES)]
        if not lead.email:
            continue
        made.append(
            Booking(
                host=event_type.host,
                event_type=event_type,
                lead=lead,
                start_at=slot.start,
                end_at=slot.end,
                buffered_start=slot.start - rules.buffer_before,
                buffered_end=slot.end + rules.buffer_after,
                timezone=ctx.rng.choice(
                    ["America/New_York", "Europe/London", "America/Los_Angeles", "Australia/Sydney"]
                ),
                name=lead.name or lead.email,
                email=lead.email,
                status=status,
                invite_status=invite_status,
                invite_error=error,
                sequence=1 if status != Booking.Status.CONFIRMED else 0,
                rescheduled_at=ctx.now if status == Booking.Status.RESCHEDULED else None,
                cancelled_at=ctx.now if status == Booking.Status.CANCELLED else None,
                cancel_reason="Demo: the lead found a better time next month"
                if status == Booking.Status.CANCELLED
                else "",
                cancelled_by="lead (manage link)" if status == Booking.Status.CANCELLED else "",
                meet_url="https://meet.google.com/abc-defg-hij" if invite_status == Booking.InviteStatus.SENT else "",
            )
        )
    Booking.objects.bulk_create(made)
    return {"event_types": 1, "bookings": len(made)}
