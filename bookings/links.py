"""Signed reschedule/cancel links: `/book/manage/<token>/`, valid until the meeting ends."""

from __future__ import annotations

from datetime import datetime

from django.core import signing
from django.urls import reverse
from django.utils import timezone

from bookings.models import Booking
from clientsflow.site import public_base_url

SALT = "bookings.manage"


def manage_token(booking: Booking) -> str:
    """Signed once per booking instance: the booking POST's redirect and its invite both need it."""
    token = booking.__dict__.get(_SIGNED_LINK_ATTRIBUTE)
    if token is None or token[0] != booking.public_id:
        token = (booking.public_id, signing.dumps(str(booking.public_id), salt=SALT, compress=True))
        booking.__dict__[_SIGNED_LINK_ATTRIBUTE] = token
    return token[1]


_SIGNED_LINK_ATTRIBUTE = "_manage_token"


def manage_path(booking: Booking) -> str:
    return reverse("bookings:manage", args=[manage_token(booking)])


def manage_url(booking: Booking) -> str:
    return f"{public_base_url()}{manage_path(booking)}"


def booking_from_token(token: str, *, now: datetime | None = None) -> Booking | None:
    """The booking a token names, or None when the token is forged or the meeting is over.

    Expiry follows the booking's current end (a moved booking keeps its link working).
    """
    try:
        public_id = signing.loads(token, salt=SALT)
    except signing.BadSignature:
        return None
    booking = (
        Booking.objects.select_related("event_type__host", "lead").filter(public_id=public_id).first()
        if isinstance(public_id, str)
        else None
    )
    if booking is None or booking.end_at <= (now or timezone.now()):
        return None
    return booking
