"""Reminders 24 h and 1 h before: each once, even when the dispatcher runs twice; none after a cancel."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.core import mail

from bookings.jobs import booking_hold_expiry, booking_invites_pending
from bookings.models import Booking, Hold
from bookings.services import booking_cancel, booking_reminders_send
from clientsflow.dispatcher import registry
from tests.bookings.factories import BookingFactory

pytestmark = pytest.mark.django_db

START = datetime(2026, 12, 10, 15, 0, tzinfo=UTC)


@pytest.fixture
def booking():
    booking = BookingFactory(start_at=START, email="ada@example.com")
    Booking.objects.filter(pk=booking.pk).update(created_at=START - timedelta(days=5))
    return booking


def test_jobs_are_registered_with_the_dispatcher():
    assert {"booking_reminders", "booking_hold_expiry", "booking_invites_pending"} <= set(registry())


def test_each_reminder_is_sent_once(booking):
    assert booking_reminders_send(now=START - timedelta(hours=25)) == {
        "24h": 0,
        "1h": 0,
        "suppressed": 0,
        "blocked": 0,
        "failed": 0,
    }
    first = booking_reminders_send(now=START - timedelta(hours=23, minutes=58))
    again = booking_reminders_send(now=START - timedelta(hours=23, minutes=55))  # the dispatcher runs again
    assert first["24h"] == 1 and again["24h"] == 0
    assert booking_reminders_send(now=START - timedelta(minutes=59))["1h"] == 1
    assert booking_reminders_send(now=START - timedelta(minutes=55))["1h"] == 0
    assert [m.subject for m in mail.outbox] == ["Reminder: Intro call tomorrow", "Reminder: Intro call in an hour"]
    assert mail.outbox[0].to == ["ada@example.com"]
    booking.refresh_from_db()
    assert booking.reminder_24h_sent_at and booking.reminder_1h_sent_at


def test_no_reminder_after_a_cancel(booking):
    booking_cancel(booking=booking, reason="Not needed", now=START - timedelta(days=1))
    mail.outbox.clear()
    assert booking_reminders_send(now=START - timedelta(hours=23))["24h"] == 0
    assert booking_reminders_send(now=START - timedelta(minutes=30))["1h"] == 0
    assert mail.outbox == []


def test_a_late_booking_gets_only_the_reminders_still_ahead(booking):
    Booking.objects.filter(pk=booking.pk).update(created_at=START - timedelta(hours=3))
    assert booking_reminders_send(now=START - timedelta(hours=2))["24h"] == 0
    assert booking_reminders_send(now=START - timedelta(minutes=50))["1h"] == 1


def test_hold_expiry_and_pending_invite_jobs(booking, event_type):
    Hold.objects.create(
        host=event_type.host,
        event_type=event_type,
        token="t",
        start_at=START,
        end_at=START,
        buffered_start=START,
        buffered_end=START,
        expires_at=datetime(2020, 1, 1, tzinfo=UTC),
    )
    assert booking_hold_expiry() == {"deleted": 1}
    Booking.objects.filter(pk=booking.pk).update(updated_at=datetime(2020, 1, 1, tzinfo=UTC))
    assert booking_invites_pending() == {"requeued": 1}
    booking.refresh_from_db()
    assert booking.invite_status == Booking.InviteStatus.FALLBACK_SENT  # eager task delivered it
