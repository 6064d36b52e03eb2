"""Revenue: money paid per month, the proposal pipeline, and a forecast.

Paid is Stripe payments marked paid in the range, less refunds. Proposals sent, signed and paid
count the proposals whose sent/signed/paid date falls in the range. The average deal is the
average total of the proposals paid in the range. The forecast looks at open proposals today
(sent, viewed or signed, not superseded): their total, and their total weighted by how likely
each status is to be paid (`STATUS_WEIGHTS`). Amounts are in minor units per currency.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from django.db.models import Avg, Case, Count, F, FloatField, Q, Sum, Value, When
from django.db.models.functions import TruncMonth

from billing.models import Payment, Proposal
from reports.periods import Period, owner_zone

# How likely an open proposal is to be paid, by status: the weighted pipeline.
STATUS_WEIGHTS = {Proposal.Status.SENT: 0.3, Proposal.Status.VIEWED: 0.4, Proposal.Status.SIGNED: 0.9}


@dataclass(frozen=True)
class RevenueReport:
    currencies: list[str]
    paid_by_month: dict[str, list[tuple[date, int]]]  # currency -> [(first of month, minor units)]
    proposals_sent: int
    proposals_signed: int
    proposals_paid: int
    average_deal: dict[str, float]
    open_total: dict[str, int]
    weighted_pipeline: dict[str, float]


def revenue_report(*, period: Period) -> RevenueReport:
    payments = Payment.objects.filter(
        status__in=[Payment.Status.PAID, Payment.Status.REFUNDED],
        paid_at__gte=period.start_at,
        paid_at__lt=period.end_at,
    )
    proposals = Proposal.objects.all()
    if period.source:
        payments = payments.filter(lead__source=period.source)
        proposals = proposals.filter(lead__source=period.source)
    monthly = (
        payments.annotate(month=TruncMonth("paid_at", tzinfo=owner_zone()))
        .values("currency", "month")
        .annotate(amount=Sum(F("amount_minor") - F("refunded_minor")))
        .order_by("currency", "month")
    )
    paid_by_month: dict[str, list[tuple[date, int]]] = {}
    for row in monthly:
        month = row["month"]
        paid_by_month.setdefault(row["currency"], []).append(
            (month.date() if hasattr(month, "date") else month, int(row["amount"]))
        )

    in_range = {"gte": period.start_at, "lt": period.end_at}
    counts = proposals.aggregate(
        sent=Count("id", filter=Q(sent_at__gte=in_range["gte"], sent_at__lt=in_range["lt"])),
        signed=Count("id", filter=Q(signed_at__gte=in_range["gte"], signed_at__lt=in_range["lt"])),
        paid=Count("id", filter=Q(paid_at__gte=in_range["gte"], paid_at__lt=in_range["lt"])),
    )
    is_open = Q(status__in=list(STATUS_WEIGHTS), superseded_by__isnull=True, revoked_at__isnull=True)
    paid_in_range = Q(paid_at__gte=in_range["gte"], paid_at__lt=in_range["lt"])
    weight = Case(
        *(When(status=status, then=Value(w)) for status, w in STATUS_WEIGHTS.items()),
        default=Value(0.0),
        output_field=FloatField(),
    )
    per_currency = (
        proposals.filter(is_open | paid_in_range)
        .values("currency")
        .annotate(
            average=Avg("total_minor", filter=paid_in_range),
            open_total=Sum("total_minor", filter=is_open),
            weighted=Sum(F("total_minor") * weight, filter=is_open, output_field=FloatField()),
        )
        .order_by("currency")
    )
    average_deal, open_total, weighted = {}, {}, {}
    for row in per_currency:
        if row["average"] is not None:
            average_deal[row["currency"]] = float(row["average"])
        open_total[row["currency"]] = int(row["open_total"] or 0)
        weighted[row["currency"]] = float(row["weighted"] or 0)
    return RevenueReport(
        currencies=sorted(set(paid_by_month) | set(open_total)),
        paid_by_month=paid_by_month,
        proposals_sent=counts["sent"],
        proposals_signed=counts["signed"],
        proposals_paid=counts["paid"],
        average_deal=average_deal,
        open_total=open_total,
        weighted_pipeline=weighted,
    )
