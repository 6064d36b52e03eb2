"""Outreach items for the board: the "needs you" counts and card badges.

Autodiscovered by `clientsflow.attention`.
"""

from __future__ import annotations

from clientsflow.attention import Badge, register_card_badges, register_needs_you
from outreach.models import InboundReply, OutboundMessage

Status = OutboundMessage.Status
QUEUE_URL = "/admin/outreach/outboundmessage/"

register_needs_you(
    "outbound_drafts",
    "Drafts awaiting approval",
    url=f"{QUEUE_URL}?status__exact=draft",
    count=lambda: OutboundMessage.objects.filter(status=Status.DRAFT).count(),
    order=10,
)
register_needs_you(
    "outbound_problems",
    "Emails failed or with unknown outcome",
    url=f"{QUEUE_URL}?status__in=failed,unknown",
    count=lambda: OutboundMessage.objects.filter(status__in=(Status.FAILED, Status.UNKNOWN)).count(),
    order=11,
)
register_needs_you(
    "replies_unmatched",
    "Replies not matched to a lead",
    url="/admin/outreach/inboundreply/?matched_by__exact=unmatched",
    count=lambda: InboundReply.objects.filter(lead__isnull=True).count(),
    order=12,
)

_BADGES: dict[str, Badge] = {
    Status.DRAFT: Badge("Awaiting approval", "warn", "An email draft waits in the review queue."),
    Status.APPROVED: Badge("Approved, not sent", "info", "An approved email waits to be sent."),
    Status.FAILED: Badge("Send failed", "danger", "An email failed to send; retry it from the review queue."),
    Status.UNKNOWN: Badge("Send unknown", "danger", "An email may or may not have gone out; check and resolve it."),
}


def outbound_badges(lead_ids: list[int]) -> dict[int, list[Badge]]:
    """One query for every card on the page."""
    pairs = (
        OutboundMessage.objects.filter(lead_id__in=lead_ids, status__in=list(_BADGES))
        .values_list("lead_id", "status")
        .distinct()
    )
    result: dict[int, list[Badge]] = {}
    for lead_id, status in sorted(pairs, key=lambda p: list(_BADGES).index(p[1])):
        result.setdefault(lead_id, []).append(_BADGES[status])
    return result


register_card_badges("outbound", outbound_badges)
