"""Holding, booking, moving and cancelling a slot.

The overlap guarantee: every write that puts a hold or a booking on a time runs `_check_free` and
the write inside one transaction. On SQLite that transaction is `BEGIN IMMEDIATE` (settings), so
they run one writer at a time. On PostgreSQL `_check_free` first locks the host's row, so writers
for one host queue there and each checks against what the previous one committed: that is what
makes a hold and a booking exclude each other (no constraint spans two tables). The exclusion
constraints on bookings and on holds stay as the last word (IntegrityError -> `SlotTaken` /
`SlotHeld`). Either way the losing request writes nothing: the lead it may have created is rolled
back with it.
"""

from __future__ import annotations

import logging
import secrets
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.urls import reverse
from django.utils import timezone

from bookings.availability import Interval, slot_is_offered
from bookings.models import (
    HOLD_NO_OVERLAP_CONSTRAINT,
    NO_OVERLAP_CONSTRAINT,
    Booking,
    BookingEventKind,
    EventType,
    Hold,
    Host,
)
from bookings.selectors import google_busy, rules_for, slot_conflicts
from bookings.services.invites import booking_invite_queue
from clientsflow.audit import audit_event, audit_record
from clientsflow.errors import DomainError, InvalidInput
from clientsflow.notify import owner_notify
from clientsflow.prepared import insert_row, insert_rows_together
from leads.models import Lead, Stage, StageChange
from leads.services.board_cache import board_card_changed_held, board_cards_changed
from leads.services.intake import LeadData, lead_intake
from leads.services.stages import lead_advance_stage, lead_move_stage
from leads.services.timeline import timeline_event, timeline_record
from outreach.services.sequences import enrollments_stop_for_lead

logger = logging.getLogger(__name__)


class SlotTaken(DomainError):
    def __init__(self, message: str = "Sorry, that time was just taken. Please pick another time below."):
        super().__init__(message)


class SlotHeld(DomainError):
    def __init__(
        self,
        message: str = "Someone else is booking that time right now. Please pick another time below, "
        "or try this one again in a few minutes.",
    ):
        super().__init__(message)


class SlotUnavailable(DomainError):
    """The time is in the past, too soon, or outside the host's hours."""


UNKNOWN_ZONE_MESSAGE = "That is not a time zone we know. Pick your time zone from the list."
MAX_ZONE_NAME_LENGTH = 64


def validate_timezone(name: str) -> str:
    """An IANA zone name, or InvalidInput.

    ZoneInfo reads the name as a path inside tzdata, so besides ZoneInfoNotFoundError it raises
    ValueError for `../x` or an empty name and OSError for a folder (`America`) or an over-long name.
    """
    if not name or len(name) > MAX_ZONE_NAME_LENGTH:
        raise InvalidInput(UNKNOWN_ZONE_MESSAGE)
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise InvalidInput(UNKNOWN_ZONE_MESSAGE) from None
    return name


def check_slot_offered(*, event_type: EventType, start: datetime, now: datetime) -> None:
    if timezone.is_naive(start):
        raise InvalidInput("The chosen time has no UTC offset. Pick a time from the list.")
    if start <= now:
        raise SlotUnavailable("That time has already passed. Please pick a time from the list below.")
    if not slot_is_offered(rules_for(event_type), start=start, now=now):
        if start < now + timedelta(minutes=event_type.min_notice_minutes):
            raise SlotUnavailable("That time is too soon to book. Please pick a later time from the list below.")
        raise SlotUnavailable("That time is outside the available hours. Please pick a time from the list below.")


def _buffered(event_type: EventType, start: datetime) -> tuple[datetime, datetime, datetime]:
    end = start + timedelta(minutes=event_type.duration_minutes)
    return (
        end,
        start - timedelta(minutes=event_type.buffer_before_minutes),
        end + timedelta(minutes=event_type.buffer_after_minutes),
    )


def _overlaps_any(intervals: list[Interval], start: datetime, end: datetime) -> bool:
    return any(s < end and e > start for s, e in intervals)


def _lock_host(host: Host) -> None:
    """Queue behind any other hold or booking being written for this host. Nothing to do on
    SQLite, where every transaction begins IMMEDIATE (settings) and so is already the only writer:
    the row lock would be one more query that locks nothing."""
    if connection.vendor == "sqlite":
        return
    if connection.alias not in _LOCK_HOST_SQL:
        qn = connection.ops.quote_name
        _LOCK_HOST_SQL[connection.alias] = (
            f"SELECT {qn(Host._meta.pk.column)} FROM {qn(Host._meta.db_table)} "  # noqa: S608
            f"WHERE {qn(Host._meta.pk.column)} = %s FOR UPDATE"
        )
    with connection.cursor() as cursor:
        cursor.execute(_LOCK_HOST_SQL[connection.alias], [host.pk])


# The host's row lock, as SQL written once per database (every hold and booking write takes it).
_LOCK_HOST_SQL: dict[str, str] = {}


def _check_free(
    *,
    event_type: EventType,
    buffered_start: datetime,
    buffered_end: datetime,
    now: datetime,
    hold_token: str = "",
    exclude_booking_pk: int | None = None,
) -> None:
    """Call inside the writing transaction, before the write. Raises SlotTaken / SlotHeld.

    Takes the host's row lock (held until the transaction ends) so that concurrent holds and
    bookings for this host are checked one after the other.
    """
    host = event_type.host
    _lock_host(host)
    booked, held = slot_conflicts(
        host_id=host.pk,
        buffered_start=buffered_start,
        buffered_end=buffered_end,
        now=now,
        exclude_booking_pk=exclude_booking_pk,
        exclude_hold_token=hold_token,
    )
    if booked:
        raise SlotTaken()
    if held:
        raise SlotHeld()
    busy = google_busy(host=host)
    if _overlaps_any(busy, buffered_start, buffered_end):
        raise SlotTaken()


def _save_or_slot_taken(booking: Booking, **save_kwargs: Any) -> None:
    """Save inside a savepoint so PostgreSQL's exclusion violation can be turned into SlotTaken."""
    try:
        with transaction.atomic():
            booking.save(**save_kwargs)
    except IntegrityError as exc:
        if NO_OVERLAP_CONSTRAINT in str(exc):
            raise SlotTaken() from None
        raise


def _insert_or_slot_taken(booking: Booking) -> None:
    """INSERT a new booking (its SQL compiled once), PostgreSQL's exclusion violation as SlotTaken.

    No savepoint of its own: SlotTaken always leaves the caller's transaction, which rolls back."""
    try:
        insert_row(booking)
    except IntegrityError as exc:
        if NO_OVERLAP_CONSTRAINT in str(exc):
            raise SlotTaken() from None
        raise


def _stop_sequence_enrollments(lead: Lead) -> None:
    """Stop the lead's outbound sequence: it booked, so no more sales emails.

    A failure is recorded and does not undo the booking.
    """
    try:
        with transaction.atomic():
            enrollments_stop_for_lead(lead_id=lead.pk, reason="booked", actor_label="booking page")
    except Exception as exc:
        logger.exception("bookings.enrollment_stop_failed", extra={"lead_id": lead.pk})
        audit_record(
            verb="booking.enrollment_stop_failed",
            obj=lead,
            actor_label="booking page",
            details={"error_type": type(exc).__name__},
        )


def _timeline_data(booking: Booking, **extra: Any) -> dict[str, Any]:
    return {"booking_id": booking.pk, "start_at": booking.start_at.isoformat(), **extra}


def _when(booking: Booking) -> str:
    local = booking.start_at.astimezone(ZoneInfo(settings.OWNER_TIMEZONE))
    return f"{local:%a %-d %b %Y %H:%M} ({settings.OWNER_TIMEZONE})"


def _when_at(moment: datetime) -> str:
    local = moment.astimezone(ZoneInfo(settings.OWNER_TIMEZONE))
    return f"{local:%a %-d %b %H:%M}"


def _enqueue_invite(booking: Booking) -> None:
    booking_invite_queue(booking)


def _notify_owner(booking: Booking, *, kind: str, subject: str, lines: list[str], new_key: bool = False) -> None:
    """Tell the owner; the key carries the booking's change number, so each change notifies once.
    `new_key`: the booking was inserted in this transaction, so no notification has its key yet."""
    lead = booking.lead
    owner_notify(
        new_key=new_key,
        kind=kind,
        key=f"{kind}:{booking.pk}:{booking.sequence}",
        subject=subject,
        text="\n".join([*lines, f"{booking.name} <{booking.email}>" + (f", {booking.phone}" if booking.phone else "")]),
        link=reverse("board:lead-detail", args=[lead.public_id]),
    )


# --- holds ------------------------------------------------------------------------------------


@transaction.atomic
def hold_create(
    *,
    event_type: EventType,
    start: datetime,
    visitor_key: str = "",
    address: str | None = None,
    now: datetime | None = None,
) -> Hold | None:
    """Keep a slot for `BOOKING_HOLD_MINUTES` while the visitor fills in the form.

    The visitor (`visitor_key`, their session) holds one slot at a time: this one replaces any
    other. An address keeps at most `BOOKING_HOLDS_PER_ADDRESS` live holds: its oldest go first.
    A host has at most `BOOKING_HOLDS_PER_HOST` live holds, so holds never hide more than a
    handful of slots from everyone else: past that the visitor gets no hold (None) and the slot
    goes to whoever confirms first, still refereed by the booking constraint.
    Raises SlotTaken / SlotHeld when the time is someone else's; then nothing changes, the
    visitor's earlier hold included.
    """
    now = now or timezone.now()
    check_slot_offered(event_type=event_type, start=start, now=now)
    end, buffered_start, buffered_end = _buffered(event_type, start)
    _lock_host(event_type.host)
    if visitor_key:
        Hold.objects.filter(visitor_key=visitor_key).delete()
    _check_free(event_type=event_type, buffered_start=buffered_start, buffered_end=buffered_end, now=now)
    # The constraint counts expired rows too; under the host lock, clear this host's lapsed ones.
    Hold.objects.filter(host=event_type.host, expires_at__lte=now).delete()
    if address:
        keep = max(settings.BOOKING_HOLDS_PER_ADDRESS - 1, 0)
        older = Hold.objects.filter(address=address, expires_at__gt=now).order_by("-created_at", "-pk")[keep:]
        Hold.objects.filter(pk__in=list(older.values_list("pk", flat=True))).delete()
    if Hold.objects.filter(host=event_type.host).count() >= settings.BOOKING_HOLDS_PER_HOST:
        return None
    hold = Hold(
        host=event_type.host,
        event_type=event_type,
        token=secrets.token_urlsafe(24),
        visitor_key=visitor_key,
        address=address,
        start_at=start,
        end_at=end,
        buffered_start=buffered_start,
        buffered_end=buffered_end,
        expires_at=now + timedelta(minutes=settings.BOOKING_HOLD_MINUTES),
    )
    try:
        with transaction.atomic():
            hold.save()
    except IntegrityError as exc:
        if HOLD_NO_OVERLAP_CONSTRAINT in str(exc):
            raise SlotHeld() from None
        raise
    return hold


def holds_expire(*, now: datetime | None = None) -> int:
    deleted, _ = Hold.objects.filter(expires_at__lte=now or timezone.now()).delete()
    return deleted


# --- booking ----------------------------------------------------------------------------------


def booking_create(
    *,
    event_type: EventType,
    start: datetime,
    timezone_name: str,
    name: str,
    email: str,
    phone: str = "",
    note: str = "",
    hold_token: str = "",
    now: datetime | None = None,
) -> Booking:
    """Book `start` for the person, creating or finding their lead, moving it to `booked`.

    Raises InvalidInput (bad details), SlotUnavailable (past / outside hours), SlotTaken or
    SlotHeld; in every case nothing is written. The invite goes out after commit.
    """
    now = now or timezone.now()
    validate_timezone(timezone_name)
    if not name.strip():
        raise InvalidInput("Please tell us your name.")
    if not email.strip():
        raise InvalidInput("Please give an email address so we can send you the invite.")
    data = LeadData.build(name=name, email=email, phone=phone)
    check_slot_offered(event_type=event_type, start=start, now=now)
    end, buffered_start, buffered_end = _buffered(event_type, start)

    with transaction.atomic():
        _check_free(
            event_type=event_type,
            buffered_start=buffered_start,
            buffered_end=buffered_end,
            now=now,
            hold_token=hold_token,
        )
        # The timeline and audit rows of the intake, the booking and the move, written together
        # before the commit (one INSERT per table) in the order they are made; nothing here reads
        # them back first.
        pending_rows: list[Any] = []
        # Any failure in the intake rolls this whole transaction back, so it needs no savepoint of
        # its own where nothing can race it: on SQLite this transaction is the only writer. On
        # PostgreSQL the savepoint lets the intake try again after a concurrent enrichment.
        intake = lead_intake(
            data=data,
            source="booking",
            actor_label="booking page",
            via=event_type.slug,
            savepoint=connection.vendor != "sqlite",
            pending_rows=pending_rows,
        )
        booking = Booking(
            host=event_type.host,
            event_type=event_type,
            lead=intake.lead,
            start_at=start,
            end_at=end,
            buffered_start=buffered_start,
            buffered_end=buffered_end,
            timezone=timezone_name,
            name=data.name,
            email=data.email,
            phone=data.phone,
            note=note.strip()[:2000],
        )
        _insert_or_slot_taken(booking)
        if hold_token:
            Hold.objects.filter(token=hold_token).delete()
        pending_rows.append(
            timeline_event(
                lead=intake.lead,
                kind=BookingEventKind.BOOKING,
                summary=f"Booked {event_type.title} for {_when(booking)}",
                data=_timeline_data(booking, status=booking.status),
            )
        )
        # `lead_intake` left the lead locked (found FOR UPDATE, or created in this transaction).
        lead_advance_stage(
            lead=intake.lead,
            to_stage=Stage.BOOKED,
            actor_label="booking page",
            reason=f"Booked {event_type.title}",
            held=True,
            created=intake.created,
            pending_rows=pending_rows,
        )
        if not intake.created:  # a lead made just now has no sequence to stop
            # Stopping writes rows of its own (in a savepoint): ours so far go first, as they happened.
            insert_rows_together(pending_rows)
            pending_rows.clear()
            _stop_sequence_enrollments(intake.lead)
        pending_rows.append(
            audit_event(
                verb="booking.created",
                obj=booking,
                actor_label="booking page",
                details={"lead_id": intake.lead.pk, "start_at": start.isoformat(), "event_type": event_type.slug},
            )
        )
        insert_rows_together(pending_rows)
        # The lead's row lock is held until the commit, so its column is the one in hand.
        board_card_changed_held(intake.lead.pk, stage=intake.lead.stage)
        _enqueue_invite(booking)
        _notify_owner(
            booking,
            kind="booking_created",
            subject=f"New call booked: {booking.name}, {_when(booking)}",
            lines=[f"{booking.name} booked {event_type.title} for {_when(booking)}."]
            + ([f"Their note: {booking.note}"] if booking.note else []),
            new_key=True,
        )
    logger.info("booking.created", extra={"booking_id": booking.pk, "lead_id": booking.lead_id})
    return booking


def booking_reschedule(
    *,
    booking: Booking,
    start: datetime,
    actor: Any = None,
    actor_label: str = "lead (manage link)",
    hold_token: str = "",
    now: datetime | None = None,
) -> Booking:
    """Move an active booking to `start`: same overlap guarantee, one transaction, new SEQUENCE."""
    now = now or timezone.now()
    with transaction.atomic():
        locked = Booking.objects.select_for_update().select_related("event_type__host").get(pk=booking.pk)
        if not locked.is_active:
            raise DomainError("This booking was cancelled, so it cannot be moved. Book a new time instead.")
        if locked.start_at <= now:
            raise DomainError("This meeting has already started, so it cannot be moved.")
        if start == locked.start_at:
            raise InvalidInput("That is the time already booked. Pick a different time.")
        event_type = locked.event_type
        check_slot_offered(event_type=event_type, start=start, now=now)
        end, buffered_start, buffered_end = _buffered(event_type, start)
        _check_free(
            event_type=event_type,
            buffered_start=buffered_start,
            buffered_end=buffered_end,
            now=now,
            hold_token=hold_token,
            exclude_booking_pk=locked.pk,
        )
        previous = locked.start_at
        locked.start_at, locked.end_at = start, end
        locked.buffered_start, locked.buffered_end = buffered_start, buffered_end
        locked.status = Booking.Status.RESCHEDULED
        locked.rescheduled_at = now
        locked.sequence += 1
        locked.reminder_24h_sent_at = None
        locked.reminder_1h_sent_at = None
        locked.invite_status = Booking.InviteStatus.PENDING
        locked.invite_error = ""
        _save_or_slot_taken(locked)
        if hold_token:
            Hold.objects.filter(token=hold_token).delete()
        timeline_record(
            lead=locked.lead,
            kind=BookingEventKind.BOOKING,
            summary=f"Booking moved to {_when(locked)}",
            data=_timeline_data(locked, previous_start_at=previous.isoformat()),
        )
        audit_record(
            verb="booking.rescheduled",
            obj=locked,
            actor=actor,
            actor_label=actor_label,
            details={"from": previous.isoformat(), "to": start.isoformat(), "sequence": locked.sequence},
        )
        board_cards_changed(locked.lead_id)
        _enqueue_invite(locked)
        _notify_owner(
            locked,
            kind="booking_rescheduled",
            subject=f"Call moved: {locked.name}, now {_when(locked)}",
            lines=[f"{locked.name} moved {event_type.title} to {_when(locked)} (it was {_when_at(previous)})."],
        )
    return locked


def _return_lead_after_cancel(booking: Booking, *, actor: Any, actor_label: str, reason: str) -> None:
    """The call is off: a lead still in Booked (with no other call booked) goes back to Replied, or
    to the earlier stage it was booked from, with the reason in its history. Call inside the
    cancelling transaction."""
    lead = Lead.objects.select_for_update().get(pk=booking.lead_id)
    if lead.stage != Stage.BOOKED:
        return  # it moved on (call done, lost...) or the owner moved it: theirs to decide
    others = Booking.objects.filter(lead=lead, status__in=Booking.ACTIVE_STATUSES).exclude(pk=booking.pk)
    if others.exists():
        return
    came_from = (
        StageChange.objects.filter(lead=lead, to_stage=Stage.BOOKED)
        .order_by("-changed_at", "-id")
        .values_list("from_stage", flat=True)
        .first()
    )
    to_stage = came_from if came_from in (Stage.NEW, Stage.CONTACTED) else Stage.REPLIED
    lead_move_stage(
        lead=lead,
        to_stage=to_stage,
        actor=actor,
        actor_label=actor_label,
        reason=f"Call cancelled: {reason or 'no reason given'}",
        expected_stage=Stage.BOOKED,
    )


@transaction.atomic
def booking_cancel(
    *,
    booking: Booking,
    reason: str,
    actor: Any = None,
    actor_label: str = "lead (manage link)",
    now: datetime | None = None,
) -> Booking:
    """Cancel an active booking; the Google event is cancelled and an ICS CANCEL goes out after commit.

    `reason` may be empty (a lead need not give one): it is stored empty, and what people read
    says "no reason given". Staff forms require one before calling this. `now` is the moment the
    call's end is compared with, as in `booking_create` and `booking_reschedule` (the clock's
    time unless given); `cancelled_at` is always the clock's.
    """
    reason = " ".join((reason or "").split())
    locked = Booking.objects.select_for_update().get(pk=booking.pk)
    if not locked.is_active:
        raise DomainError("This booking is already cancelled.")
    if locked.end_at <= (now or timezone.now()):
        raise DomainError("This call has already taken place, so it cannot be cancelled.")
    user = actor if getattr(actor, "is_authenticated", False) else None
    label = actor_label if not user else user.get_username()
    locked.status = Booking.Status.CANCELLED
    locked.cancelled_at = timezone.now()
    locked.cancel_reason = reason[:255]
    locked.cancelled_by = label[:100]
    locked.sequence += 1
    locked.invite_status = Booking.InviteStatus.PENDING
    locked.invite_error = ""
    locked.save()
    timeline_record(
        lead=locked.lead,
        kind=BookingEventKind.BOOKING,
        summary=f"Booking for {_when(locked)} cancelled by {label}: {reason or 'no reason given'}",
        data=_timeline_data(locked, reason=reason[:255]),
    )
    audit_record(verb="booking.cancelled", obj=locked, actor=user, actor_label=label, details={"reason": reason[:255]})
    _return_lead_after_cancel(locked, actor=user, actor_label=label, reason=reason)
    board_cards_changed(locked.lead_id)
    _enqueue_invite(locked)
    who = locked.name if not user else f"{label} (staff)"
    _notify_owner(
        locked,
        kind="booking_cancelled",
        subject=f"Call cancelled: {locked.name}, {_when(locked)}",
        lines=[f"{who} cancelled {locked.event_type.title} on {_when(locked)}.", f"Reason: {reason or 'none given'}"],
    )
    return locked
