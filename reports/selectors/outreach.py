"""Outreach: per sequence and step, what happened after each email was sent in the range.

A reply, a positive reply or an unsubscribe belongs to the last email sent to that lead before
it (up to the next email sent to them). Bounced is an email the provider refused (`failed`).
Two grouped queries; a window function orders each lead's emails once.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count

from classify.models import Classification, Label
from leads.models import LeadEvent
from outreach.models import Enrollment, InboundReply, OutboundMessage, OutreachEventKind, Sequence, SequenceStep
from reports.periods import Period
from reports.selectors.sql import dt_param, fetch


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
    source_sql = "AND l.source = %s" if period.source else ""
    source_params = [period.source] if period.source else []
    start, end = dt_param(period.start_at), dt_param(period.end_at)
    messages = OutboundMessage._meta.db_table
    replies = InboundReply._meta.db_table
    classifications = Classification._meta.db_table
    events = LeadEvent._meta.db_table
    enrollments = Enrollment._meta.db_table
    sequences = Sequence._meta.db_table
    steps = SequenceStep._meta.db_table
    # Each lead's sent emails in order: an email's window runs to the lead's next one. Only leads
    # emailed in the range are sorted. Replies and unsubscribes are then looked up by lead.
    sql = f"""
        WITH sent AS (
            SELECT m.id, m.lead_id, m.kind, m.enrollment_id, m.step_id, m.sent_at,
                   LEAD(m.sent_at) OVER (PARTITION BY m.lead_id ORDER BY m.sent_at, m.id) AS window_end
            FROM {messages} m
            WHERE m.status = %s
              AND m.lead_id IN (SELECT lead_id FROM {messages} WHERE status = %s AND sent_at >= %s AND sent_at < %s)
        ),
        outcome AS (
            SELECT s.enrollment_id, s.step_id,
                   CASE WHEN EXISTS (
                       SELECT 1 FROM {replies} r WHERE r.lead_id = s.lead_id AND r.received_at >= s.sent_at
                         AND (s.window_end IS NULL OR r.received_at < s.window_end)
                   ) THEN 1 ELSE 0 END AS replied,
                   CASE WHEN EXISTS (
                       SELECT 1 FROM {replies} r JOIN {classifications} c ON c.reply_id = r.id
                       WHERE r.lead_id = s.lead_id AND r.received_at >= s.sent_at
                         AND (s.window_end IS NULL OR r.received_at < s.window_end)
                         AND (c.final_label = %s OR (c.final_label = '' AND c.label = %s))
                   ) THEN 1 ELSE 0 END AS positive,
                   CASE WHEN EXISTS (
                       SELECT 1 FROM {events} e WHERE e.lead_id = s.lead_id AND e.kind = %s AND e.at >= s.sent_at
                         AND (s.window_end IS NULL OR e.at < s.window_end)
                   ) THEN 1 ELSE 0 END AS unsubscribed
            FROM sent s JOIN leads_lead l ON l.id = s.lead_id
            WHERE s.kind = %s AND s.enrollment_id IS NOT NULL AND s.sent_at >= %s AND s.sent_at < %s {source_sql}
        )
        SELECT q.name, st.position, COUNT(*), SUM(o.replied), SUM(o.positive), SUM(o.unsubscribed)
        FROM outcome o
        JOIN {enrollments} en ON en.id = o.enrollment_id
        JOIN {sequences} q ON q.id = en.sequence_id
        LEFT JOIN {steps} st ON st.id = o.step_id
        GROUP BY q.name, st.position
    """  # noqa: S608 (only table names and constants are interpolated; values are parameters)
    sent_status = OutboundMessage.Status.SENT
    params = [sent_status, sent_status, start, end, Label.POSITIVE, Label.POSITIVE, OutreachEventKind.UNSUBSCRIBED]
    params += [OutboundMessage.Kind.SEQUENCE, start, end, *source_params]
    outcomes: dict[tuple[str, int | None], list[int]] = {
        (name, position): [int(n), int(replied or 0), int(positive or 0), int(unsubscribed or 0), 0]
        for name, position, n, replied, positive, unsubscribed in fetch(sql, params)
    }
    bounced = OutboundMessage.objects.filter(
        kind=OutboundMessage.Kind.SEQUENCE,
        enrollment__isnull=False,
        status=OutboundMessage.Status.FAILED,
        updated_at__gte=period.start_at,
        updated_at__lt=period.end_at,
    )
    if period.source:
        bounced = bounced.filter(lead__source=period.source)
    for row in bounced.values("enrollment__sequence__name", "step__position").annotate(n=Count("id")).order_by():
        key = (row["enrollment__sequence__name"], row["step__position"])
        outcomes.setdefault(key, [0, 0, 0, 0, 0])[4] = row["n"]
    return [
        StepOutcome(
            sequence=name,
            step=position,
            sent=counts[0],
            replied=counts[1],
            positive=counts[2],
            unsubscribed=counts[3],
            bounced=counts[4],
        )
        for (name, position), counts in sorted(outcomes.items(), key=lambda item: (item[0][0], item[0][1] or 0))
    ]
