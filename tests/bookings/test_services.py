"""Booking, holding, moving and cancelling through the services (SQLite path by default)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext

from bookings.models import Booking, Hold
from bookings.services import (
    SlotHeld,
    SlotTaken,
    SlotUnavailable,
    booking_cancel,
    booking_create,
    booking_reschedule,
    hold_create,
    holds_expire,
)
from clientsflow.errors import DomainError, InvalidInput
from clientsflow.models import AuditEvent
from leads.models import Lead, LeadEvent, Stage
from outreach.models import Enrollment, Sequence
from outreach.services.suppression import suppression_add
from tests.bookings.factories import EventTypeFactory, LeadFactory

pytestmark = pytest.mark.django_db

TUE_10_NY = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)  # Tue 1 Dec 2026 10:00 in New York


NOW = datetime(2026, 11, 30, 12, tzinfo=UTC)


@pytest.fixture
def book(django_capture_on_commit_callbacks):
    """Book through the service and run what it queues after commit (the invite task)."""

    def _book(event_type, start=TUE_10_NY, now=None, **kw):
        values = {"timezone_name": "Europe/London", "name": "Ada Lovelace", "email": "ada@example.com"}
        values.update(kw)
        with django_capture_on_commit_callbacks(execute=True):
            return booking_create(event_type=event_type, start=start, now=now or NOW, **values)

    return _book


@pytest.fixture
def after_commit(django_capture_on_commit_callbacks):
    def _run(func, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return func(**kwargs)

    return _run


def test_booking_creates_the_lead_moves_it_to_booked_and_sends_the_ics_email(event_type, book):
    booking = book(event_type, phone="+44 20 7946 0958", note="About the website")
    lead = Lead.objects.get(email_normalized="ada@example.com")
    assert booking.lead == lead and lead.source == "booking" and lead.stage == Stage.BOOKED
    assert booking.end_at - booking.start_at == timedelta(minutes=30)
    assert booking.timezone == "Europe/London" and booking.status == Booking.Status.CONFIRMED
    assert LeadEvent.objects.filter(lead=lead, kind="booking", label="Booking").exists()
    assert lead.stage_changes.get().to_stage == Stage.BOOKED
    booking.refresh_from_db()
    # Google is not configured (local mode): our own ICS email is the invite.
    assert booking.invite_status == Booking.InviteStatus.FALLBACK_SENT
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["ada@example.com"]
    assert mail.outbox[0].attachments[0][2].startswith("text/calendar; method=REQUEST")
    verbs = set(AuditEvent.objects.values_list("verb", flat=True))
    assert {"booking.created", "booking.email_sent", "booking.invite_fallback_sent"} <= verbs


def test_existing_lead_is_reused_through_dedup(event_type, book):
    lead = LeadFactory(email="Ada@Example.com", email_normalized="ada@example.com", stage=Stage.REPLIED)
    booking = book(event_type)
    lead.refresh_from_db()
    assert booking.lead_id == lead.pk and lead.stage == Stage.BOOKED
    assert Lead.objects.count() == 1


def test_same_slot_twice_is_refused_and_writes_nothing(event_type, book):
    book(event_type)
    with pytest.raises(SlotTaken, match="that time was just taken"):
        book(event_type, email="grace@example.com", name="Grace")
    assert Booking.objects.count() == 1
    assert not Lead.objects.filter(email_normalized="grace@example.com").exists()


def test_overlapping_but_different_slots_are_refused(event_type, book):
    event_type.buffer_after_minutes = 15
    event_type.slot_interval_minutes = 15
    event_type.save()
    book(event_type)  # 10:00-10:30, buffered to 10:45
    with pytest.raises(SlotTaken):
        book(event_type, start=TUE_10_NY + timedelta(minutes=15), email="b@example.com")
    with pytest.raises(SlotTaken):
        book(event_type, start=TUE_10_NY + timedelta(minutes=30), email="c@example.com")  # inside the buffer
    other = book(event_type, start=TUE_10_NY + timedelta(minutes=45), email="d@example.com")
    assert other.start_at == TUE_10_NY + timedelta(minutes=45)
    # Another host's calendar is independent.
    second_host_type = EventTypeFactory(host__email="partner@agency.example")
    assert book(second_host_type, email="e@example.com").host_id != other.host_id


@pytest.mark.parametrize(
    ("start", "message"),
    [
        (datetime(2026, 11, 29, 15, 0, tzinfo=UTC), "already passed"),
        (datetime(2026, 11, 30, 12, 30, tzinfo=UTC), "too soon"),
        (datetime(2026, 12, 1, 3, 0, tzinfo=UTC), "outside the available hours"),
        (datetime(2026, 12, 1, 15, 10, tzinfo=UTC), "outside the available hours"),
    ],
)
def test_past_too_soon_and_outside_hours_are_refused(event_type, book, start, message):
    with pytest.raises(SlotUnavailable, match=message):
        book(event_type, start=start)
    assert not Booking.objects.exists() and not Lead.objects.exists()


def test_bad_details_are_refused(event_type, book):
    with pytest.raises(InvalidInput, match="not a valid email"):
        book(event_type, email="not-an-email")
    with pytest.raises(InvalidInput, match="time zone"):
        book(event_type, timezone_name="Mars/Olympus")
    assert not Lead.objects.exists()


def test_holds_keep_a_slot_from_others_until_they_expire(event_type, book):
    now = datetime(2026, 11, 30, 12, tzinfo=UTC)
    hold = hold_create(event_type=event_type, start=TUE_10_NY, now=now)
    with pytest.raises(SlotHeld):
        book(event_type, now=now, email="other@example.com")
    booking = book(event_type, now=now, hold_token=hold.token)
    assert booking.pk and not Hold.objects.exists()
    # An expired hold no longer blocks anyone.
    later = TUE_10_NY + timedelta(hours=1)
    hold_create(event_type=event_type, start=later, now=now)
    assert book(event_type, start=later, now=now + timedelta(minutes=11), email="late@example.com").pk
    hold_create(event_type=event_type, start=later + timedelta(hours=1), now=now)
    assert holds_expire(now=now + timedelta(minutes=11)) == 2  # the two left to expire
    assert not Hold.objects.exists()


def test_reschedule_moves_the_booking_bumps_the_sequence_and_keeps_the_uid(event_type, book, after_commit):
    booking = book(event_type)
    uid = booking.ics_uid
    mail.outbox.clear()
    moved = after_commit(
        booking_reschedule, booking=booking, start=TUE_10_NY + timedelta(days=1), now=datetime(2026, 11, 30, tzinfo=UTC)
    )
    moved.refresh_from_db()
    assert moved.start_at == TUE_10_NY + timedelta(days=1) and moved.sequence == 1
    assert moved.status == Booking.Status.RESCHEDULED and moved.ics_uid == uid
    assert moved.invite_status == Booking.InviteStatus.FALLBACK_SENT
    assert mail.outbox[0].subject.startswith("Moved:")
    # The old time is free again; the new one is not.
    assert book(event_type, email="z@example.com").start_at == TUE_10_NY
    with pytest.raises(SlotTaken):
        booking_reschedule(booking=moved, start=TUE_10_NY, now=datetime(2026, 11, 30, tzinfo=UTC))


def test_reschedule_onto_an_overlap_is_refused_and_changes_nothing(event_type, book):
    first = book(event_type)
    second = book(event_type, start=TUE_10_NY + timedelta(hours=2), email="b@example.com")
    with pytest.raises(SlotTaken):
        booking_reschedule(booking=second, start=TUE_10_NY, now=datetime(2026, 11, 30, tzinfo=UTC))
    second.refresh_from_db()
    assert second.start_at == TUE_10_NY + timedelta(hours=2) and second.sequence == 0
    assert first.pk != second.pk


def test_cancel_frees_the_slot_and_sends_an_ics_cancel(event_type, book, after_commit):
    booking = book(event_type)
    mail.outbox.clear()
    cancelled = after_commit(booking_cancel, booking=booking, reason="Found another agency", now=NOW)
    cancelled.refresh_from_db()
    assert cancelled.status == Booking.Status.CANCELLED and cancelled.sequence == 1
    assert cancelled.cancel_reason == "Found another agency"
    assert mail.outbox[0].attachments[0][2].startswith("text/calendar; method=CANCEL")
    with pytest.raises(DomainError, match="already cancelled"):
        booking_cancel(booking=cancelled, reason="again", now=NOW)
    with pytest.raises(DomainError, match="cancelled"):
        booking_reschedule(
            booking=cancelled, start=TUE_10_NY + timedelta(days=1), now=datetime(2026, 11, 30, tzinfo=UTC)
        )
    assert book(event_type, email="next@example.com").start_at == TUE_10_NY


def test_suppressed_address_gets_no_email_and_the_invite_is_blocked(event_type, book):
    suppression_add(email="ada@example.com", reason="unsubscribed", actor_label="test")
    booking = book(event_type)
    booking.refresh_from_db()
    assert mail.outbox == []
    assert booking.invite_status == Booking.InviteStatus.BLOCKED
    assert "suppression" in booking.invite_error


def test_merging_leads_moves_their_bookings(event_type, book):
    from leads.services.merge import lead_merge

    booking = book(event_type)
    survivor = LeadFactory()
    lead_merge(survivor=survivor, duplicate=booking.lead)
    booking.refresh_from_db()
    assert booking.lead_id == survivor.pk


def test_booking_stops_the_leads_active_sequence_enrollment(event_type, book):

    lead = LeadFactory(email="ada@example.com", email_normalized="ada@example.com", stage=Stage.CONTACTED)
    enrollment = Enrollment.objects.create(lead=lead, sequence=Sequence.objects.create(name="Cold"), enrolled_by="test")
    book(event_type)
    enrollment.refresh_from_db()
    assert enrollment.status == Enrollment.Status.STOPPED
    assert "booked" in enrollment.stop_reason


def test_a_booking_invalidates_its_leads_card_and_column_without_reading_the_stage_again(event_type, book, monkeypatch):
    """The booking holds the lead's row lock until it commits, so its own after-commit bump of the
    board cache uses the stage in hand: the lead's card (its call badge) and its column are fresh
    with no query after the commit (the invite, which reads the column itself, is left out here)."""
    from clientsflow.cache import board_lead_versions, board_stage_versions

    monkeypatch.setattr("bookings.services.booking._enqueue_invite", lambda booking: None)
    lead = LeadFactory(email="ada@example.com", email_normalized="ada@example.com", stage=Stage.CONTACTED)
    card = board_lead_versions([lead.pk])[lead.pk]
    column = board_stage_versions([Stage.BOOKED])[Stage.BOOKED]
    with CaptureQueriesContext(connection) as ctx:
        booking = book(event_type)
    assert booking.lead_id == lead.pk
    assert not [q["sql"] for q in ctx.captured_queries if q["sql"].startswith('SELECT "stage" FROM "leads_lead"')]
    assert board_lead_versions([lead.pk])[lead.pk] > card
    assert board_stage_versions([Stage.BOOKED])[Stage.BOOKED] > column
    # Already past Booked (no move, so no column bump by the move): its own column is bumped.
    later = LeadFactory(email="grace@example.com", email_normalized="grace@example.com", stage=Stage.PROPOSAL_SENT)
    column = board_stage_versions([Stage.PROPOSAL_SENT])[Stage.PROPOSAL_SENT]
    book(event_type, start=TUE_10_NY + timedelta(hours=2), email="grace@example.com")
    assert board_stage_versions([Stage.PROPOSAL_SENT])[Stage.PROPOSAL_SENT] > column
    assert Lead.objects.get(pk=later.pk).stage == Stage.PROPOSAL_SENT
