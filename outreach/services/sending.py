"""Sending approved messages: the policy, the one compare-and-swap send, and the sweeps.

The rules (docs/architecture.md, "Invariants"):

* Only an approval that still matches the content, by an approver who still holds the approve
  permission, lets a message go; `AUTOSEND_ENABLED` off means the worker never sends on its own.
* Policy: the send window and daily cap (automatic sends), `SEND_ALLOWLIST`, the suppression
  list, and for sequence emails the lead's stage and enrollment.
* The send claims the row with a compare-and-swap (`approved -> sending`), committed before the
  provider is called, so two workers can never both send it.
* A provider error before the provider could have accepted the message marks it `failed` (a
  person may retry); anything after that point marks it `unknown`, which is never resent by
  the system.
* Every send, block and failure writes an `AuditEvent`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from clientsflow.audit import audit_record
from clientsflow.cache import board_version_bump
from clientsflow.site import site_settings
from leads.models import Stage
from leads.services.board_cache import board_cards_changed
from leads.services.stages import lead_advance_stage
from leads.services.timeline import timeline_record
from outreach.clients import email as email_client
from outreach.models import Enrollment, InboundReply, OutboundMessage, OutreachEventKind
from outreach.services.gate import mail_gate_check
from outreach.services.review import APPROVE_PERMISSION, check_can_approve
from outreach.services.sequences import SEQUENCE_STOP_STAGES, enrollment_step_done
from outreach.services.suppression import unsubscribe_url

logger = logging.getLogger(__name__)

Status = OutboundMessage.Status
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

# Why a message was not sent, for the person who pressed "Send now".
REASONS = {
    "not_approved": "it is not approved (or the text changed since approval; review it again)",
    "allowlist": "the recipient is not on SEND_ALLOWLIST",
    "suppressed": "the address unsubscribed",
    "no_address": "there is no address to send to",
    "lead_stage": "the lead has moved past the sequence (replied, booked or lost)",
    "enrollment_not_active": "the lead's sequence is stopped or paused",
    "daily_cap": "today's send cap (OUTBOUND_DAILY_CAP) is reached; it can go tomorrow",
    "claimed_elsewhere": "another worker is already sending it",
    "already_sent_or_in_flight": "it was already sent, is being sent, or may have been sent (resolve 'unknown' first)",
}


@dataclass(frozen=True)
class SendResult:
    message_id: int
    outcome: str  # sent | failed | unknown | blocked | skipped
    reason: str = ""

    @property
    def sent(self) -> bool:
        return self.outcome == "sent"

    def explain(self) -> str:
        """Why it was not sent, in words a person can act on."""
        if self.outcome in (Status.FAILED, Status.UNKNOWN):
            what = (
                "the provider refused it; fix and retry"
                if self.outcome == Status.FAILED
                else "the outcome is unknown; check the mailbox before resolving it"
            )
            return f"{what} ({self.reason})"
        return REASONS.get(self.reason, self.reason)


def send_window() -> tuple[time, time | None]:
    """Today's send window on the owner's wall clock: (start, end), end None meaning midnight.
    Admin > Settings' send window when set, else OUTBOUND_SEND_HOURS ("9-17": 09:00 to 17:00)."""
    row = site_settings()
    if row.send_window_start is not None and row.send_window_end is not None:
        end = row.send_window_end
        return row.send_window_start, (None if end == time(0, 0) else end)
    start, _, end = settings.OUTBOUND_SEND_HOURS.partition("-")
    end_hour = int(end or 24)
    return time(int(start)), (None if end_hour >= 24 else time(end_hour))


def in_send_window(now: datetime | None = None) -> bool:
    local = (now or timezone.now()).astimezone(ZoneInfo(settings.OWNER_TIMEZONE))
    days = {d.strip().lower()[:3] for d in settings.OUTBOUND_SEND_DAYS}
    start, end = send_window()
    wall = local.time().replace(tzinfo=None)
    return WEEKDAYS[local.weekday()] in days and start <= wall and (end is None or wall < end)


def sent_today_count(now: datetime | None = None) -> int:
    """Sends (and sends in flight or of unknown outcome) since midnight in the owner's zone."""
    zone = ZoneInfo(settings.OWNER_TIMEZONE)
    local = (now or timezone.now()).astimezone(zone)
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    return OutboundMessage.objects.filter(
        Q(status__in=(Status.SENT, Status.UNKNOWN), sent_at__gte=midnight)
        | Q(status__in=(Status.SENDING, Status.UNKNOWN), sent_at__isnull=True, claimed_at__gte=midnight)
    ).count()


def _audit_block(row: OutboundMessage, reason: str, trigger: str, actor: Any = None, **details: Any) -> None:
    audit_record(
        verb="outbound.blocked",
        obj=row,
        actor=actor,
        actor_label="" if actor else f"outbound:{trigger}",
        details={"reason": reason, "to": row.to_email, "status": row.status, "trigger": trigger, **details},
    )
    logger.info("outbound.blocked", extra={"message_pk": row.pk, "reason": reason, "trigger": trigger})


def _block(row: OutboundMessage, reason: str, text: str, trigger: str, actor: Any) -> SendResult:
    """Permanently block an approved message (it will not be sent unless a person starts over)."""
    OutboundMessage.objects.filter(pk=row.pk, status=Status.APPROVED).update(
        status=Status.BLOCKED, block_reason=text[:255], updated_at=timezone.now()
    )
    _audit_block(row, reason, trigger, actor)
    board_cards_changed(row.lead_id)
    return SendResult(row.pk, "blocked", reason)


def _approver_still_permitted(row: OutboundMessage) -> bool:
    user = row.approved_by
    return bool(user and user.is_active and user.is_staff and user.has_perm(APPROVE_PERMISSION))


def check_sendable(row: OutboundMessage, *, trigger: str, actor: Any, now: datetime) -> SendResult | None:
    """None when `row` may be sent now; otherwise the (audited) reason it may not."""
    if row.status in (Status.SENDING, Status.SENT, Status.UNKNOWN):
        # At most one send per approval: in flight, sent, or possibly sent is never sent again.
        _audit_block(row, "already_sent_or_in_flight", trigger, actor)
        return SendResult(row.pk, "skipped", "already_sent_or_in_flight")
    if row.status != Status.APPROVED:
        _audit_block(row, "not_approved", trigger, actor)
        return SendResult(row.pk, "blocked" if row.status != Status.DRAFT else "skipped", "not_approved")
    if not row.approval_valid or not _approver_still_permitted(row):
        # The content no longer matches what was approved (or the approver lost the right to
        # approve): the approval is void and the message goes back to the review queue.
        OutboundMessage.objects.filter(pk=row.pk, status=Status.APPROVED).update(
            status=Status.DRAFT, approved_by=None, approved_at=None, approved_hash="", updated_at=now
        )
        _audit_block(row, "not_approved", trigger, actor, approval_voided=True)
        board_cards_changed(row.lead_id)
        return SendResult(row.pk, "blocked", "not_approved")
    verdict = mail_gate_check(to=row.to_email, purpose=f"outbound:{row.kind}", obj=row, lead_id=row.lead_id)
    if not verdict.allowed:
        return _block(row, verdict.reason, verdict.explanation, trigger, actor)
    if row.kind == OutboundMessage.Kind.SEQUENCE:
        if row.lead.stage in SEQUENCE_STOP_STAGES:
            return _block(row, "lead_stage", f"The lead is {row.lead.get_stage_display()}: no chasing.", trigger, actor)
        if row.enrollment is not None and row.enrollment.status != Enrollment.Status.ACTIVE:
            return _block(row, "enrollment_not_active", "The lead's sequence is not active.", trigger, actor)
    if trigger == "autosend":
        if not settings.AUTOSEND_ENABLED:
            _audit_block(row, "autosend_disabled", trigger, actor)
            return SendResult(row.pk, "skipped", "autosend_disabled")
        if not in_send_window(now):
            _audit_block(row, "outside_window", trigger, actor)
            return SendResult(row.pk, "skipped", "outside_window")
        if row.send_after and row.send_after > now:
            return SendResult(row.pk, "skipped", "not_due")
    if sent_today_count(now) >= settings.OUTBOUND_DAILY_CAP:
        _audit_block(row, "daily_cap", trigger, actor, cap=settings.OUTBOUND_DAILY_CAP)
        return SendResult(row.pk, "skipped", "daily_cap")
    return None


def _thread_headers(row: OutboundMessage) -> tuple[str, str]:
    """(In-Reply-To, References) from the lead's earlier sent emails and their replies."""
    earlier: list[tuple[datetime, str]] = [
        (sent_at, mid)
        for sent_at, mid in OutboundMessage.objects.filter(lead_id=row.lead_id, status=Status.SENT)
        .exclude(pk=row.pk)
        .values_list("sent_at", "message_id")
        if sent_at
    ]
    earlier += [
        (at, mid)
        for at, mid in InboundReply.objects.filter(lead_id=row.lead_id)
        .exclude(message_id="")
        .values_list("received_at", "message_id")
    ]
    ids = [mid for _, mid in sorted(earlier)][-20:]
    return (ids[-1] if ids else ""), " ".join(ids)


def build_email(row: OutboundMessage, connection: Any = None) -> Any:
    """The email exactly as it leaves: the approved copy plus the fixed unsubscribe footer."""
    return email_client.build_message(
        subject=row.subject,
        body=row.body,
        to_email=row.to_email,
        message_id=row.message_id,
        public_id=str(row.public_id),
        unsubscribe_url=unsubscribe_url(email=row.to_email, message_public_id=str(row.public_id)),
        in_reply_to=row.in_reply_to,
        references=row.references,
        connection=connection,
    )


def _finish_error(row: OutboundMessage, outcome: str, exc: BaseException, trigger: str) -> SendResult:
    error = f"{type(exc).__name__}: {exc}"[:500]
    OutboundMessage.objects.filter(pk=row.pk, status=Status.SENDING).update(
        status=outcome, last_error=error, updated_at=timezone.now()
    )
    audit_record(
        verb=f"outbound.{outcome}",
        obj=row,
        actor_label=f"outbound:{trigger}",
        details={"to": row.to_email, "error": error, "hash": row.approved_hash},
    )
    logger.warning(
        "outbound.send_error", extra={"message_pk": row.pk, "outcome": outcome, "error_type": type(exc).__name__}
    )
    board_cards_changed(row.lead_id)
    return SendResult(row.pk, outcome, error)


def outbound_send(*, message_id: int, trigger: str, actor: Any = None) -> SendResult:
    """Send one approved message at most once. Never call inside a transaction: the claim must
    be committed before the provider is called, so other workers see it.

    `trigger` is `human` (a person pressed Send now: `actor` must hold the approve permission),
    or `autosend` (the dispatcher: only with AUTOSEND_ENABLED, inside the send window).
    """
    if trigger == "human":
        check_can_approve(actor)
    elif trigger != "autosend":
        raise ValueError(f"Unknown send trigger {trigger!r}.")
    now = timezone.now()
    row = OutboundMessage.objects.select_related("lead", "enrollment", "approved_by").get(pk=message_id)
    refused = check_sendable(row, trigger=trigger, actor=actor, now=now)
    if refused is not None:
        return refused

    in_reply_to, references = _thread_headers(row)
    # The claim: only the worker whose UPDATE finds the row still approved, with the very
    # approval it checked, goes on. Committed at once (autocommit), before any network call.
    claimed = OutboundMessage.objects.filter(
        pk=row.pk, status=Status.APPROVED, approved_hash=row.approved_hash, subject=row.subject, body=row.body
    ).update(
        status=Status.SENDING,
        claimed_at=now,
        in_reply_to=in_reply_to,
        references=references,
        send_attempts=row.send_attempts + 1,
        last_error="",
        updated_at=now,
    )
    if not claimed:
        logger.info("outbound.claim_lost", extra={"message_pk": row.pk})
        return SendResult(row.pk, "skipped", "claimed_elsewhere")
    row.refresh_from_db()
    if row.content_hash() != row.approved_hash:  # belt and braces: what goes out is what was approved
        OutboundMessage.objects.filter(pk=row.pk, status=Status.SENDING).update(status=Status.DRAFT, approved_hash="")
        _audit_block(row, "not_approved", trigger, actor, approval_voided=True)
        return SendResult(row.pk, "blocked", "not_approved")

    connection = email_client.connection()
    try:
        connection.open()
    except Exception as exc:
        # Nothing reached the provider: safe to call it failed (a person may retry).
        return _finish_error(row, Status.FAILED, exc, trigger)
    try:
        email = build_email(row, connection=connection)
        sent_count = connection.send_messages([email])
    except Exception as exc:
        outcome = Status.FAILED if email_client.provider_refused(exc) else Status.UNKNOWN
        return _finish_error(row, outcome, exc, trigger)
    finally:
        try:
            connection.close()
        except Exception:
            logger.warning("outbound.close_failed", extra={"message_pk": row.pk})
    if not sent_count:
        return _finish_error(row, Status.FAILED, RuntimeError("The email backend reported nothing sent."), trigger)

    provider_id = email_client.provider_message_id(email) or row.message_id
    try:
        _record_sent(row=row, provider_id=provider_id, trigger=trigger, actor=actor)
    except Exception as exc:
        # The provider accepted the email but we could not record it: `unknown`, never resent.
        logger.exception("outbound.record_sent_failed", extra={"message_pk": row.pk})
        try:
            return _finish_error(row, Status.UNKNOWN, exc, trigger)
        except Exception:
            # Still `sending`: the stale-sending sweep marks it unknown later.
            return SendResult(row.pk, Status.UNKNOWN, "could not record the send")
    try:
        _after_sent(row)
    except Exception:
        logger.exception("outbound.after_sent_failed", extra={"message_pk": row.pk})
    logger.info("outbound.sent", extra={"message_pk": row.pk, "trigger": trigger})
    return SendResult(row.pk, "sent")


@transaction.atomic
def _record_sent(*, row: OutboundMessage, provider_id: str, trigger: str, actor: Any) -> None:
    now = timezone.now()
    updated = OutboundMessage.objects.filter(pk=row.pk, status=Status.SENDING).update(
        status=Status.SENT, sent_at=now, provider_message_id=provider_id, updated_at=now
    )
    if not updated:
        raise RuntimeError("The message was no longer in 'sending' when the send was recorded.")
    row.sent_at = now
    audit_record(
        verb="outbound.sent",
        obj=row,
        actor=actor,
        actor_label="" if actor else f"outbound:{trigger}",
        details={
            "to": row.to_email,
            "hash": row.approved_hash,
            "approved_by": row.approved_by.get_username() if row.approved_by else "",
            "approved_at": row.approved_at.isoformat() if row.approved_at else "",
            "provider_message_id": provider_id,
            "message_id": row.message_id,
            "trigger": trigger,
            "result": "sent",
        },
    )


@transaction.atomic
def _after_sent(row: OutboundMessage) -> None:
    timeline_record(
        lead=row.lead,
        kind=OutreachEventKind.MESSAGE_SENT,
        summary=f"Email sent: {row.subject}",
        data={"message_id": row.pk, "kind": row.kind},
    )
    if row.enrollment_id:
        enrollment_step_done(enrollment_id=row.enrollment_id, message=row)
    if row.kind == OutboundMessage.Kind.SEQUENCE:
        lead_advance_stage(lead=row.lead, to_stage=Stage.CONTACTED, actor_label="outbound", reason="First email sent")
    board_cards_changed(row.lead_id)


def outbound_mark_stale_sending_unknown(*, older_than: timedelta) -> int:
    """Messages stuck in `sending` (a worker died mid-send) become `unknown`: never resent."""
    cutoff = timezone.now() - older_than
    ids = list(
        OutboundMessage.objects.filter(status=Status.SENDING, claimed_at__lt=cutoff).values_list("pk", flat=True)[:200]
    )
    changed = 0
    for pk in ids:
        if OutboundMessage.objects.filter(pk=pk, status=Status.SENDING).update(
            status=Status.UNKNOWN, last_error="The sending worker stopped before recording the outcome."
        ):
            changed += 1
            audit_record(
                verb="outbound.unknown",
                obj=OutboundMessage.objects.get(pk=pk),
                actor_label="outbound:stale_sweep",
                details={"reason": "stale_sending"},
            )
    if changed:
        board_version_bump()
    return changed


def outbound_autosend_due(*, now: datetime | None = None) -> dict[str, Any]:
    """The dispatcher's send job: approved, due messages, only with AUTOSEND_ENABLED."""
    now = now or timezone.now()
    if not settings.AUTOSEND_ENABLED:
        return {"skipped": "AUTOSEND_ENABLED is off"}
    due = list(
        OutboundMessage.objects.filter(status=Status.APPROVED)
        .filter(Q(send_after__isnull=True) | Q(send_after__lte=now))
        .order_by("approved_at", "pk")
        .values_list("pk", flat=True)[: settings.OUTBOUND_AUTOSEND_BATCH]
    )
    if not due:
        return {"due": 0}
    if not in_send_window(now):
        audit_record(
            verb="outbound.blocked",
            actor_label="outbound:autosend",
            details={"reason": "outside_window", "due": len(due)},
        )
        return {"due": len(due), "skipped": "outside the send window"}
    outcomes: dict[str, int] = {}
    for pk in due:
        result = outbound_send(message_id=pk, trigger="autosend")
        outcomes[result.outcome] = outcomes.get(result.outcome, 0) + 1
        if result.reason == "daily_cap":
            break
    return {"due": len(due), **outcomes}
