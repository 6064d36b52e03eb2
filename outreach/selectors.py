"""Reads for outreach: the thread with a lead, and what a reviewer sees beside a draft."""

from __future__ import annotations

from datetime import datetime
from typing import Any

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
