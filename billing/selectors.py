"""Reads of billing for the owner's board: failed payments and payments needing review need the
owner; badges say where money stands."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db.models import F, QuerySet, Sum

from billing.models import Payment, Proposal
from clientsflow.compiled import compiled_select
from leads.cards import Badge


def failed_payments_count() -> int:
    return Payment.objects.filter(status=Payment.Status.FAILED).exclude(proposal__status=Proposal.Status.PAID).count()


def payments_needing_review_count() -> int:
    return Payment.objects.filter(status=Payment.Status.REVIEW, reviewed_at__isnull=True).count()


BADGES: dict[str, Badge] = {
    Payment.Status.REVIEW: Badge(
        "Payment needs review", "danger", "Money arrived that does not match the proposal; it was not marked paid."
    ),
    Payment.Status.FAILED: Badge("Payment failed", "danger", "The lead's last payment did not go through."),
    Payment.Status.PENDING: Badge("Payment processing", "info", "A delayed payment method is clearing."),
    Payment.Status.REFUNDED: Badge("Refunded", "warn", "A payment was refunded."),
}


def payment_badges(lead_ids: list[int]) -> dict[int, list[Badge]]:
    """One query: the payment statuses worth a badge, per lead, skipping leads already paid up."""
    rows = (
        Payment.objects.filter(lead_id__in=lead_ids, status__in=list(BADGES))
        .exclude(status=Payment.Status.FAILED, proposal__status=Proposal.Status.PAID)
        .exclude(status=Payment.Status.REVIEW, reviewed_at__isnull=False)
        .values_list("lead_id", "status")
        .distinct()
    )
    result: dict[int, list[Badge]] = {}
    for lead_id, status in rows:
        badge = BADGES[status]
        if badge not in result.setdefault(lead_id, []):
            result[lead_id].append(badge)
    return result


def payments_received_between(*, start: datetime, end: datetime) -> dict[str, int]:
    """Money received with `start <= paid_at < end`, less refunds, in minor units per currency:
    the payments Stripe marked paid (and those later refunded, net of the refund). One query."""

    def build(values: dict[str, Any]) -> QuerySet[Payment, tuple[str, int | None]]:
        return (
            Payment.objects.filter(
                status__in=[Payment.Status.PAID, Payment.Status.REFUNDED],
                paid_at__gte=values["start"],
                paid_at__lt=values["end"],
            )
            .order_by()
            .values_list("currency")
            .annotate(amount=Sum(F("amount_minor") - F("refunded_minor")))
        )

    # Read on every board render after a change: built and compiled once (`compiled_select`).
    rows = compiled_select("payments_received_between", build, {"start": start, "end": end})
    return {currency: int(amount or 0) for currency, amount in rows if amount}
