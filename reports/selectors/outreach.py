"""Outreach: per sequence and step, what happened after each email was sent in the range.

A reply, a positive reply or an unsubscribe belongs to the last email sent to that lead before
it (up to the next email sent to them). Bounced is an email the provider refused (`failed`).
One grouped query with correlated subqueries; nothing is counted in Python.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from django.db.models import (
    Count,
    DateTimeField,
    Exists,
    F,
    OuterRef,
    Q,
    Subquery,
    Value,
)
from django.db.models.functions import Coalesce

from classify.models import Label
from leads.models import LeadEvent
from outreach.models import InboundReply, OutboundMessage, OutreachEventKind
from reports.periods import Period

FAR_FUTURE = datetime(9999, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class StepOutcome:
    sequence: str
    step: int | None
    sent: int
    replied: int
    positive: int
    unsubscribed: int
    bounced: int

    @property
    def reply_rate(self) -> float | None:
        return self.replied / self.sent if self.sent else None


def outreach_report(*, period: Period) -> list[StepOutcome]:
    messages = OutboundMessage.objects.filter(kind=OutboundMessage.Kind.SEQUENCE, enrollment__isnull=False)
    if period.source:
        messages = messages.filter(lead__source=period.source)
    sent_in_range = Q(status=OutboundMessage.Status.SENT, sent_at__gte=period.start_at, sent_at__lt=period.end_at)
    bounced_in_range = Q(
        status=OutboundMessage.Status.FAILED, updated_at__gte=period.start_at, updated_at__lt=period.end_at
    )
    next_sent = OutboundMessage.objects.filter(
        lead=OuterRef("lead"), status=OutboundMessage.Status.SENT, sent_at__gt=OuterRef("sent_at")
    ).order_by("sent_at")
    replies = InboundReply.objects.filter(
        lead=OuterRef("lead"), received_at__gte=OuterRef("sent_at"), received_at__lt=OuterRef("window_end")
    )
    positive = replies.filter(
        Q(classification__final_label=Label.POSITIVE)
        | Q(classification__final_label="", classification__label=Label.POSITIVE)
    )
    unsubscribed = LeadEvent.objects.filter(
        lead=OuterRef("lead"),
        kind=OutreachEventKind.UNSUBSCRIBED,
        at__gte=OuterRef("sent_at"),
        at__lt=OuterRef("window_end"),
    )
    rows = (
        messages.filter(sent_in_range | bounced_in_range)
        .annotate(
            window_end=Coalesce(
                Subquery(next_sent.values("sent_at")[:1]), Value(FAR_FUTURE, output_field=DateTimeField())
            ),
            replied=Exists(replies),
            positive=Exists(positive),
            unsubscribed=Exists(unsubscribed),
        )
        .values(sequence_name=F("enrollment__sequence__name"), position=F("step__position"))
        .annotate(
            sent=Count("id", filter=Q(status=OutboundMessage.Status.SENT)),
            n_replied=Count("id", filter=Q(status=OutboundMessage.Status.SENT, replied=True)),
            n_positive=Count("id", filter=Q(status=OutboundMessage.Status.SENT, positive=True)),
            n_unsubscribed=Count("id", filter=Q(status=OutboundMessage.Status.SENT, unsubscribed=True)),
            bounced=Count("id", filter=Q(status=OutboundMessage.Status.FAILED)),
        )
        .order_by("sequence_name", "position")
    )
    return [
        StepOutcome(
            sequence=row["sequence_name"],
            step=row["position"],
            sent=row["sent"],
            replied=row["n_replied"],
            positive=row["n_positive"],
            unsubscribed=row["n_unsubscribed"],
            bounced=row["bounced"],
        )
        for row in rows
    ]
