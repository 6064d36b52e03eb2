"""The human gate: drafts, edits, approval, rejection, and a person's decisions on failed or
unknown sends.

A message is sent only if a staff user with the approve permission approved exactly its subject
and body: the approval stores `approved_hash`, and any edit voids it.
Sending itself is `outreach.services.sending`.
"""

from __future__ import annotations

from datetime import datetime
from email.utils import parseaddr
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from clientsflow.audit import audit_record
from clientsflow.errors import DomainError, InvalidInput
from leads.models import Lead
from leads.services.board_cache import board_cards_changed
from outreach.models import Enrollment, OutboundMessage
from outreach.services.answers import replies_link_emails
from outreach.services.sequences import enrollment_step_done
from outreach.services.suppression import is_suppressed

Status = OutboundMessage.Status
APPROVE_PERMISSION = "outreach.approve_outboundmessage"
EDITABLE_STATUSES = (Status.DRAFT, Status.APPROVED, Status.FAILED)


class NotPermitted(DomainError):
    """The user may not do this (missing the approve permission)."""


def message_id_domain() -> str:
    address = parseaddr(settings.DEFAULT_FROM_EMAIL)[1]
    return address.rsplit("@", 1)[-1] if "@" in address else "clientsflow.local"


@transaction.atomic
def outbound_draft_create(
    *,
    lead: Lead,
    subject: str,
    body: str,
    origin: str,
    kind: str = "sequence",
    enrollment: Enrollment | None = None,
    step: Any = None,
    send_after: datetime | None = None,
) -> OutboundMessage:
    """A draft waiting in the review queue. Nothing is sent until a person approves it."""
    subject = " ".join((subject or "").split())
    if not subject or not (body or "").strip():
        raise InvalidInput("A message needs a subject and a body.")
    if len(subject) > 255:
        raise InvalidInput("The subject is longer than 255 characters.")
    if kind not in OutboundMessage.Kind.values:
        raise InvalidInput(f"{kind!r} is not a kind of message.")
    if not lead.email_normalized:
        raise InvalidInput("This lead has no email address; add one before writing to them.")
    message = OutboundMessage(
        lead=lead,
        kind=kind,
        enrollment=enrollment,
        step=step,
        to_email=lead.email_normalized,
        subject=subject,
        body=body,
        origin=(origin or "unknown")[:120],
        send_after=send_after,
    )
    message.message_id = f"<cf.{message.public_id.hex}@{message_id_domain()}>"
    if is_suppressed(lead.email_normalized):
        message.status = Status.BLOCKED
        message.block_reason = "The address is on the suppression list."
    message.save()
    audit_record(
        verb="outbound.drafted" if message.status == Status.DRAFT else "outbound.blocked_suppressed",
        obj=message,
        actor_label=message.origin,
        details={"lead_id": lead.pk, "kind": kind, "origin": message.origin, "status": message.status},
    )
    board_cards_changed(message.lead_id)
    return message


def check_can_approve(actor: Any) -> None:
    if not (
        getattr(actor, "is_authenticated", False)
        and actor.is_active
        and actor.is_staff
        and actor.has_perm(APPROVE_PERMISSION)
    ):
        raise NotPermitted("Only staff with the 'approve outbound messages' permission can approve or send emails.")


def _locked(message: OutboundMessage) -> OutboundMessage:
    return OutboundMessage.objects.select_for_update().get(pk=message.pk)


def _void_approval(row: OutboundMessage) -> None:
    row.status = Status.DRAFT
    row.approved_by = None
    row.approved_at = None
    row.approved_hash = ""


@transaction.atomic
def outbound_edit(*, message: OutboundMessage, subject: str, body: str, actor: Any) -> OutboundMessage:
    """Change the copy. A change to an approved (or failed) message voids its approval."""
    row = _locked(message)
    if row.status not in EDITABLE_STATUSES:
        raise DomainError(f"A message that is {row.get_status_display().lower()} cannot be edited.")
    subject = " ".join((subject or "").split())
    if not subject or not (body or "").strip():
        raise InvalidInput("A message needs a subject and a body.")
    if subject == row.subject and body == row.body:
        return row
    was = row.status
    row.subject, row.body = subject, body
    _void_approval(row)
    row.save()
    audit_record(
        verb="outbound.edited",
        obj=row,
        actor=actor,
        details={"approval_voided": was != Status.DRAFT, "status_before": was, "hash": row.content_hash()},
    )
    board_cards_changed(row.lead_id)
    return row


@transaction.atomic
def outbound_approve(*, message: OutboundMessage, actor: Any, expected_hash: str) -> OutboundMessage:
    """Approve exactly the content the approver saw (`expected_hash` comes from the review page)."""
    check_can_approve(actor)
    row = _locked(message)
    if row.status != Status.DRAFT:
        raise DomainError(f"Only drafts can be approved; this one is {row.get_status_display().lower()}.")
    current = row.content_hash()
    if not expected_hash or expected_hash != current:
        raise DomainError("The text changed since you opened it. Review the current version and approve again.")
    row.status = Status.APPROVED
    row.approved_by = actor
    row.approved_at = timezone.now()
    row.approved_hash = current
    row.block_reason = ""
    row.save()
    audit_record(
        verb="outbound.approved",
        obj=row,
        actor=actor,
        details={"hash": current, "to": row.to_email, "lead_id": row.lead_id},
    )
    board_cards_changed(row.lead_id)
    return row


@transaction.atomic
def outbound_reject(*, message: OutboundMessage, actor: Any, reason: str) -> OutboundMessage:
    check_can_approve(actor)
    if not (reason or "").strip():
        raise InvalidInput("Say why the draft is rejected: a reason is required.")
    row = _locked(message)
    if row.status not in EDITABLE_STATUSES:
        raise DomainError(f"A message that is {row.get_status_display().lower()} cannot be rejected.")
    was = row.status
    _void_approval(row)
    row.status = Status.REJECTED
    row.rejected_by = actor
    row.rejected_reason = reason.strip()[:255]
    row.save()
    audit_record(verb="outbound.rejected", obj=row, actor=actor, details={"reason": row.rejected_reason, "was": was})
    if row.enrollment_id:
        enrollment_step_done(enrollment_id=row.enrollment_id, message=row)
    board_cards_changed(row.lead_id)
    return row


@transaction.atomic
def outbound_retry_failed(*, message: OutboundMessage, actor: Any) -> OutboundMessage:
    """A person decides a failed send may go again: back to `approved` (same approval, same text)."""
    check_can_approve(actor)
    row = _locked(message)
    if row.status != Status.FAILED:
        raise DomainError("Only failed messages can be retried.")
    if not row.approval_valid:
        _void_approval(row)
        row.save()
        raise DomainError("The approval no longer matches the text; it went back to the review queue.")
    row.status = Status.APPROVED
    row.save(update_fields=["status", "updated_at"])
    audit_record(verb="outbound.retry_requested", obj=row, actor=actor, details={"hash": row.approved_hash})
    return row


@transaction.atomic
def outbound_resolve_unknown(*, message: OutboundMessage, actor: Any, delivered: bool) -> OutboundMessage:
    """A person checked the mailbox/provider: the message was delivered, or it may go again."""
    check_can_approve(actor)
    row = _locked(message)
    if row.status != Status.UNKNOWN:
        raise DomainError("Only messages whose outcome is unknown can be resolved.")
    row.status = Status.SENT if delivered else Status.APPROVED
    if delivered and row.sent_at is None:
        row.sent_at = row.claimed_at or timezone.now()
    row.save(update_fields=["status", "sent_at", "updated_at"])
    if delivered:
        assert row.sent_at is not None
        replies_link_emails(lead_id=row.lead_id, since=row.sent_at)
    audit_record(verb="outbound.unknown_resolved", obj=row, actor=actor, details={"delivered": delivered})
    board_cards_changed(row.lead_id)
    return row
