"""Demo data: the owner as host, the `intro-call` event type, and bookings in every state."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from email.utils import parseaddr
from zoneinfo import ZoneInfo

from django.conf import settings

from bookings.availability import available_slots
from bookings.models import Booking, BookingEventKind, EventType, Host, WeeklyHours
from bookings.selectors import busy_intervals, rules_for
from clientsflow.demo import DemoContext
from leads.demo import DEMO_OWNER_EMAIL, demo_stage_times
from leads.models import Lead
from leads.services.timeline import timeline_record

BLOCKED_REASON = (
    "Google refused the service account (unauthorized_client): domain-wide delegation is not granted for the "
    "Calendar scope. The lead was sent the ICS email instead."
)
PAST_CALL_STAGES = ("call_done", "proposal_sent", "signed", "paid")
# (status, invite status, invite error) cycled over the booked leads, so every state appears.
STATES = [
    (Booking.Status.CONFIRMED, Booking.InviteStatus.SENT, ""),
    (Booking.Status.CONFIRMED, Booking.InviteStatus.FALLBACK_SENT, ""),
    (Booking.Status.RESCHEDULED, Booking.InviteStatus.SENT, ""),
    (Booking.Status.CONFIRMED, Booking.InviteStatus.BLOCKED, BLOCKED_REASON),
    (Booking.Status.CONFIRMED, Booking.InviteStatus.PENDING, ""),
    (Booking.Status.CANCELLED, Booking.InviteStatus.FALLBACK_SENT, ""),
]


def _is_real_address(address: str) -> bool:
    return "@" in address and not address.lower().endswith("@localhost")


def demo_host_email(owner) -> str:
    """The organizer a lead sees on the demo's invites: the owner account's address, else the
    settings' (OWNER_EMAIL, then DEFAULT_FROM_EMAIL's), else the demo owner's; never a made-up
    `@localhost` one."""
    for candidate in (owner.email, settings.OWNER_EMAIL, settings.DEFAULT_FROM_EMAIL):
        address = parseaddr(candidate or "")[1].strip()
        if _is_real_address(address):
            return address
    return DEMO_OWNER_EMAIL


def host_and_event_type(owner) -> EventType:
    host, created = Host.objects.get_or_create(
        user=owner,
        defaults={
            "name": owner.get_full_name() or owner.get_username(),
            "email": demo_host_email(owner),
            "timezone": settings.OWNER_TIMEZONE,
        },
    )
    if not created and not _is_real_address(host.email):  # left so by an earlier demo
        host.email = demo_host_email(owner)
        host.save(update_fields=["email", "updated_at"])
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
    past = _past_bookings(ctx, event_type)
    _date_and_record(ctx, [*made, *past])
    return {"event_types": 1, "bookings": len(made) + len(past)}


def _past_bookings(ctx: DemoContext, event_type: EventType) -> list[Booking]:
    """The calls that already happened: for every lead past `booked`, booked when its stage history
    says it booked, for a time that ends before its call was recorded (`call_done`)."""
    ids = [lead_id for stage in PAST_CALL_STAGES for lead_id in ctx.leads_by_stage.get(stage, [])]
    leads = Lead.objects.in_bulk(ids)
    times = demo_stage_times(list(leads))
    duration = timedelta(minutes=event_type.duration_minutes)
    step = timedelta(minutes=event_type.slot_interval_minutes)

    def cells(start: datetime, end: datetime) -> set[int]:
        """The slot-sized cells an interval touches: two bookings overlap only if they share one."""
        first = int(start.timestamp() // step.total_seconds())
        last = int((end.timestamp() - 1) // step.total_seconds())
        return set(range(first, last + 1))

    taken: set[int] = set()
    for busy_start, busy_end in Booking.objects.filter(
        host=event_type.host, status__in=Booking.ACTIVE_STATUSES
    ).values_list("buffered_start", "buffered_end"):
        taken |= cells(busy_start, busy_end)
    made = []
    for lead_id in sorted(leads):
        lead, stage_times = leads[lead_id], times.get(lead_id, {})
        booked_at, call_recorded_at = stage_times.get("booked"), stage_times.get("call_done")
        if not lead.email or booked_at is None or call_recorded_at is None:
            continue
        # The call ends at least ten minutes before its transcript arrived, on the slot grid; moved
        # a slot earlier while another booking holds it, never before the lead booked.
        latest = call_recorded_at - duration - timedelta(minutes=10)
        start = datetime.fromtimestamp(
            (latest.timestamp() // step.total_seconds()) * step.total_seconds(), tz=latest.tzinfo
        )
        while start > booked_at and cells(start, start + duration) & taken:
            start -= step
        if start <= booked_at:  # booked and called within the hour: off the grid, just after booking
            start = booked_at + (latest - booked_at) / 2
            if latest <= booked_at or cells(start, start + duration) & taken:
                continue
        taken |= cells(start, start + duration)
        made.append(
            Booking(
                host=event_type.host,
                event_type=event_type,
                lead=lead,
                start_at=start,
                end_at=start + duration,
                buffered_start=start,
                buffered_end=start + duration,
                timezone=ctx.rng.choice(["America/New_York", "Europe/London", "America/Los_Angeles"]),
                name=lead.name or lead.email,
                email=lead.email,
                status=Booking.Status.CONFIRMED,
                invite_status=Booking.InviteStatus.FALLBACK_SENT,
                sequence=0,
            )
        )
    Booking.objects.bulk_create(made)
    return made


def _date_and_record(ctx: DemoContext, bookings: list[Booking]) -> None:
    """Date each booking at the lead's `booked` time and put it on the lead's timeline."""
    times = demo_stage_times([b.lead_id for b in bookings])
    zone = ZoneInfo(settings.OWNER_TIMEZONE)
    dated = []
    for booking in Booking.objects.filter(pk__in=[b.pk for b in bookings if b.pk]).select_related("lead"):
        booked_at = times.get(booking.lead_id, {}).get("booked")
        if booked_at is None:
            continue
        booking.created_at = booked_at
        dated.append(booking)
        timeline_record(
            lead=booking.lead,
            kind=BookingEventKind.BOOKING,
            summary=f"Booked a call for {booking.start_at.astimezone(zone):%a %-d %b %H:%M}",
            data={"booking_id": booking.pk, "via": "demo data"},
            occurred_at=booked_at,
        )
    Booking.objects.bulk_update(dated, ["created_at"], batch_size=500)
