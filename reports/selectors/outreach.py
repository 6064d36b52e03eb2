"""Outreach: per sequence and step, what happened after each email was sent in the range.

A reply, a positive reply or an unsubscribe belongs to the last email sent to that lead before
it (up to the next email sent to them); for a reply that email is recorded on it when it is
matched (`InboundReply.in_answer_to`). Bounced is an email the provider refused (`failed`).
One grouped query, written for each database (their planners need different shapes to read
each table once; `tests/reports/test_numbers.py` checks both against the same count).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import connection

from classify.models import Classification, Label
from leads.models import LeadEvent
from outreach.models import Enrollment, InboundReply, OutboundMessage, OutreachEventKind, Sequence, SequenceStep
from reports.periods import Period
from reports.selectors.sql import dt_param, fetch

MESSAGES = OutboundMessage._meta.db_table
REPLIES = InboundReply._meta.db_table
CLASSIFICATIONS = Classification._meta.db_table
EVENTS = LeadEvent._meta.db_table
ENROLLMENTS = Enrollment._meta.db_table
SEQUENCES = Sequence._meta.db_table
STEPS = SequenceStep._meta.db_table
# An email counts as sent by its sequence when it is a sequence email sent from an enrollment:
# written out as constants (not parameters) so that PostgreSQL can tell that
# outbound_sequence_sent_idx, which holds exactly these emails, answers it.
SEQUENCE_SENT = (
    f"s.kind = '{OutboundMessage.Kind.SEQUENCE}' AND s.status = '{OutboundMessage.Status.SENT}'"
    " AND s.enrollment_id IS NOT NULL"
)
# An answer reads positive by the person's correction, or else by the classifier's label.
POSITIVE = "c.final_label = %s OR (c.final_label = '' AND c.label = %s)"
# The emails and their counts per step, named after the sequence and the step's position; an
# email whose step is gone (deleted) counts for its enrollment's sequence with no position.
PER_SEQUENCE_STEP = f"""
    per_step AS MATERIALIZED (
        SELECT step_id, enrollment_id, SUM(sent) AS sent, SUM(replied) AS replied,
               SUM(positive) AS positive, SUM(unsubscribed) AS unsubscribed, SUM(bounced) AS bounced
        FROM counted GROUP BY step_id, enrollment_id
        HAVING SUM(sent) > 0 OR SUM(bounced) > 0
    )
    SELECT q.name, st.position, SUM(ps.sent), SUM(ps.replied), SUM(ps.positive), SUM(ps.unsubscribed),
           SUM(ps.bounced)
    FROM per_step ps
    LEFT JOIN {STEPS} st ON st.id = ps.step_id
    LEFT JOIN {ENROLLMENTS} en ON en.id = ps.enrollment_id
    JOIN {SEQUENCES} q ON q.id = COALESCE(st.sequence_id, en.sequence_id)
    GROUP BY q.name, st.position
"""  # noqa: S608 (only table names are interpolated)


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
    sql, params = _postgresql_sql(period) if connection.vendor == "postgresql" else _sqlite_sql(period)
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


def _source_filter(period: Period) -> tuple[str, list[str]]:
    if not period.source:
        return "", []
    return "AND s.lead_id IN (SELECT id FROM leads_lead WHERE source = %s)", [period.source]


def _bounced(period: Period) -> tuple[str, list]:
    """The sequence emails the provider refused in the range, per step."""
    source_sql, source_params = _source_filter(period)
    sql = f"""
        SELECT s.step_id, CASE WHEN s.step_id IS NULL THEN s.enrollment_id END, 0, 0, 0, 0, COUNT(*)
        FROM {MESSAGES} s
        WHERE s.kind = %s AND s.status = %s AND s.updated_at >= %s AND s.updated_at < %s
              AND s.enrollment_id IS NOT NULL {source_sql}
        GROUP BY s.step_id, CASE WHEN s.step_id IS NULL THEN s.enrollment_id END
    """  # noqa: S608 (only table names and constants are interpolated; values are parameters)
    kinds = [OutboundMessage.Kind.SEQUENCE, OutboundMessage.Status.FAILED]
    return sql, [*kinds, dt_param(period.start_at), dt_param(period.end_at), *source_params]


def _postgresql_sql(period: Period) -> tuple[str, list]:
    """PostgreSQL: the emails sent in the range read once, in id order from
    outbound_sequence_sent_idx alone, and merged with the emails answered in the same order:
    those are grouped from inboundreply_answer_idx alone, each answer checked against a hash of
    the replies labelled positive (`IN`, which PostgreSQL hashes once; a join to the labels is
    planned as a merge over both tables' rows, twice the time at 100,000 leads). No email is
    looked up by id and nothing big is sorted.
    """
    source_sql, source_params = _source_filter(period)
    start, end = dt_param(period.start_at), dt_param(period.end_at)
    sent_in_range = f"{SEQUENCE_SENT} AND s.sent_at >= %s AND s.sent_at < %s {source_sql}"
    in_range = [start, end, *source_params]
    bounced_sql, bounced_params = _bounced(period)
    # An unsubscribe belongs to the lead's last email sent at or before it (ties to the later id):
    # the first entry of outbound_lead_sent_idx (lead, status, sent_at, id, ...) read backwards
    # from its time, which also carries the email's kind, enrollment and step.
    sql = f"""
        WITH answered AS (
            SELECT r.in_answer_to_id AS message_id,
                   MAX(CASE WHEN r.id IN (SELECT c.reply_id FROM {CLASSIFICATIONS} c WHERE {POSITIVE}) THEN 1 END)
                       AS positive
            FROM {REPLIES} r
            WHERE r.in_answer_to_id IS NOT NULL AND r.received_at >= %s
            GROUP BY r.in_answer_to_id
        ),
        sent AS (
            SELECT s.id, s.step_id, CASE WHEN s.step_id IS NULL THEN s.enrollment_id END AS enrollment_id
            FROM {MESSAGES} s WHERE {sent_in_range}
        ),
        counted AS (
            SELECT s.step_id, s.enrollment_id, COUNT(*) AS sent, COUNT(a.message_id) AS replied,
                   COUNT(a.positive) AS positive, 0 AS unsubscribed, 0 AS bounced
            FROM sent s LEFT JOIN answered a ON a.message_id = s.id
            GROUP BY s.step_id, s.enrollment_id
            UNION ALL
            SELECT s.step_id, CASE WHEN s.step_id IS NULL THEN s.enrollment_id END, 0, 0, 0, COUNT(DISTINCT s.id), 0
            FROM {EVENTS} e CROSS JOIN LATERAL (
                SELECT m.id, m.lead_id, m.kind, m.status, m.sent_at, m.enrollment_id, m.step_id
                FROM {MESSAGES} m
                WHERE m.lead_id = e.lead_id AND m.status = %s AND m.sent_at <= e.at
                ORDER BY m.sent_at DESC, m.id DESC LIMIT 1
            ) s
            WHERE e.kind = %s AND e.at >= %s AND {sent_in_range}
            GROUP BY s.step_id, CASE WHEN s.step_id IS NULL THEN s.enrollment_id END
            UNION ALL
            {bounced_sql}
        ),
        {PER_SEQUENCE_STEP}
    """  # noqa: S608 (only table names and constants are interpolated; values are parameters)
    params = [Label.POSITIVE, Label.POSITIVE, start, *in_range]
    params += [OutboundMessage.Status.SENT, OutreachEventKind.UNSUBSCRIBED, start, *in_range]
    params += bounced_params
    return sql, params


def _sqlite_sql(period: Period) -> tuple[str, list]:
    """SQLite: the emails sent in the range counted per step, each step one range of
    outbound_step_sent_idx read from the index alone; what came back is added per step from
    the emails that had an answer (each looked up once by id) rather than looking up an answer
    for every email sent, each email once (COUNT DISTINCT) however many answers it had.
    """
    source_sql, source_params = _source_filter(period)
    start, end = dt_param(period.start_at), dt_param(period.end_at)
    sent_in_range = f"""
        s.kind = %s AND s.status = %s AND s.sent_at >= %s AND s.sent_at < %s
        AND s.enrollment_id IS NOT NULL {source_sql}
    """
    in_range = [OutboundMessage.Kind.SEQUENCE, OutboundMessage.Status.SENT, start, end, *source_params]
    bounced_sql, bounced_params = _bounced(period)
    # An unsubscribe belongs to the lead's last email sent at or before it (ties to the later
    # id): the first entry of outbound_lead_sent_idx (lead, status, sent_at, id) read backwards
    # from its time, one index lookup per unsubscribe with no sort of the lead's emails.
    last_sent = f"""
        SELECT m.id FROM {MESSAGES} m
        WHERE m.lead_id = e.lead_id AND m.status = %s AND m.sent_at <= e.at
        ORDER BY m.sent_at DESC, m.id DESC LIMIT 1
    """  # noqa: S608 (only table names are interpolated; values are parameters)
    # Without statistics SQLite would look each label up through the unique reply index and read
    # the row. The CTEs are streamed into the grouping rather than written out first (about 15%
    # of this query at 100,000 leads).
    sql = f"""
        WITH answered AS NOT MATERIALIZED (
            SELECT r.in_answer_to_id AS message_id,
                   MAX(CASE WHEN {POSITIVE} THEN 1 ELSE 0 END) AS positive
            FROM {REPLIES} r INDEXED BY inboundreply_answer_idx
            LEFT JOIN {CLASSIFICATIONS} c INDEXED BY classification_reply_label_idx ON c.reply_id = r.id
            WHERE r.in_answer_to_id IS NOT NULL AND r.received_at >= %s
            GROUP BY r.in_answer_to_id
        ),
        came_back AS NOT MATERIALIZED (
            SELECT s.id AS message_id, s.step_id, s.enrollment_id, 1 AS replied, a.positive, 0 AS unsubscribed
            FROM answered a JOIN {MESSAGES} s ON s.id = a.message_id
            WHERE {sent_in_range}
            UNION ALL
            SELECT s.id, s.step_id, s.enrollment_id, 0, 0, 1
            FROM {EVENTS} e JOIN {MESSAGES} s ON s.id = ({last_sent})
            WHERE e.kind = %s AND e.at >= %s AND {sent_in_range}
        ),
        counted AS (
            SELECT st.id AS step_id, NULL AS enrollment_id,
                   (SELECT COUNT(*) FROM {MESSAGES} s WHERE s.step_id = st.id AND {sent_in_range}) AS sent,
                   0 AS replied, 0 AS positive, 0 AS unsubscribed, 0 AS bounced
            FROM {STEPS} st
            UNION ALL
            SELECT NULL, s.enrollment_id, COUNT(*), 0, 0, 0, 0
            FROM {MESSAGES} s WHERE s.step_id IS NULL AND {sent_in_range}
            GROUP BY s.enrollment_id
            UNION ALL
            SELECT step_id, CASE WHEN step_id IS NULL THEN enrollment_id END, 0,
                   COUNT(DISTINCT CASE WHEN replied = 1 THEN message_id END),
                   COUNT(DISTINCT CASE WHEN positive = 1 THEN message_id END),
                   COUNT(DISTINCT CASE WHEN unsubscribed = 1 THEN message_id END), 0
            FROM came_back
            GROUP BY step_id, CASE WHEN step_id IS NULL THEN enrollment_id END
            UNION ALL
            {bounced_sql}
        ),
        {PER_SEQUENCE_STEP}
    """  # noqa: S608 (only table names and constants are interpolated; values are parameters)
    params = [Label.POSITIVE, Label.POSITIVE, start, *in_range]
    params += [OutboundMessage.Status.SENT, OutreachEventKind.UNSUBSCRIBED, start, *in_range]
    params += in_range * 2 + bounced_params
    return sql, params
