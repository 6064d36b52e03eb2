"""Board badges for booked leads and the "needs you" count of blocked invites."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from bookings.models import Booking
from bookings.selectors import booking_latest_by_lead
from clientsflow.attention import Badge, register_card_badges, register_needs_you
from leads.selectors import CardAction, CardConfirm, register_card_actions


def blocked_invites_count() -> int:
    return Booking.objects.filter(
        invite_status=Booking.InviteStatus.BLOCKED, status__in=Booking.ACTIVE_STATUSES
    ).count()


def _call_label(booking: Booking, zone: ZoneInfo) -> str:
    return f"Call {booking.start_at.astimezone(zone):%a %-d %b %H:%M}"


def booking_badges(lead_ids: list[int]) -> dict[int, list[Badge]]:
    zone = ZoneInfo(settings.OWNER_TIMEZONE)
    result: dict[int, list[Badge]] = {}
    for lead_id, booking in booking_latest_by_lead(lead_ids=lead_ids).items():
        when = booking.start_at.astimezone(zone)
        label = _call_label(booking, zone)
        if not booking.is_active:
            result[lead_id] = [Badge(f"Cancelled: {when:%-d %b %H:%M}", "warn", "The booking was cancelled.")]
            continue
        badges = [Badge(label, "good", f"Booked for {when:%Y-%m-%d %H:%M} ({settings.OWNER_TIMEZONE})")]
        if booking.invite_status == Booking.InviteStatus.BLOCKED:
            badges.append(Badge("Invite blocked", "danger", booking.invite_error[:300]))
        elif booking.invite_status == Booking.InviteStatus.PENDING:
            badges.append(Badge("Invite pending", "warn", "The invite has not gone out yet."))
        elif booking.invite_status == Booking.InviteStatus.FALLBACK_SENT:
            badges.append(Badge("Invite: ICS email", "info", "Sent as an ICS email (Google Calendar is off)."))
        else:
            badges.append(Badge("Invite sent", "info", "Google Calendar sent the invite."))
        result[lead_id] = badges
    return result


def booking_card_actions(lead_ids: list[int]) -> dict[int, list[CardAction]]:
    """A "Cancel call" pill on cards with an upcoming booking. On the board it asks for a reason in
    a dialog and cancels in place (the call badge reads "Cancelling…" meanwhile); without
    JavaScript it opens the confirmation page, which comes back to the board."""
    result: dict[int, list[CardAction]] = {}
    now = timezone.now()
    zone = ZoneInfo(settings.OWNER_TIMEZONE)
    for lead_id, booking in booking_latest_by_lead(lead_ids=lead_ids).items():
        if booking.is_active and booking.end_at > now:
            url = reverse("bookings:staff-cancel", args=[booking.pk]) + "?next=/board/"
            confirm = CardConfirm(
                prompt=f"Cancel the call on {booking.start_at.astimezone(zone):%a %-d %b at %H:%M}?",
                detail="The lead is told the call is off. The reason stays in the booking's history.",
                reason_label="Reason for cancelling",
                confirm_label="Cancel the call",
                keep_label="Keep it",
                busy_label="Cancelling…",
                badge=_call_label(booking, zone),
            )
            result[lead_id] = [
                CardAction(
                    "Cancel call",
                    url,
                    method="get",
                    tone="danger",
                    title="Cancel with a reason",
                    confirm=confirm,
                    permission="bookings.change_booking",
                )
            ]
    return result


register_needs_you(
    "booking_invites_blocked",
    "Booking invites blocked",
    url="/admin/bookings/booking/?invite_status__exact=blocked&upcoming=active",
    count=blocked_invites_count,
    order=30,
)
register_card_badges("bookings", booking_badges)
register_card_actions("bookings", booking_card_actions)
