"""Booking mail passes the one mail gate: SEND_ALLOWLIST and the suppression list, audited."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlparse

import pytest
from django.core import mail

from bookings.models import Booking
from bookings.services import booking_cancel, booking_create, booking_reminders_send, booking_reschedule
from clientsflow.models import AuditEvent
from outreach.services.suppression import email_hash, suppression_add
from tests.bookings.factories import BookingFactory
from tests.bookings.test_google_calendar import FREE, TOKEN, ok, queue, transport  # noqa: F401  (fixture)

pytestmark = pytest.mark.django_db

START = datetime(2026, 12, 1, 15, 0, tzinfo=UTC)
NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def blocks(booking: Booking) -> list[dict]:  # type: ignore[type-arg]
    return list(
        AuditEvent.objects.filter(verb="mail.blocked", object_id=str(booking.pk))
        .order_by("pk")
        .values_list("details", flat=True)
    )


@pytest.fixture
def book(django_capture_on_commit_callbacks):  # type: ignore[no-untyped-def]
    def _book(event_type, start=START, **kw):  # type: ignore[no-untyped-def]
        values = {"timezone_name": "Europe/London", "name": "Ada Lovelace", "email": "ada@example.com"}
        values.update(kw)
        with django_capture_on_commit_callbacks(execute=True):
            booking = booking_create(event_type=event_type, start=start, now=NOW, **values)
        booking.refresh_from_db()
        return booking

    return _book


def test_allowlist_blocks_the_confirmation_to_an_outsider_but_the_booking_stands(event_type, book, settings):
    settings.SEND_ALLOWLIST = ["*@agency.example"]
    booking = book(event_type)
    assert mail.outbox == []
    assert booking.status == Booking.Status.CONFIRMED
    assert booking.invite_status == Booking.InviteStatus.BLOCKED
    assert "SEND_ALLOWLIST" in booking.invite_error
    [details] = blocks(booking)
    assert details["purpose"] == "booking:confirmation" and details["reason"] == "allowlist"
    # The audit names the address by hash and mask only.
    assert details["to_hash"] == email_hash("ada@example.com") and details["to_masked"] == "a***@example.com"
    assert "ada@example.com" not in str(details)


def test_allowlist_glob_lets_an_insider_through(event_type, book, settings):
    settings.SEND_ALLOWLIST = ["*+zz@agency.example", "*@*.agency.example"]
    assert book(event_type, email="ops+zz@agency.example").invite_status == Booking.InviteStatus.FALLBACK_SENT
    assert (
        book(event_type, START + timedelta(hours=1), email="ada@team.agency.example").invite_status
        == Booking.InviteStatus.FALLBACK_SENT
    )
    assert [m.to for m in mail.outbox] == [["ops+zz@agency.example"], ["ada@team.agency.example"]]
    outsider = book(event_type, START + timedelta(hours=2), email="ops@agency.example")
    assert outsider.invite_status == Booking.InviteStatus.BLOCKED and len(mail.outbox) == 2


def test_allowlist_blocks_the_update_and_the_cancellation(
    event_type, book, settings, django_capture_on_commit_callbacks
):
    booking = book(event_type)
    assert len(mail.outbox) == 1
    settings.SEND_ALLOWLIST = ["*@agency.example"]
    with django_capture_on_commit_callbacks(execute=True):
        booking_reschedule(booking=booking, start=START + timedelta(days=1), now=NOW)
    with django_capture_on_commit_callbacks(execute=True):
        booking_cancel(booking=booking, reason="Changed plans", now=NOW)
    booking.refresh_from_db()
    assert len(mail.outbox) == 1
    assert booking.status == Booking.Status.CANCELLED and booking.invite_status == Booking.InviteStatus.BLOCKED
    assert [d["purpose"] for d in blocks(booking)] == ["booking:update", "booking:cancel"]


def test_allowlist_and_suppression_block_reminders(settings):
    settings.SEND_ALLOWLIST = ["*@agency.example"]
    outsider = BookingFactory(start_at=START + timedelta(days=9), email="ada@example.com")
    insider = BookingFactory(start_at=START + timedelta(days=9, hours=2), email="gone@agency.example")
    Booking.objects.filter(pk__in=[outsider.pk, insider.pk]).update(created_at=START)
    suppression_add(email="gone@agency.example", reason="unsubscribed", actor_label="test")
    counts = booking_reminders_send(now=START + timedelta(days=8, hours=3))
    assert counts["24h"] == 0 and counts["blocked"] == 1 and counts["suppressed"] == 1
    assert mail.outbox == []
    assert [d["purpose"] for d in blocks(outsider)] == ["booking:reminder_24h"]
    assert [d["reason"] for d in blocks(insider)] == ["suppressed"]


def test_google_is_not_asked_to_mail_a_suppressed_attendee(transport, event_type, book):  # noqa: F811
    suppression_add(email="ada@example.com", reason="unsubscribed", actor_label="test")
    transport._iterable[:0] = [TOKEN, FREE]
    queue(transport, TOKEN, ok("echo_request_body"))
    booking = book(event_type)
    [(uri, _, _, _)] = [r for r in transport.request_sequence if r[1] == "POST" and "/events" in r[0]]
    assert parse_qs(urlparse(uri).query)["sendUpdates"] == ["none"]
    assert mail.outbox == []
    assert booking.status == Booking.Status.CONFIRMED and booking.google_event_id
    assert booking.invite_status == Booking.InviteStatus.BLOCKED
    assert "no invite was emailed" in booking.invite_error
    assert "booking:google_invite" in [d["purpose"] for d in blocks(booking)]


def test_google_is_not_asked_to_mail_an_attendee_outside_the_allowlist_on_cancel(
    transport,  # noqa: F811
    event_type,
    book,
    settings,
    django_capture_on_commit_callbacks,
):
    transport._iterable[:0] = [TOKEN, FREE]
    queue(transport, TOKEN, ok("echo_request_body"))
    booking = book(event_type)
    assert "sendUpdates=all" in transport.request_sequence[-1][0]
    settings.SEND_ALLOWLIST = ["*@agency.example"]
    queue(transport, TOKEN, ({"status": "204"}, ""))
    with django_capture_on_commit_callbacks(execute=True):
        booking_cancel(booking=booking, reason="Changed plans", now=NOW)
    uri, method, _, _ = transport.request_sequence[-1]
    assert method == "DELETE" and "sendUpdates=none" in uri
    booking.refresh_from_db()
    assert booking.status == Booking.Status.CANCELLED and booking.invite_status == Booking.InviteStatus.BLOCKED
