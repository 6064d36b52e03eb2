"""Reads for outreach: the thread with a lead, and what a reviewer sees beside a draft."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db.models import QuerySet

from leads.cards import Badge
from leads.models import Lead
from outreach.models import InboundReply, OutboundMessage, outbound_content_hash


def lead_thread(lead: Lead, limit: int = 10) -> list[dict[str, str]]:
    """The emails exchanged so far, oldest first, for the drafting model and the review page."""
    items: list[tuple[datetime, dict[str, str]]] = []
    for sent_at, subject, body in OutboundMessage.objects.filter(
        lead=lead, status=OutboundMessage.Status.SENT
    ).values_list("sent_at", "subject", "body"):
        if sent_at is None:  # a sent message always has its time; the column allows null for the others
            continue
        items.append((sent_at, {"direction": "us", "at": sent_at.isoformat(), "subject": subject, "body": body}))
    for at, subject, body in InboundReply.objects.filter(lead=lead).values_list("received_at", "subject", "body"):
        items.append((at, {"direction": "lead", "at": at.isoformat(), "subject": subject, "body": body[:4000]}))
    return [item for _, item in sorted(items, key=lambda pair: pair[0])][-limit:]


def _classification_label(reply: InboundReply) -> str:
    """The reply's label from classification, without importing that app's models."""
    for name in ("classifications", "classification_set", "classification"):
        related = getattr(reply, name, None)
        if related is None:
            continue
        item = related.order_by("-pk").first() if hasattr(related, "order_by") else related
        label = getattr(item, "label", "") if item is not None else ""
        if label:
            return str(label)
    return ""


def outbound_review_context(message: OutboundMessage) -> dict[str, Any]:
    """What the reviewer sees beside the draft: the lead, their last reply and the thread so far."""
    lead = message.lead
    last_reply = InboundReply.objects.filter(lead=lead).order_by("-received_at").first()
    earlier = OutboundMessage.objects.filter(lead=lead).exclude(pk=message.pk).order_by("-created_at")[:10]
    return {
        "review_lead": lead,
        "review_last_reply": last_reply,
        "review_last_reply_label": _classification_label(last_reply) if last_reply else "",
        "review_earlier": earlier,
        "review_thread": lead_thread(lead),
        "content_hash": outbound_content_hash(message.subject, message.body),
        "approval_valid": message.approval_valid,
    }


# --- For the owner's board: "needs you" counts and card badges ----------------------------------


def drafts_awaiting_count() -> int:
    return OutboundMessage.objects.filter(status=OutboundMessage.Status.DRAFT).count()


def sending_problems_count() -> int:
    """Emails that failed, or whose outcome is unknown (never resent on their own)."""
    return OutboundMessage.objects.filter(
        status__in=(OutboundMessage.Status.FAILED, OutboundMessage.Status.UNKNOWN)
    ).count()


def replies_unmatched_count() -> int:
    return InboundReply.objects.filter(lead__isnull=True).count()


_OUTBOUND_BADGES: dict[str, Badge] = {
    OutboundMessage.Status.DRAFT: Badge("Awaiting approval", "warn", "An email draft waits in the review queue."),
    OutboundMessage.Status.APPROVED: Badge("Approved, not sent", "info", "An approved email waits to be sent."),
    OutboundMessage.Status.FAILED: Badge(
        "Send failed", "danger", "An email failed to send; retry it from the review queue."
    ),
    OutboundMessage.Status.UNKNOWN: Badge(
        "Send unknown", "danger", "An email may or may not have gone out; check and resolve it."
    ),
}


def outbound_badges(lead_ids: list[int]) -> dict[int, list[Badge]]:
    """One query for every card on the page."""
    pairs = (
        OutboundMessage.objects.filter(lead_id__in=lead_ids, status__in=list(_OUTBOUND_BADGES))
        .values_list("lead_id", "status")
        .distinct()
    )
    order = list(_OUTBOUND_BADGES)
    result: dict[int, list[Badge]] = {}
    for lead_id, status in sorted(pairs, key=lambda p: order.index(p[1])):
        result.setdefault(lead_id, []).append(_OUTBOUND_BADGES[status])
    return result


def unverified_replies() -> QuerySet[InboundReply]:
    """Replies matched only by an unverified sender address, waiting for a person to apply them."""
    return InboundReply.objects.filter(held_for_review=True).select_related("lead")


def unverified_replies_count() -> int:
    return unverified_replies().count()
