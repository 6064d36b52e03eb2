"""Classification: the eval loop's live signal.

Replies received in the range, per label (the reviewer's label when a person set one) per week
(weeks start on Monday in the owner's zone); the share the classifier sent to review; and how
often a reviewer changed the label (disagreement rate = corrected / reviewed).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from django.db import connection

from classify.models import Classification, Label
from outreach.models import InboundReply
from reports.periods import Period, owner_zone
from reports.selectors.sql import dt_param, fetch, local_week_sql


@dataclass(frozen=True)
class ClassificationReport:
    labels: list[str]
    weeks: list[date]
    per_week: dict[str, list[int]]  # label -> count per week
    total: int
    sent_to_review: int
    reviewed: int
    corrected: int

    @property
    def review_share(self) -> float | None:
        return self.sent_to_review / self.total if self.total else None

    @property
    def disagreement_rate(self) -> float | None:
        return self.corrected / self.reviewed if self.reviewed else None


def classification_report(*, period: Period) -> ClassificationReport:
    replies = InboundReply._meta.db_table
    classifications = Classification._meta.db_table
    week_sql, week_params = local_week_sql("r.received_at", start=period.start_at, end=period.end_at, zone=owner_zone())
    source_sql = "AND r.lead_id IN (SELECT id FROM leads_lead WHERE source = %s)" if period.source else ""
    # One pass over the replies in the range: the counts per week and label, each group also
    # counting what was routed to review, reviewed and corrected, so the totals are sums over
    # these few groups rather than a second pass. Each reply's classification is read from
    # classification_reply_label_idx alone (SQLite must be told, or without statistics it reads
    # each row through the unique reply index).
    labels_index = "INDEXED BY classification_reply_label_idx" if connection.vendor == "sqlite" else ""
    weekly = fetch(
        f"""
        SELECT {week_sql} AS week, COALESCE(NULLIF(c.final_label, ''), c.label) AS shown_label, COUNT(*),
               SUM(CASE WHEN c.needs_review OR c.review_reason <> '' THEN 1 ELSE 0 END),
               SUM(CASE WHEN c.reviewed_at IS NOT NULL THEN 1 ELSE 0 END),
               SUM(CASE WHEN c.reviewed_at IS NOT NULL AND c.final_label <> '' AND c.final_label <> c.label
                        THEN 1 ELSE 0 END)
        FROM {replies} r JOIN {classifications} c {labels_index} ON c.reply_id = r.id
        WHERE r.received_at >= %s AND r.received_at < %s {source_sql}
        GROUP BY 1, 2
        """,  # noqa: S608 (only table names and constants are interpolated; values are parameters)
        [*week_params, dt_param(period.start_at), dt_param(period.end_at), *([period.source] if period.source else [])],
    )
    total, sent_to_review, reviewed, corrected = (sum(int(row[i]) for row in weekly) for i in range(2, 6))
    labels = [label.value for label in Label]
    weeks = sorted({_as_date(row[0]) for row in weekly})
    per_week = {label: [0] * len(weeks) for label in labels}
    index = {week: i for i, week in enumerate(weeks)}
    for week, label, n, *_ in weekly:  # labels x weeks grouped rows
        per_week.setdefault(label, [0] * len(weeks))[index[_as_date(week)]] += int(n)
    return ClassificationReport(
        labels=labels,
        weeks=weeks,
        per_week=per_week,
        total=total,
        sent_to_review=sent_to_review,
        reviewed=reviewed,
        corrected=corrected,
    )


def _as_date(value: date | datetime | str) -> date:
    if isinstance(value, str):  # SQLite's date()
        return date.fromisoformat(value)
    return value.date() if isinstance(value, datetime) else value
