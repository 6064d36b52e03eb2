"""Booking jobs run by the dispatcher."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from bookings.models import Booking
from bookings.services import booking_reminders_send, holds_expire
from bookings.tasks import booking_invite_deliver_task
from clientsflow.dispatcher import Every, job

PENDING_INVITE_GRACE = timedelta(minutes=10)
PENDING_INVITE_BATCH = 50


@job("booking_reminders", Every(minutes=5), "Email booking reminders 24 h and 1 h before (each once).")
def booking_reminders() -> dict[str, int]:
    return booking_reminders_send()


@job("booking_hold_expiry", Every(minutes=10), "Delete expired slot holds.")
def booking_hold_expiry() -> dict[str, int]:
    return {"deleted": holds_expire()}


@job("booking_invites_pending", Every(minutes=10), "Re-queue invites left pending (a lost task).")
def booking_invites_pending() -> dict[str, int]:
    stale = list(
        Booking.objects.filter(
            invite_status=Booking.InviteStatus.PENDING, updated_at__lt=timezone.now() - PENDING_INVITE_GRACE
        ).values_list("pk", "sequence")[:PENDING_INVITE_BATCH]
    )
    for pk, sequence in stale:
        booking_invite_deliver_task.delay(pk, sequence)
    return {"requeued": len(stale)}
