"""Outreach: per sequence and step, what happened after each email was sent in the range.

A reply, a positive reply or an unsubscribe belongs to the last email sent to that lead before
it (up to the next email sent to them); for a reply that email is recorded on it when it is
matched (`InboundReply.in_answer_to`). Bounced is an email the provider refused (`failed`).
One grouped query; each email answered and each unsubscribe is looked up once.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import connection

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
    source_sql = "AND s.lead_id IN (SELECT id FROM leads_lead WHERE source = %s)" if period.source else ""
    source_params = [period.source] if period.source else []
    start, end = dt_param(period.start_at), dt_param(period.end_at)
    messages = OutboundMessage._meta.db_table
    replies = InboundReply._meta.db_table
    classifications = Classification._meta.db_table
    events = LeadEvent._meta.db_table
    enrollments = Enrollment._meta.db_table
    sequences = Sequence._meta.db_table
    steps = SequenceStep._meta.db_table
    # Each reply belongs to the email it answers, recorded on it when it was matched (the last
    # email sent to its lead at or before it, `outreach.services.answers`): the replies are
    # grouped per email from inboundreply_answer_idx alone, and each email answered is looked up
    # once. An unsubscribe belongs to the lead's last email sent at or before it (ties to the
    # later id): the first entry of outbound_lead_sent_idx (lead, status, sent_at, id) read
    # backwards from its time, one index lookup per unsubscribe with no sort of the lead's
    # emails. On PostgreSQL a LATERAL join takes the email's kind, time, enrollment and step from
    # the same entry (the index carries them), so no email row is read; SQLite has no LATERAL
    # and finds the row by its id.
    sqlite = connection.vendor == "sqlite"

    def owner_of(alias: str, at: str) -> str:
        last_sent = f"""
            SELECT m.id{"" if sqlite else ", m.lead_id, m.status, m.kind, m.sent_at, m.enrollment_id, m.step_id"} FROM {messages} m
            WHERE m.lead_id = {alias}.lead_id AND m.status = %s AND m.sent_at <= {alias}.{at}
            ORDER BY m.sent_at DESC, m.id DESC LIMIT 1
        """  # noqa: S608 (only table and column names are interpolated; values are parameters)
        if sqlite:
            return f"JOIN {messages} s ON s.id = ({last_sent})"
        return f"CROSS JOIN LATERAL ({last_sent}) s"

    # Without statistics SQLite would look each label up through the unique reply index and read
    # the row.
    answers_index = "INDEXED BY inboundreply_answer_idx" if sqlite else ""
    labels_index = "INDEXED BY classification_reply_label_idx" if sqlite else ""
    # A sequence email's step is a step of its enrollment's sequence (drafting takes it from
    # there), so the emails sent are counted per step, each step one range of
    # outbound_step_sent_idx read from the index alone (no sort or hash of every email sent);
    # only emails whose step is gone (deleted) are grouped by their enrollment. What came back is
    # added per step from the emails that had an answer, rather than looking up an answer for
    # every email sent: each email once (COUNT DISTINCT) however many answers it had, in one
    # grouping rather than one per email and then one per step.
    sent_in_range = f"""
        s.kind = %s AND s.status = %s AND s.sent_at >= %s AND s.sent_at < %s
        AND s.enrollment_id IS NOT NULL {source_sql}
    """
    # PostgreSQL computes each of these once (MATERIALIZED). SQLite reads each once anyway and
    # does better streaming them into the grouping than writing them out first (about 15% of
    # this query at 100,000 leads).
    once = "NOT MATERIALIZED" if sqlite else "MATERIALIZED"
    sql = f"""
        WITH answered AS {once} (
            SELECT r.in_answer_to_id AS message_id,
                   MAX(CASE WHEN c.final_label = %s OR (c.final_label = '' AND c.label = %s) THEN 1 ELSE 0 END)
                       AS positive
            FROM {replies} r {answers_index}
            LEFT JOIN {classifications} c {labels_index} ON c.reply_id = r.id
            WHERE r.in_answer_to_id IS NOT NULL AND r.received_at >= %s
            GROUP BY r.in_answer_to_id
        ),
        came_back AS {once} (
            SELECT s.id AS message_id, s.step_id, s.enrollment_id, 1 AS replied, a.positive, 0 AS unsubscribed
            FROM answered a JOIN {messages} s ON s.id = a.message_id
            WHERE {sent_in_range}
            UNION ALL
            SELECT s.id, s.step_id, s.enrollment_id, 0, 0, 1
            FROM {events} e {owner_of("e", "at")}
            WHERE e.kind = %s AND e.at >= %s AND {sent_in_range}
        ),
        counted AS (
            SELECT st.id AS step_id, NULL AS enrollment_id,
                   (SELECT COUNT(*) FROM {messages} s WHERE s.step_id = st.id AND {sent_in_range}) AS sent,
                   0 AS replied, 0 AS positive, 0 AS unsubscribed, 0 AS bounced
            FROM {steps} st
            UNION ALL
            SELECT NULL, s.enrollment_id, COUNT(*), 0, 0, 0, 0
            FROM {messages} s WHERE s.step_id IS NULL AND {sent_in_range}
            GROUP BY s.enrollment_id
            UNION ALL
            SELECT step_id, CASE WHEN step_id IS NULL THEN enrollment_id END, 0,
                   COUNT(DISTINCT CASE WHEN replied = 1 THEN message_id END),
                   COUNT(DISTINCT CASE WHEN positive = 1 THEN message_id END),
                   COUNT(DISTINCT CASE WHEN unsubscribed = 1 THEN message_id END), 0
            FROM came_back
            GROUP BY step_id, CASE WHEN step_id IS NULL THEN enrollment_id END
            UNION ALL
            SELECT s.step_id, CASE WHEN s.step_id IS NULL THEN s.enrollment_id END, 0, 0, 0, 0, COUNT(*)
            FROM {messages} s
            WHERE s.kind = %s AND s.status = %s AND s.updated_at >= %s AND s.updated_at < %s
                  AND s.enrollment_id IS NOT NULL {source_sql}
            GROUP BY s.step_id, CASE WHEN s.step_id IS NULL THEN s.enrollment_id END
        ),
        per_step AS MATERIALIZED (
            SELECT step_id, enrollment_id, SUM(sent) AS sent, SUM(replied) AS replied,
                   SUM(positive) AS positive, SUM(unsubscribed) AS unsubscribed, SUM(bounced) AS bounced
            FROM counted GROUP BY step_id, enrollment_id
            HAVING SUM(sent) > 0 OR SUM(bounced) > 0
        )
        SELECT q.name, st.position, SUM(ps.sent), SUM(ps.replied), SUM(ps.positive), SUM(ps.unsubscribed),
               SUM(ps.bounced)
        FROM per_step ps
        LEFT JOIN {steps} st ON st.id = ps.step_id
        LEFT JOIN {enrollments} en ON en.id = ps.enrollment_id
        JOIN {sequences} q ON q.id = COALESCE(st.sequence_id, en.sequence_id)
        GROUP BY q.name, st.position
    """  # noqa: S608 (only table names and constants are interpolated; values are parameters)
    sent_status = OutboundMessage.Status.SENT
    in_range = [OutboundMessage.Kind.SEQUENCE, sent_status, start, end, *source_params]
    params = [Label.POSITIVE, Label.POSITIVE, start, *in_range]
    params += [sent_status, OutreachEventKind.UNSUBSCRIBED, start, *in_range]
    params += in_range * 2
    params += [OutboundMessage.Kind.SEQUENCE, OutboundMessage.Status.FAILED, start, end, *source_params]
    outcomes: dict[tuple[str, int | None], list[int]] = {
        (name, position): [int(n), int(replied), int(positive), int(unsubscribed), int(bounced)]
        for name, position, n, replied, positive, unsubscribed, bounced in fetch(sql, params, indexes_only=True)
    }
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
