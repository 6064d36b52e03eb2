"""Billing's periodic work, run by the dispatcher."""

from __future__ import annotations

from datetime import time

from billing.services.outbound_sync import proposals_outbound_sync_due
from billing.services.proposals import proposals_expire_due
from billing.services.reconcile import payments_reconcile
from clientsflow.dispatcher import DailyAt, Every, job


@job(
    "stripe_reconcile",
    DailyAt(time(6, 30)),
    "Compare recent Stripe Checkout Sessions with our payments; fix and audit.",
)
def stripe_reconcile() -> dict[str, int | str]:
    return payments_reconcile()


@job("proposal_outbound_sync", Every(minutes=2), "Mark proposals sent once their email left the outbound gate.")
def proposal_outbound_sync() -> dict[str, int]:
    return proposals_outbound_sync_due()


@job("proposal_expire", DailyAt(time(0, 15)), "Sent proposals past their valid-until date become expired.")
def proposal_expire() -> dict[str, int]:
    return {"expired": proposals_expire_due()}
