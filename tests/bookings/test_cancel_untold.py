"""A cancellation the lead was never told of (its notice blocked or failed) is shown to the owner:
the lead still has the call in their calendar and may turn up. Before, the card said "Cancelled"
and "Needs you" counted only active bookings' blocked invites."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from board.selectors import needs_you
from bookings.models import Booking
from bookings.selectors import booking_badges
from bookings.services import booking_cancel
from reports.digest import needs_you_items
from tests.bookings.factories import BookingFactory

pytestmark = pytest.mark.django_db

LABEL = "Cancelled calls the lead was not told about"


class BrokenBackend:
    def __init__(self, *args, **kwargs) -> None:
        pass

    def send_messages(self, messages):
        raise ConnectionRefusedError("smtp down")


def _count() -> int:
    return next(item.count for item in needs_you() if item.key == "booking_cancellations_untold")


def _cancel_with_mail_down(settings, django_capture_on_commit_callbacks, *, start_in: timedelta) -> Booking:
    settings.GOOGLE_SERVICE_ACCOUNT_FILE = ""  # the ICS CANCEL email is the only way the lead hears
    booking = BookingFactory(start_at=timezone.now() + start_in, invite_status=Booking.InviteStatus.FALLBACK_SENT)
    settings.EMAIL_BACKEND = "tests.bookings.test_cancel_untold.BrokenBackend"
    with django_capture_on_commit_callbacks(execute=True):
        booking_cancel(booking=booking, reason="Owner is ill", actor_label="owner")
    booking.refresh_from_db()
    return booking


def test_an_upcoming_cancellation_whose_notice_failed_needs_the_owner(settings, django_capture_on_commit_callbacks):
    booking = _cancel_with_mail_down(settings, django_capture_on_commit_callbacks, start_in=timedelta(days=3))
    assert booking.status == Booking.Status.CANCELLED
    assert booking.invite_status == Booking.InviteStatus.BLOCKED and "could not be sent" in booking.invite_error

    item = next(item for item in needs_you() if item.key == "booking_cancellations_untold")
    assert (item.label, item.count) == (LABEL, 1)
    assert "status__exact=cancelled" in item.url and "invite_status__exact=blocked" in item.url
    digest_item = next(item for item in needs_you_items() if item.label == LABEL)
    assert digest_item.count == 1
    badge = booking_badges([booking.lead_id])[booking.lead_id][0]
    assert badge.tone == "danger" and "not told" in badge.label


def test_the_admin_link_lists_it(settings, admin_client, django_capture_on_commit_callbacks):
    booking = _cancel_with_mail_down(settings, django_capture_on_commit_callbacks, start_in=timedelta(days=3))
    url = next(item.url for item in needs_you() if item.key == "booking_cancellations_untold")
    listed = admin_client.get(url).content.decode()
    assert f"/admin/bookings/booking/{booking.pk}/change/" in listed


def test_a_cancelled_call_that_is_over_no_longer_needs_anyone(settings, django_capture_on_commit_callbacks):
    booking = _cancel_with_mail_down(settings, django_capture_on_commit_callbacks, start_in=timedelta(days=3))
    start, end = timezone.now() - timedelta(hours=2), timezone.now() - timedelta(hours=1)
    Booking.objects.filter(pk=booking.pk).update(start_at=start, end_at=end, buffered_start=start, buffered_end=end)
    assert _count() == 0


def test_a_cancellation_the_lead_was_told_of_is_not_counted(django_capture_on_commit_callbacks, settings):
    settings.GOOGLE_SERVICE_ACCOUNT_FILE = ""
    booking = BookingFactory(start_at=timezone.now() + timedelta(days=3))
    with django_capture_on_commit_callbacks(execute=True):
        booking_cancel(booking=booking, reason="Owner is ill", actor_label="owner")
    booking.refresh_from_db()
    assert booking.invite_status == Booking.InviteStatus.FALLBACK_SENT
    assert _count() == 0
    assert booking_badges([booking.lead_id])[booking.lead_id][0].tone == "warn"
