"""A cancelled call: the lead goes back (Replied, or the earlier stage it was booked from) with the
reason in its history, a "rebook" item waits in Needs you, and the owner is told."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.core import mail

from board.selectors import needs_you
from bookings.selectors import bookings_to_rebook
from bookings.services import booking_cancel, booking_create
from leads.models import Lead, Stage
from leads.services.stages import lead_move_stage
from tests.bookings.factories import EventTypeFactory

pytestmark = pytest.mark.django_db

TUE_10_NY = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)
NOW = datetime(2026, 11, 30, 12, tzinfo=UTC)


def book(capture, *, start=TUE_10_NY, email="ada@example.com"):
    with capture(execute=True):
        return booking_create(
            event_type=EventTypeFactory(),
            start=start,
            now=NOW,
            timezone_name="Europe/London",
            name="Ada Lovelace",
            email=email,
        )


def rebook_count() -> int:
    return {item.key: item.count for item in needs_you()}["bookings_rebook"]


def test_a_replied_lead_goes_back_to_replied_with_the_reason(django_capture_on_commit_callbacks):
    lead = Lead.objects.create(name="Ada Lovelace", email="ada@example.com", email_normalized="ada@example.com")
    lead_move_stage(lead=lead, to_stage=Stage.REPLIED, actor_label="test")
    booking = book(django_capture_on_commit_callbacks)
    lead.refresh_from_db()
    assert lead.stage == Stage.BOOKED and rebook_count() == 0
    with django_capture_on_commit_callbacks(execute=True):
        booking_cancel(booking=booking, reason="Budget frozen until March", now=NOW)
    lead.refresh_from_db()
    assert lead.stage == Stage.REPLIED
    change = lead.stage_changes.latest("changed_at")
    assert change.reason == "Call cancelled: Budget frozen until March"
    assert change.actor_label == "lead (manage link)"
    assert rebook_count() == 1 and list(bookings_to_rebook()) == [booking]


def test_a_lead_booked_from_new_goes_back_to_new(django_capture_on_commit_callbacks):
    booking = book(django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        booking_cancel(booking=booking, reason="Wrong person", now=NOW)
    booking.lead.refresh_from_db()
    assert booking.lead.stage == Stage.NEW and rebook_count() == 1


def test_a_lead_that_moved_on_or_has_another_call_is_left_alone(django_capture_on_commit_callbacks):
    first = book(django_capture_on_commit_callbacks)
    book(django_capture_on_commit_callbacks, start=TUE_10_NY.replace(hour=17))  # a second call, same lead
    with django_capture_on_commit_callbacks(execute=True):
        booking_cancel(booking=first, reason="Double booked", now=NOW)
    first.lead.refresh_from_db()
    assert first.lead.stage == Stage.BOOKED and rebook_count() == 0  # the other call still stands


def test_rebooking_clears_the_item(django_capture_on_commit_callbacks):
    booking = book(django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        booking_cancel(booking=booking, reason="Ill", now=NOW)
    assert rebook_count() == 1
    book(django_capture_on_commit_callbacks, start=TUE_10_NY.replace(hour=17))
    assert rebook_count() == 0


def test_the_owner_is_told(owner_notifications, django_capture_on_commit_callbacks):
    booking = book(django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        booking_cancel(booking=booking, reason="Found another agency", now=NOW)
    told = [m for m in mail.outbox if m.to == ["owner@agency.example"] and m.subject.startswith("Call cancelled")]
    assert len(told) == 1 and "Found another agency" in told[0].body
