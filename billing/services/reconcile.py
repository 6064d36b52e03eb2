"""Daily reconciliation: what Stripe says about recent Checkout Sessions wins over what we have.

A webhook can be lost (endpoint down longer than Stripe retries, secret rotated wrongly). This
lists recent sessions (bounded), applies each as authoritative state, and also asks Stripe about
our own open or processing payments that the listing did not cover. Every fix is audited.
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.utils import timezone

from billing.clients import stripe as stripe_client
from billing.models import Payment
from billing.services.payments import payment_apply_session
from clientsflow.audit import audit_record

logger = logging.getLogger(__name__)


def payments_reconcile() -> dict[str, Any]:
    if not stripe_client.enabled():
        return {"skipped": "Stripe is not configured (STRIPE_API_KEY empty)"}
    days = settings.STRIPE_RECONCILE_DAYS
    since = int(time.time()) - days * 86400
    sessions = stripe_client.checkout_sessions_recent(
        created_since=since, max_sessions=settings.STRIPE_RECONCILE_MAX_SESSIONS
    )
    seen: set[str] = set()
    counts = {"listed": len(sessions), "ours": 0, "fixed": 0, "checked_individually": 0}
    for session in sessions:
        seen.add(session["id"])
        counts["fixed"] += _apply(session, counts)
    stale = Payment.objects.filter(
        status__in=[Payment.Status.OPEN, Payment.Status.PENDING],
        created_at__gte=timezone.now() - timedelta(days=days * 10),
    ).exclude(checkout_session_id__in=seen)[:100]
    for payment in stale:
        counts["checked_individually"] += 1
        counts["fixed"] += _apply(stripe_client.checkout_session_retrieve(payment.checkout_session_id), counts)
    logger.info("stripe.reconciled", extra=counts)
    return counts


def _apply(session: dict, counts: dict[str, int]) -> int:
    before = Payment.objects.filter(checkout_session_id=session["id"]).values_list("status", flat=True).first()
    payment, changed = payment_apply_session(session=session, authoritative=True, source="reconciliation")
    if payment is None:
        return 0
    counts["ours"] += 1
    if not changed and before is not None:
        return 0
    audit_record(
        verb="payment.reconciled",
        obj=payment,
        actor_label="job:stripe_reconcile",
        details={"session_id": session["id"], "from": before or "missing", "to": payment.status},
    )
    return 1
