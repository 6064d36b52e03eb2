"""Thin Celery tasks: ids in, one service call."""

from __future__ import annotations

from celery import shared_task
from celery.contrib.django.task import DjangoTask

from bookings.services.invites import booking_invite_deliver


# acks_late: an invite lost with its worker matters more than a repeat. A redelivery never makes a
# second Google event or Meet (both ids derive from the booking); at worst the ICS email arrives
# twice, and calendars merge the two by their stable UID.
@shared_task(base=DjangoTask, acks_late=True)
def booking_invite_deliver_task(booking_id: int, sequence: int | None = None) -> None:
    # The service records every outcome on the booking (blocked with a reason); the dispatcher's
    # `booking_invites_pending` job re-queues a run that was lost.
    booking_invite_deliver(booking_id=booking_id, sequence=sequence)
