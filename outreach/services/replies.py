"""Replies from leads (inbound webhook or IMAP poll): store, match to the lead, stop the sequence.

A reply is information, never an instruction: nothing in its text can approve, send or change a
message. It stops the lead's sequence, moves the lead to `replied` and lands on the timeline.
Classification picks stored replies up on its own (the dispatcher's `replies_classify` job, every
minute), so this app needs nothing from `classify`.

Anyone can write a lead's address in `From:`. A reply matched by our own Message-IDs
(`In-Reply-To`/`References`) acts at once; one matched only by the sender's address acts only when
the receiving side authenticated the sender (`outreach.services.sender_auth`). Otherwise it is
stored, shown on the lead as "sender not verified" and held for a person to apply
(`reply_apply`).
"""

from __future__ import annotations

import email
import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from email import policy
from email.message import Message
from email.utils import getaddresses, parseaddr, parsedate_to_datetime
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from clientsflow.audit import audit_record
from clientsflow.cache import board_version_bump
from clientsflow.errors import DomainError
from leads.models import Lead, Stage
from leads.services.identity import lead_find_duplicate
from leads.services.stages import lead_advance_stage
from leads.services.timeline import timeline_record
from outreach.clients import imap
from outreach.models import ImapCursor, InboundReply, OutboundMessage, OutreachEventKind
from outreach.services.answers import answered_email_id
from outreach.services.sender_auth import NOT_CHECKED, SenderCheck, check_authentication_results
from outreach.services.sequences import enrollments_stop_for_lead

logger = logging.getLogger(__name__)

MSGID_RE = re.compile(r"<[^<>\s]+>")
MAX_BODY = 100_000


@dataclass(frozen=True)
class IncomingMail:
    from_email: str
    to_email: str
    subject: str
    body: str
    message_id: str
    in_reply_to: str
    references: str
    received_at: datetime
    sender_verified: bool = False
    sender_check: str = ""


def _text_body(message: Message) -> str:
    if message.is_multipart():
        for part in message.walk():
            if part.get_content_type() == "text/plain" and part.get_content_disposition() != "attachment":
                return _decode(part)
        for part in message.walk():
            if part.get_content_type() == "text/html":
                return re.sub(r"<[^>]+>", " ", _decode(part))
        return ""
    return _decode(message)


def _decode(part: Message) -> str:
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return str(part.get_payload() or "")
    return payload.decode(part.get_content_charset() or "utf-8", errors="replace")


def incoming_from_message(
    message: Message, *, received_at: datetime | None = None, sender_check: SenderCheck = NOT_CHECKED
) -> IncomingMail:
    """Read the parts of an RFC 5322 message (stdlib or anymail's parsed message) we keep.

    `sender_check` is the provider's verdict on the sender, read by the caller from what it trusts.
    """
    sender = parseaddr(str(message.get("From", "")))[1]
    recipients = getaddresses([str(v) for v in message.get_all("To", [])])
    date = received_at
    if date is None and message.get("Date"):
        try:
            date = parsedate_to_datetime(str(message["Date"]))
        except (TypeError, ValueError):
            date = None
    if date is not None and timezone.is_naive(date):
        date = timezone.make_aware(date, UTC)
    return IncomingMail(
        from_email=sender,
        to_email=recipients[0][1] if recipients else "",
        subject=" ".join(str(message.get("Subject", "")).split())[:998],
        body=_text_body(message)[:MAX_BODY],
        message_id=str(message.get("Message-ID", "")).strip()[:998],
        in_reply_to=str(message.get("In-Reply-To", "")).strip()[:998],
        references=" ".join(str(message.get("References", "")).split()),
        received_at=date or timezone.now(),
        sender_verified=sender_check.verified,
        sender_check=sender_check.note[:255],
    )


def _match(mail: IncomingMail) -> tuple[Lead | None, str]:
    """The lead by In-Reply-To, then References (our Message-IDs), then the sender's address."""
    for header, matched_by in ((mail.in_reply_to, "in_reply_to"), (mail.references, "references")):
        ids = MSGID_RE.findall(header)
        if not ids:
            continue
        sent = (
            OutboundMessage.objects.filter(message_id__in=ids)
            .select_related("lead")
            .order_by("-sent_at", "-pk")
            .first()
        )
        if sent is not None:
            lead = sent.lead
            while lead.merged_into is not None:
                lead = lead.merged_into
            return lead, matched_by
    address = (mail.from_email or "").strip().lower()
    if address and "@" in address:
        duplicate, _ = lead_find_duplicate(email_normalized=address, phone_e164="")
        if duplicate is not None:
            return duplicate, "sender"
    return None, "unmatched"


def reply_intake(*, mail: IncomingMail, source: str) -> tuple[InboundReply, bool]:
    """Store one reply and act on it. Idempotent on Message-ID: returns `(reply, created)`."""
    if mail.message_id and InboundReply.objects.filter(message_id=mail.message_id).exists():
        return InboundReply.objects.get(message_id=mail.message_id), False
    try:
        with transaction.atomic():
            reply = _reply_intake(mail=mail, source=source)
    except IntegrityError:
        # A concurrent intake of the same Message-ID won the race.
        existing = InboundReply.objects.filter(message_id=mail.message_id).first()
        if existing is None:
            raise
        return existing, False
    return reply, True


def _reply_intake(*, mail: IncomingMail, source: str) -> InboundReply:
    lead, matched_by = _match(mail)
    held = lead is not None and matched_by == InboundReply.MatchedBy.SENDER and not mail.sender_verified
    reply = InboundReply.objects.create(
        lead=lead,
        source=source,
        from_email=mail.from_email[:254],
        from_email_normalized=(mail.from_email or "").strip().lower()[:254],
        to_email=mail.to_email[:254],
        subject=mail.subject,
        body=mail.body,
        message_id=mail.message_id,
        in_reply_to=mail.in_reply_to,
        references=mail.references,
        matched_by=matched_by,
        sender_verified=mail.sender_verified,
        sender_check=mail.sender_check[:255],
        held_for_review=held,
        received_at=mail.received_at,
        in_answer_to_id=answered_email_id(lead_id=lead.pk, received_at=mail.received_at) if lead else None,
    )
    if held:
        assert lead is not None
        timeline_record(
            lead=lead,
            kind=OutreachEventKind.REPLY_RECEIVED,
            summary=f"Reply received, sender not verified (waiting for review): {reply.subject or '(no subject)'}"[
                :255
            ],
            data={"reply_id": reply.pk, "matched_by": reply.matched_by, "sender_verified": False},
        )
    elif lead is not None:
        _act_on_reply(reply=reply, lead=lead, actor_label=f"reply:{source}")
    audit_record(
        verb="reply.held" if held else "reply.received",
        obj=reply,
        actor_label=f"reply:{source}",
        details={
            "lead_id": lead.pk if lead else None,
            "matched_by": matched_by,
            "sender_verified": mail.sender_verified,
            "sender_check": mail.sender_check[:255],
        },
    )
    board_version_bump()
    logger.info("reply.stored", extra={"reply_id": reply.pk, "matched_by": matched_by, "source": source, "held": held})
    return reply


def _act_on_reply(*, reply: InboundReply, lead: Lead, actor_label: str) -> None:
    enrollments_stop_for_lead(lead_id=lead.pk, reason="the lead replied", actor_label=actor_label)
    # Sequence emails not yet sent are no longer wanted: the conversation is now a person's.
    blocked = OutboundMessage.objects.filter(
        lead=lead,
        kind=OutboundMessage.Kind.SEQUENCE,
        status__in=(OutboundMessage.Status.DRAFT, OutboundMessage.Status.APPROVED, OutboundMessage.Status.FAILED),
    ).update(status=OutboundMessage.Status.BLOCKED, block_reason="The lead replied; the sequence stopped.")
    if blocked:
        audit_record(
            verb="outbound.blocked", obj=lead, actor_label=actor_label, details={"reason": "replied", "count": blocked}
        )
    lead_advance_stage(lead=lead, to_stage=Stage.REPLIED, actor_label=actor_label, reason="The lead replied")
    timeline_record(
        lead=lead,
        kind=OutreachEventKind.REPLY_RECEIVED,
        summary=f"Replied: {reply.subject or '(no subject)'}",
        data={"reply_id": reply.pk, "matched_by": reply.matched_by},
    )


@transaction.atomic
def reply_match_by_hand(*, reply: InboundReply, lead: Lead, actor: Any) -> InboundReply:
    """A person matches an unmatched reply to its lead."""
    row = InboundReply.objects.select_for_update().get(pk=reply.pk)
    if row.lead_id is not None:
        raise DomainError("This reply is already matched to a lead.")
    row.lead = lead
    row.matched_by = InboundReply.MatchedBy.HUMAN
    row.in_answer_to_id = answered_email_id(lead_id=lead.pk, received_at=row.received_at)
    row.save(update_fields=["lead", "matched_by", "in_answer_to"])
    _act_on_reply(reply=row, lead=lead, actor_label=actor.get_username() if actor else "human")
    audit_record(verb="reply.matched", obj=row, actor=actor, details={"lead_id": lead.pk})
    board_version_bump()
    return row


@transaction.atomic
def reply_apply(*, reply: InboundReply, actor: Any) -> InboundReply:
    """A person applies a reply held because its sender was not verified: it now does what it
    would have done (stops the sequence, moves the lead to Replied); classification's next
    `replies_classify` run acts on its label.

    Precondition: the caller checked that `actor` may change replies (the admin does).
    """
    row = InboundReply.objects.select_for_update().get(pk=reply.pk)
    if not row.held_for_review or row.lead is None:
        raise DomainError("This reply is not waiting for review.")
    lead: Lead = row.lead
    while lead.merged_into is not None:
        lead = lead.merged_into
    row.held_for_review = False
    row.save(update_fields=["held_for_review"])
    actor_label = actor.get_username() if getattr(actor, "is_authenticated", False) else "human"
    _act_on_reply(reply=row, lead=lead, actor_label=actor_label)
    audit_record(verb="reply.applied", obj=row, actor=actor, details={"lead_id": lead.pk})
    board_version_bump()
    return row


def replies_poll_imap(*, limit: int | None = None) -> dict[str, int]:
    """Read new messages from the IMAP mailbox (UIDs remembered, so nothing is read twice)."""
    if not imap.enabled():
        return {"skipped": 1}
    cfg = imap.config()
    limit = limit or settings.IMAP_POLL_BATCH
    cursor, _ = ImapCursor.objects.get_or_create(mailbox=cfg.mailbox_key)
    counts = {"read": 0, "stored": 0, "duplicates": 0}
    with imap.Mailbox(cfg) as box:
        if cursor.uidvalidity != box.uidvalidity:
            # The server renumbered the folder: read it again; Message-IDs keep replies unique.
            cursor.uidvalidity, cursor.last_uid = box.uidvalidity, 0
            cursor.save(update_fields=["uidvalidity", "last_uid"])
        uids = box.uids_after(cursor.last_uid)[:limit]
        for fetched in box.fetch(uids):
            message = email.message_from_bytes(fetched.raw, policy=policy.compat32)
            check = check_authentication_results(
                message, from_address=str(message.get("From", "")), authserv_id=settings.INBOUND_AUTHSERV_ID
            )
            with transaction.atomic():
                _, created = reply_intake(
                    mail=incoming_from_message(message, sender_check=check), source=InboundReply.Source.IMAP
                )
                ImapCursor.objects.filter(pk=cursor.pk).update(last_uid=fetched.uid, polled_at=timezone.now())
            counts["read"] += 1
            counts["stored" if created else "duplicates"] += 1
    ImapCursor.objects.filter(pk=cursor.pk).update(polled_at=timezone.now())
    return counts
