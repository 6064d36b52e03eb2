"""How a proposal learns its email actually went out through the outbound gate.

The outbound gate (outreach.services) owns sending and knows nothing of proposals. A
proposal waiting for approval looks at its OutboundMessage (by id, else by its origin
`proposal:<id>:v<n>`): once that message is `sent`, the proposal becomes `sent` with the
message's time; if the message was rejected or blocked, the send request is withdrawn so the
proposal can be edited and sent again. This runs when the proposal is shown (admin, public page)
and every few minutes from the dispatcher, so nothing depends on a callback being wired.
"""

from __future__ import annotations

import logging

from django.db import transaction
from django.utils import timezone

from billing.models import Proposal
from billing.services.proposals import proposal_mark_sent
from clientsflow.audit import audit_record
from clientsflow.cache import board_version_bump

logger = logging.getLogger(__name__)

WITHDRAWN_STATUSES = ("rejected", "blocked")


def _message_for(proposal: Proposal):
    from outreach.models import OutboundMessage

    if proposal.outbound_message_id:
        found = OutboundMessage.objects.filter(pk=proposal.outbound_message_id).first()
        if found is not None:
            return found
    return OutboundMessage.objects.filter(origin=proposal.origin).order_by("-created_at").first()


def proposal_outbound_sync(*, proposal: Proposal) -> str:
    """Returns what happened: 'sent', 'withdrawn', 'waiting' or 'nothing'."""
    if proposal.status != Proposal.Status.DRAFT or not proposal.send_requested_at:
        return "nothing"
    message = _message_for(proposal)
    if message is None:
        return "waiting"
    if message.status == "sent":
        proposal_mark_sent(proposal=proposal, sent_at=message.sent_at or timezone.now(), via="outbound")
        return "sent"
    if message.status in WITHDRAWN_STATUSES:
        with transaction.atomic():
            changed = Proposal.objects.filter(
                pk=proposal.pk, status=Proposal.Status.DRAFT, send_requested_at__isnull=False
            ).update(send_requested_at=None, outbound_message_id=None, updated_at=timezone.now())
            if changed:
                audit_record(
                    verb="proposal.send_withdrawn",
                    obj=proposal,
                    actor_label="outbound",
                    details={"outbound_message_id": message.pk, "message_status": message.status},
                )
                board_version_bump()
        proposal.send_requested_at, proposal.outbound_message_id = None, None
        return "withdrawn"
    return "waiting"


def proposals_outbound_sync_due(*, limit: int = 200) -> dict[str, int]:
    counts: dict[str, int] = {}
    pending = Proposal.objects.filter(status=Proposal.Status.DRAFT, send_requested_at__isnull=False).order_by(
        "send_requested_at"
    )[:limit]
    for proposal in pending:
        outcome = proposal_outbound_sync(proposal=proposal)
        counts[outcome] = counts.get(outcome, 0) + 1
    return counts
