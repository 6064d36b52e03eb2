"""Classification: the eval loop's live signal.

Replies received in the range, per label (the reviewer's label when a person set one) per week
(weeks start on Monday in the owner's zone); the share the classifier sent to review; and how
often a reviewer changed the label (disagreement rate = corrected / reviewed).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from django.db.models import Count, DateField, F, Q, Value
from django.db.models.expressions import RawSQL
from django.db.models.functions import Coalesce, NullIf

from classify.models import Classification, Label
from outreach.models import InboundReply
from reports.periods import Period, owner_zone
from reports.selectors.sql import local_week_sql


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
    rows = Classification.objects.filter(reply__received_at__gte=period.start_at, reply__received_at__lt=period.end_at)
    if period.source:
        rows = rows.filter(reply__lead__source=period.source)
    column = f'"{InboundReply._meta.db_table}"."received_at"'
    week_sql, week_params = local_week_sql(column, start=period.start_at, end=period.end_at, zone=owner_zone())
    weekly = list(
        rows.annotate(
            week=RawSQL(week_sql, week_params, output_field=DateField()),  # noqa: S611 (constants; values are params)
            shown_label=Coalesce(NullIf("final_label", Value("")), F("label")),
        )
        .values("week", "shown_label")
        .annotate(n=Count("id"))
        .order_by("week")
    )
    was_reviewed = Q(reviewed_at__isnull=False)
    totals = rows.aggregate(
        total=Count("id"),
        sent_to_review=Count("id", filter=Q(needs_review=True) | ~Q(review_reason="")),
        reviewed=Count("id", filter=was_reviewed),
        corrected=Count("id", filter=was_reviewed & ~Q(final_label="") & ~Q(final_label=F("label"))),
    )
    labels = [label.value for label in Label]
    weeks = sorted({_as_date(row["week"]) for row in weekly})
    per_week = {label: [0] * len(weeks) for label in labels}
    index = {week: i for i, week in enumerate(weeks)}
    for row in weekly:  # labels x weeks grouped rows
        per_week.setdefault(row["shown_label"], [0] * len(weeks))[index[_as_date(row["week"])]] += row["n"]
    return ClassificationReport(
        labels=labels,
        weeks=weeks,
        per_week=per_week,
        total=totals["total"],
        sent_to_review=totals["sent_to_review"],
        reviewed=totals["reviewed"],
        corrected=totals["corrected"],
    )


def _as_date(value) -> date:
    return value.date() if hasattr(value, "date") else value
