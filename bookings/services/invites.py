"""Getting the invite to the lead, and saying honestly whether it arrived.

`booking_invite_deliver` runs after every change (create, move, cancel). With Google configured it
creates / updates / cancels the event (Google mails the attendee); our own email with an ICS file
goes out when Google is not configured, when Google refused, or whenever
`GCAL_DRIVEN_CONFIRMATION` is off. The resulting `invite_status`:

- `sent`           Google accepted the change and mails the invite itself;
- `fallback_sent`  no Google (local mode): our ICS email was sent;
- `blocked`        Google refused or kept failing (reason in `invite_error`), or no email could be
                   sent; the owner is alerted (board badge, "needs you", Slack when configured).

This is transactional mail the lead asked for, so it does not pass the outbound approval queue;
it still passes the mail gate (`SEND_ALLOWLIST` and the suppression list; Google is told
`sendUpdates="none"` for a refused address) and every send or block is audited. A refused invite
leaves the booking standing with `invite_status` `blocked` and the reason.
"""

from __future__ import annotations

import logging
from typing import Any
from zoneinfo import ZoneInfo

from celery import shared_task
from celery.contrib.django.task import DjangoTask
from django.conf import settings
from django.core import mail
from django.db import transaction
from django.utils import timezone

from bookings.clients import google_calendar
from bookings.ics import booking_location, invite_ics
from bookings.links import manage_url
from bookings.models import Booking
from clientsflow.audit import audit_record_rows, audit_row
from clientsflow.clients import slack
from clientsflow.prepared import update_where
from clientsflow.site import host_display_name, lead_from_email, lead_signature, public_base_url
from leads.services.board_cache import board_cards_changed
from outreach.services.gate import EXPLANATIONS, mail_gate_check

logger = logging.getLogger(__name__)


def google_client() -> google_calendar.GoogleCalendarClient:
    return google_calendar.GoogleCalendarClient.from_settings()


def _event_body(booking: Booking, *, manage_link: str) -> dict[str, Any]:
    return {
        "summary": f"{booking.event_type.title} with {host_display_name(booking.host.name)}",
        "description": (
            f"{booking.event_type.title} booked through ClientsFlow.\n"
            f"Reschedule or cancel: {manage_link}"
            + (f"\n\nNote from {booking.name}: {booking.note}" if booking.note else "")
        ),
        "start": {"dateTime": booking.start_at.isoformat(), "timeZone": booking.host.timezone},
        "end": {"dateTime": booking.end_at.isoformat(), "timeZone": booking.host.timezone},
        "attendees": [{"email": booking.email, "displayName": booking.name}],
        "location": booking.event_type.location,
        "guestsCanModify": False,
        "extendedProperties": {"private": {"clientsflow_booking": str(booking.public_id)}},
    }


def _sync_google(booking: Booking, *, send_updates: str, manage_link: str) -> dict[str, str]:
    """Create, move or cancel the Google event. Returns the fields to store; raises CalendarError.

    `send_updates` is Google's `sendUpdates`: "all" lets Google mail the attendee, "none" when the
    mail gate refused the address (the event is still kept in the host's calendar).
    """
    client = google_client()
    calendar_id = booking.host.google_calendar_id
    if booking.status == Booking.Status.CANCELLED:
        if booking.google_event_id:
            client.event_cancel(calendar_id=calendar_id, event_id=booking.google_event_id, send_updates=send_updates)
        return {}
    if booking.google_event_id:
        body = _event_body(booking, manage_link=manage_link)
        event = client.event_update(
            calendar_id=calendar_id,
            event_id=booking.google_event_id,
            body={k: body[k] for k in ("start", "end", "description")},
            send_updates=send_updates,
        )
    else:
        event = client.event_create(
            calendar_id=calendar_id,
            event_id=booking.google_event_key,
            request_id=booking.conference_request_id,
            body=_event_body(booking, manage_link=manage_link),
            send_updates=send_updates,
        )
    fields = {"google_event_id": event.event_id or booking.google_event_id or booking.google_event_key}
    if event.meet_url:
        fields["meet_url"] = event.meet_url
    return fields


def local_time(booking: Booking) -> str:
    local = booking.start_at.astimezone(ZoneInfo(booking.timezone))
    return f"{local:%A %-d %B %Y at %H:%M} ({booking.timezone})"


def send_booking_email(
    *,
    booking: Booking,
    kind: str,
    subject: str,
    lines: list[str],
    method: str = "",
    manage_link: str = "",
    audits: list[dict[str, Any]] | None = None,
) -> str:
    """Send one email about the booking to the lead.

    Returns 'sent', 'suppressed' or 'allowlist' (the mail gate refused it, audited there), or
    'failed: ...'. The send or failure is audited at once, or, given `audits`, appended to it as a
    row the caller must write (`audit_record_rows`) with the rows of its outcome.
    """
    verdict = mail_gate_check(to=booking.email, purpose=f"booking:{kind}", obj=booking, lead_id=booking.lead_id)
    if not verdict.allowed:
        return verdict.reason
    message = mail.EmailMultiAlternatives(
        subject=subject,
        body="\n\n".join([f"Hello {booking.name},", *lines, lead_signature()]),
        from_email=lead_from_email(),
        to=[booking.email],
        reply_to=[booking.host.email],
    )
    if method:
        ics = invite_ics(booking=booking, method=method, manage_url=manage_link or manage_url(booking))
        # No charset here: Django adds `charset="utf-8"` to a text attachment itself (two were sent).
        message.attach("invite.ics", ics, f"text/calendar; method={method}")
    try:
        message.send()
    except Exception as exc:  # any backend: SMTP, anymail providers
        logger.warning("booking.email_failed", extra={"booking_id": booking.pk, "kind": kind})
        row = audit_row(
            verb="booking.email_failed",
            obj=booking,
            details={"kind": kind, "lead_id": booking.lead_id, "error_type": type(exc).__name__},
        )
        result = f"failed: {type(exc).__name__}"
    else:
        row = audit_row(
            verb="booking.email_sent",
            obj=booking,
            details={"kind": kind, "lead_id": booking.lead_id, "method": method, "sequence": booking.sequence},
        )
        result = "sent"
    if audits is None:
        audit_record_rows([row])
    else:
        audits.append(row)
    return result


def _invite_email(booking: Booking, *, manage_link: str, audits: list[dict[str, Any]] | None = None) -> str:
    where = booking_location(booking)
    if booking.status == Booking.Status.CANCELLED:
        return send_booking_email(
            booking=booking,
            kind="cancel",
            method="CANCEL",
            manage_link=manage_link,
            audits=audits,
            subject=f"Cancelled: {booking.event_type.title} on {local_time(booking)}",
            lines=[
                f"Your {booking.event_type.title} on {local_time(booking)} is cancelled.",
                f"Want a new time? Book again at {public_base_url()}/book/{booking.event_type.slug}/",
            ],
        )
    moved = booking.status == Booking.Status.RESCHEDULED
    return send_booking_email(
        booking=booking,
        kind="update" if moved else "confirmation",
        method="REQUEST",
        manage_link=manage_link,
        audits=audits,
        subject=f"{'Moved' if moved else 'Confirmed'}: {booking.event_type.title} on {local_time(booking)}",
        lines=[
            f"Your {booking.event_type.title} with {host_display_name(booking.host.name)} is {'moved to' if moved else 'booked for'} "
            f"{local_time(booking)}.",
            f"Where: {where}",
            "The attached invite adds it to your calendar.",
            f"Need to reschedule or cancel? {manage_link}",
        ],
    )


def booking_invite_deliver(*, booking_id: int, sequence: int | None = None, booking: Booking | None = None) -> Booking:
    """Deliver the invite for the booking's current state and record the honest outcome.

    `sequence` is the change this run was queued for; a run for an older change does nothing (the
    newer change has its own run). `booking` is the instance the change just committed, when the
    run follows that commit in the same process (`booking_invite_queue`); otherwise it is read.
    """
    if booking is None:
        booking = Booking.objects.select_related("event_type", "host", "lead").get(pk=booking_id)
    if sequence is not None and booking.sequence != sequence:
        return booking
    google_on = google_calendar.enabled()
    manage_link = manage_url(booking)
    google_error = ""
    google_gate_reason = ""
    fields: dict[str, Any] = {}
    if google_on:
        # Google mails the attendee itself: the same gate decides whether it may.
        verdict = mail_gate_check(
            to=booking.email, purpose="booking:google_invite", obj=booking, lead_id=booking.lead_id
        )
        google_gate_reason = verdict.reason
        try:
            fields = _sync_google(booking, send_updates="all" if verdict.allowed else "none", manage_link=manage_link)
        except google_calendar.CalendarError as exc:
            google_error = str(exc)
        for name, value in fields.items():
            setattr(booking, name, value)  # the ICS then carries the Meet link

    email_result = ""
    # The email's audit row, written with the outcome's in one statement (below).
    audits: list[dict[str, Any]] = []
    if not google_on or google_error or not settings.GCAL_DRIVEN_CONFIRMATION:
        email_result = _invite_email(booking, manage_link=manage_link, audits=audits)

    if google_on and not google_error and google_gate_reason:
        status = Booking.InviteStatus.BLOCKED
        error = (
            "The calendar event is in the host's calendar, but no invite was emailed to the lead: "
            f"{EXPLANATIONS.get(google_gate_reason, google_gate_reason)}"
        )
    elif google_on and not google_error:
        status, error = Booking.InviteStatus.SENT, ""
        if email_result and email_result != "sent":
            error = f"Google sent the invite; our own email was not sent ({email_result})."
    elif google_error:
        status = Booking.InviteStatus.BLOCKED
        tail = {
            "sent": "The lead was sent the ICS email instead.",
            "suppressed": "The lead's address is suppressed, so no ICS email was sent either.",
            "allowlist": "The lead's address is not on SEND_ALLOWLIST, so no ICS email was sent either.",
        }.get(email_result, f"The ICS email also failed ({email_result}).")
        error = f"{google_error} {tail}"
    elif email_result == "sent":
        status, error = Booking.InviteStatus.FALLBACK_SENT, ""
    else:
        status = Booking.InviteStatus.BLOCKED
        error = {
            "suppressed": "The lead's address is on the suppression list, so no invite was sent.",
            "allowlist": "The lead's address is not on SEND_ALLOWLIST, so no invite was sent.",
        }.get(email_result, f"The ICS invite email could not be sent ({email_result}). Check the email settings.")

    email_audits = list(audits)
    try:
        with transaction.atomic():
            # Compare-and-swap on the sequence: a change that happened meanwhile keeps its own outcome.
            stored = {"invite_status": status, "invite_error": error[:2000], "invite_updated_at": timezone.now()}
            stored.update(fields)
            updated = update_where(Booking, values=stored, where={"id": booking.pk, "sequence": booking.sequence})
            if updated:
                for name, value in stored.items():
                    setattr(booking, name, value)
                details = {"sequence": booking.sequence, "google": google_on, "email": email_result or "not needed"}
                audits.append(audit_row(verb=f"booking.invite_{status}", obj=booking, details=details))
                board_cards_changed(booking.lead_id)
                if status == Booking.InviteStatus.BLOCKED:
                    transaction.on_commit(lambda: _alert_owner(booking.pk, error))
            audit_record_rows(audits)
    except Exception:
        # The email went (or failed) whatever happened to its outcome: its audit row stays.
        audit_record_rows(email_audits)
        raise
    logger.info("booking.invite", extra={"booking_id": booking.pk, "invite_status": status})
    if not updated:
        booking.refresh_from_db()  # a newer change won: return what is stored
    return booking


def _alert_owner(booking_id: int, error: str) -> None:
    if not slack.enabled():
        return
    booking = Booking.objects.select_related("lead").get(pk=booking_id)
    try:
        slack.slack_post(
            text=(
                f":warning: Invite blocked for the booking of {booking.lead} on "
                f"{booking.start_at:%Y-%m-%d %H:%M} UTC. {error} "
                f"See {public_base_url()}/admin/bookings/booking/{booking.pk}/change/"
            )
        )
    except slack.SlackError as exc:
        logger.warning("booking.slack_alert_failed", extra={"booking_id": booking_id, "error": str(exc)})


def booking_invite_queue(booking: Booking) -> None:
    """Deliver the invite for this change once the current transaction commits.

    With a broker, a task for the worker. Without one (the embedded default, where tasks run
    in-process right after the commit anyway) the run is called directly on the booking in hand,
    which skips reading back the row just written. Either way a run that fails or is lost leaves
    the invite `pending`, and the dispatcher's `booking_invites_pending` job queues it again.
    """
    if not booking_invite_deliver_task.app.conf.task_always_eager:
        booking_invite_deliver_task.delay_on_commit(booking.pk, booking.sequence)
        return
    pk, sequence = booking.pk, booking.sequence

    def deliver() -> None:
        try:
            booking_invite_deliver(booking_id=pk, sequence=sequence, booking=booking)
        except Exception:  # as an eager task's failure: logged, never raised into the request
            logger.exception("booking.invite_failed", extra={"booking_id": pk})

    transaction.on_commit(deliver)


# Defined beside the service it runs, not in tasks.py, because booking services queue it: a
# services <-> tasks import cycle otherwise. The name is the one queued messages already carry.
# acks_late: an invite lost with its worker matters more than a repeat. A redelivery never makes a
# second Google event or Meet (both ids derive from the booking); at worst the ICS email arrives
# twice, and calendars merge the two by their stable UID.
@shared_task(base=DjangoTask, name="bookings.tasks.booking_invite_deliver_task", acks_late=True)
def booking_invite_deliver_task(booking_id: int, sequence: int | None = None) -> None:
    # The service records every outcome on the booking (blocked with a reason); the dispatcher's
    # `booking_invites_pending` job re-queues a run that was lost.
    booking_invite_deliver(booking_id=booking_id, sequence=sequence)
