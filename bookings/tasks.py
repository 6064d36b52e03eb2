"""Bookings' Celery tasks, imported here so the worker registers them.

The invite task lives beside `booking_invite_deliver` in `services/invites.py`: the booking
services queue it, so defining it here would make services and tasks import each other.
"""

from __future__ import annotations

from bookings.services.invites import booking_invite_deliver_task

__all__ = ["booking_invite_deliver_task"]
