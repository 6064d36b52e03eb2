"""Writes for bookings: holds, booking create/reschedule/cancel, invites and reminders."""

from bookings.services.booking import (
    SlotHeld,
    SlotTaken,
    SlotUnavailable,
    booking_cancel,
    booking_create,
    booking_reschedule,
    hold_create,
    holds_expire,
)
from bookings.services.invites import booking_invite_deliver
from bookings.services.reminders import booking_reminders_send

__all__ = [
    "SlotHeld",
    "SlotTaken",
    "SlotUnavailable",
    "booking_cancel",
    "booking_create",
    "booking_invite_deliver",
    "booking_reminders_send",
    "booking_reschedule",
    "hold_create",
    "holds_expire",
]
