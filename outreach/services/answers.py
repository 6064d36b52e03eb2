"""Which email a reply answers: the last email sent to its lead at or before the reply arrived
(ties to the later id), recorded on the reply (`InboundReply.in_answer_to`) so reports count the
answers each email got without looking them up reply by reply.

Recorded when a reply is matched to its lead, and again for a lead's later replies when an email
whose outcome was unknown is confirmed sent (it may have gone out before them). An email sent
now is not re-checked against the replies already stored: only a reply dated in the future (a
`Date:` header from a skewed clock) could come after it. A merge moves a reply with the email it
answered, as it moves the email.
"""

from __future__ import annotations

from datetime import datetime

from django.db.models import OuterRef, Subquery

from outreach.models import InboundReply, OutboundMessage


def answered_email_id(*, lead_id: int, received_at: datetime) -> int | None:
    """The id of the email a reply from `lead_id` received at `received_at` answers, if any."""
    return (
        OutboundMessage.objects.filter(lead_id=lead_id, status=OutboundMessage.Status.SENT, sent_at__lte=received_at)
        .order_by("-sent_at", "-id")
        .values_list("pk", flat=True)
        .first()
    )


def replies_link_emails(*, lead_id: int, since: datetime) -> int:
    """Record again the email each of the lead's replies received at or after `since` answers (one
    UPDATE). Call after an email of the lead's became sent with `sent_at = since`."""
    last_sent = (
        OutboundMessage.objects.filter(
            lead_id=OuterRef("lead_id"), status=OutboundMessage.Status.SENT, sent_at__lte=OuterRef("received_at")
        )
        .order_by("-sent_at", "-id")
        .values("pk")[:1]
    )
    return InboundReply.objects.filter(lead_id=lead_id, received_at__gte=since).update(in_answer_to=Subquery(last_sent))
