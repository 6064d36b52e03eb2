"""Stripe Checkout for a signed proposal, and applying what Stripe tells us to `Payment` rows.

State is taken from the Checkout Session as Stripe has it now (fetched back when Stripe is
enabled) or, in local mode, from the object inside the event; never from arrival order. A paid
or refunded payment never goes back to pending or failed, so events arriving late or twice
change nothing.
"""

from __future__ import annotations

import logging
import uuid
from datetime import UTC, datetime
from typing import Any

from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from billing import money
from billing.clients import stripe as stripe_client
from billing.models import BillingEventKind, Payment, Proposal
from clientsflow.audit import audit_record
from clientsflow.cache import board_version_bump
from clientsflow.errors import DomainError
from clientsflow.notify import owner_notify
from clientsflow.site import public_base_url
from leads.models import Lead, Stage
from leads.services.stages import lead_advance_stage
from leads.services.timeline import timeline_record
from outreach.services.gate import mail_gate_check

logger = logging.getLogger(__name__)

S = Payment.Status
FINAL = frozenset({S.PAID, S.REFUNDED, S.REVIEW})
RANK: dict[str, int] = {S.OPEN: 0, S.PENDING: 1, S.EXPIRED: 2, S.FAILED: 2, S.PAID: 3, S.REVIEW: 3, S.REFUNDED: 4}


class PaymentsUnavailable(DomainError):
    pass


def checkout_idempotency_key(*, proposal: Proposal, attempt: int) -> str:
    """One key per proposal version (and per fresh attempt after a failed or expired checkout)."""
    return f"clientsflow-proposal-{proposal.pk}-v{proposal.version}-checkout-{attempt}"


def payment_checkout_start(*, proposal: Proposal, success_url: str, cancel_url: str) -> str:
    """The Stripe Checkout URL for paying what is due now on a signed proposal.

    A checkout still open for this version is reused; otherwise a new session is created with an
    idempotency key per version and attempt, so a double click never makes two sessions.
    """
    if proposal.status == Proposal.Status.PAID:
        raise DomainError("This proposal is already paid. Thank you!")
    if proposal.status != Proposal.Status.SIGNED:
        raise DomainError("Sign the proposal first; the payment button appears after signing.")
    if Payment.objects.filter(proposal=proposal, status=S.PENDING).exists():
        raise DomainError("Your payment is being processed by your bank; there is nothing more to do.")
    if not stripe_client.enabled():
        raise PaymentsUnavailable(
            "Online payment is not set up yet. Nothing was charged: reply to the proposal email and we will "
            "send payment details."
        )
    now = timezone.now()
    reusable = (
        Payment.objects.filter(proposal=proposal, status=S.OPEN, expires_at__gt=now)
        .exclude(checkout_url="")
        .order_by("-created_at")
        .first()
    )
    if reusable is not None:
        return reusable.checkout_url
    attempt = Payment.objects.filter(proposal=proposal).count() + 1
    lead = proposal.lead
    # Stripe mails its receipt to the checkout's customer email: only an address the mail gate
    # allows is handed over (otherwise the payer types their own on Stripe's page).
    receipt_to = lead.email
    if not mail_gate_check(to=lead.email, purpose="billing:receipt", obj=proposal, lead_id=lead.pk).allowed:
        receipt_to = ""
    try:
        session = stripe_client.checkout_session_create(
            stripe_client.CheckoutRequest(
                proposal_id=proposal.pk,
                proposal_version=proposal.version,
                lead_public_id=str(lead.public_id),
                amount_minor=proposal.due_now_minor,
                currency=proposal.currency,
                description=(f"Deposit: {proposal.title}" if proposal.balance_minor else proposal.title),
                customer_email=receipt_to,
                success_url=success_url,
                cancel_url=cancel_url,
                idempotency_key=checkout_idempotency_key(proposal=proposal, attempt=attempt),
            )
        )
    except stripe_client.StripeClientError as exc:
        raise PaymentsUnavailable(
            "We could not open the payment page just now. Nothing was charged: try again in a minute."
        ) from exc
    with transaction.atomic():
        payment, created = Payment.objects.get_or_create(
            checkout_session_id=session["id"],
            defaults={
                "proposal": proposal,
                "lead": lead,
                "checkout_url": session.get("url") or "",
                "amount_minor": session.get("amount_total") or proposal.due_now_minor,
                "currency": (session.get("currency") or proposal.currency).upper(),
                "expires_at": _ts(session.get("expires_at")),
                "payment_intent_id": _id(session.get("payment_intent")),
                "customer_id": _id(session.get("customer")),
            },
        )
        if created:
            audit_record(
                verb="payment.checkout_created",
                obj=payment,
                actor_label="lead",
                details={"proposal_id": proposal.pk, "session_id": payment.checkout_session_id},
            )
    return payment.checkout_url or session.get("url") or ""


def _ts(value: Any) -> datetime | None:
    return datetime.fromtimestamp(int(value), tz=UTC) if value else None


def _id(value: Any) -> str:
    if isinstance(value, dict):
        return str(value.get("id") or "")
    return str(value or "")


def session_status(session: dict[str, Any], *, hint: str = "") -> str:
    """Our status for a Checkout Session. `hint` is 'failed' for async_payment_failed events,
    which is the only way to tell failure from processing when the PaymentIntent is not expanded."""
    payment_status = session.get("payment_status")
    if payment_status in ("paid", "no_payment_required"):
        return S.PAID
    if session.get("status") == "expired":
        return S.EXPIRED
    if session.get("status") == "complete":
        intent = session.get("payment_intent")
        if isinstance(intent, dict):
            if intent.get("status") == "succeeded":
                return S.PAID
            if intent.get("status") in ("requires_payment_method", "canceled"):
                return S.FAILED
            return S.PENDING
        return S.FAILED if hint == "failed" else S.PENDING
    return S.OPEN


def _should_apply(current: str, new: str, *, authoritative: bool) -> bool:
    if new == current:
        return False
    if current in FINAL:
        return False  # money in is final here; refunds are recorded by amount
    if authoritative:
        return True
    return RANK[new] > RANK[current]


def _lead_for_session(session: dict[str, Any]) -> Lead | None:
    """Our lead named by the session's client_reference_id (a random UUID, so a match is ours)."""
    try:
        public_id = uuid.UUID(str(session.get("client_reference_id") or ""))
    except ValueError:
        return None
    return Lead.objects.filter(public_id=public_id).first()


def _payment_for_session(session: dict[str, Any], *, money_moved: bool) -> Payment | None:
    """Our Payment for the session, created when a session we did not record is ours.

    A session that names none of our leads is another product's on the same Stripe account.
    One that names our lead but not that lead's proposal is recorded only once money moved
    (for review); without money there is nothing to record.
    """
    payment = Payment.objects.select_for_update().filter(checkout_session_id=session["id"]).first()
    if payment is not None:
        return payment
    lead = _lead_for_session(session)
    if lead is None:
        return None
    proposal = Proposal.objects.filter(pk=_proposal_id(session), lead=lead).first()
    if proposal is None and not money_moved:
        return None
    payment, _ = Payment.objects.get_or_create(
        checkout_session_id=session["id"],
        defaults={
            "proposal": proposal,
            "lead": lead,
            "amount_minor": _session_amount(session, proposal),
            "currency": _session_currency(session, proposal),
            "checkout_url": session.get("url") or "",
            "expires_at": _ts(session.get("expires_at")),
            "review_reason": "" if proposal else _unknown_proposal(session),
        },
    )
    return Payment.objects.select_for_update().get(pk=payment.pk)


def _proposal_id(session: dict[str, Any]) -> int:
    try:
        return int((session.get("metadata") or {}).get("proposal_id") or 0)
    except (TypeError, ValueError, AttributeError):
        return 0


def _unknown_proposal(session: dict[str, Any]) -> str:
    named = (session.get("metadata") or {}).get("proposal_id") if isinstance(session.get("metadata"), dict) else None
    if not named:
        return "The checkout names no proposal."
    return f"The checkout names proposal #{str(named)[:20]}, which is not one of this lead's proposals."


def _session_amount(session: dict[str, Any], proposal: Proposal | None) -> int:
    amount = session.get("amount_total")
    if isinstance(amount, int) and amount >= 0:
        return amount
    return proposal.due_now_minor if proposal else 0


def _session_currency(session: dict[str, Any], proposal: Proposal | None) -> str:
    currency = str(session.get("currency") or "").upper()[:3]
    return currency or (proposal.currency if proposal else "")


def payment_mismatch(*, payment: Payment, amount_minor: int | None, currency: str) -> str:
    """Why this money cannot be applied to the payment's proposal as it stands now, or "".

    Payable: a signed proposal, for what is due on signing (the deposit, or the whole total);
    a paid proposal with a balance still open, for exactly the balance. Call holding the lock.
    """
    proposal = (
        Proposal.objects.select_for_update().filter(pk=payment.proposal_id).first() if payment.proposal_id else None
    )
    if proposal is None:
        return payment.review_reason or "The checkout names no proposal."
    currency = (currency or "").upper()
    paid = money.format_money(amount_minor, currency) if amount_minor is not None else "an unknown amount"
    if currency != proposal.currency.upper():
        return f"Paid {paid} in {currency or 'an unknown currency'}; the proposal asked for {proposal.currency}."
    if proposal.status == Proposal.Status.SIGNED:
        due, what = proposal.due_now_minor, ("the deposit" if proposal.balance_minor else "the total")
    elif proposal.status == Proposal.Status.PAID:
        others = Payment.objects.filter(proposal=proposal, status__in=[S.PAID, S.REFUNDED]).exclude(pk=payment.pk)
        received = sum(p.amount_minor for p in others)
        if not proposal.balance_minor or received >= proposal.total_minor:
            return f"Paid {paid}, but the proposal is already paid: nothing was due."
        due, what = proposal.balance_minor, "the balance"
    else:
        return f"Paid {paid}, but the proposal is {proposal.get_status_display().lower()}, not signed: nothing was due."
    if amount_minor != due:
        return f"Paid {paid}; the proposal asked for {proposal.money(due)} ({what})."
    return ""


@transaction.atomic
def payment_apply_session(
    *, session: dict[str, Any], authoritative: bool, source: str, hint: str = ""
) -> tuple[Payment | None, bool]:
    """Bring our Payment in line with a Checkout Session. Returns (payment, changed).

    Money (paid, or processing by a delayed method) that is not what the proposal asked for now
    puts the payment in review instead; review is final here, like paid.
    """
    new = session_status(session, hint=hint)
    money_moved = new in (S.PAID, S.PENDING)
    payment = _payment_for_session(session, money_moved=money_moved)
    if payment is None:
        return None, False
    intent = session.get("payment_intent")
    ids = {"payment_intent_id": _id(intent), "customer_id": _id(session.get("customer"))}
    changed_ids = [name for name, value in ids.items() if value and getattr(payment, name) != value]
    if changed_ids:
        for name in changed_ids:
            setattr(payment, name, ids[name])
        payment.save(update_fields=[*changed_ids, "updated_at"])
    current = payment.status
    if not _should_apply(current, new, authoritative=authoritative):
        return payment, False
    if money_moved:
        amount = session.get("amount_total")
        reason = payment_mismatch(
            payment=payment,
            amount_minor=amount if isinstance(amount, int) else None,
            currency=str(session.get("currency") or ""),
        )
        if reason:
            _review(payment, session, reason=reason, source=source)
            return payment, True
    if new == S.PAID and session.get("amount_total") is not None:
        payment.amount_minor = int(session["amount_total"])
        payment.currency = str(session.get("currency") or payment.currency).upper()
    failure = ""
    if new == S.FAILED and isinstance(intent, dict):
        failure = ((intent.get("last_payment_error") or {}).get("message") or "")[:500]
    _transition(payment, new, source=source, failure=failure)
    return payment, True


def _review(payment: Payment, session: dict[str, Any], *, reason: str, source: str) -> None:
    """Keep money that does not match as a payment needing review: no proposal or stage change."""
    old = payment.status
    payment.status = S.REVIEW
    payment.review_reason = reason[:500]
    amount = session.get("amount_total")
    if isinstance(amount, int) and amount >= 0:  # keep what was actually paid, not what was asked
        payment.amount_minor = amount
    payment.currency = _session_currency(session, None) or payment.currency
    payment.last_event_id = source[:255]
    payment.save(update_fields=["status", "review_reason", "amount_minor", "currency", "last_event_id", "updated_at"])
    timeline_record(
        lead=payment.lead,
        kind=BillingEventKind.PAYMENT,
        summary=f"Payment needs review: {payment.amount_display}. {reason}",
        data={"payment_id": payment.pk},
    )
    audit_record(
        verb="payment.review",
        obj=payment,
        actor_label="stripe",
        details={"from": old, "to": S.REVIEW, "source": source[:255], "reason": payment.review_reason},
    )
    board_version_bump()
    logger.warning("payment.needs_review", extra={"payment_id": payment.pk, "from": old})
    _notify_review(payment)


def _notify_review(payment: Payment) -> None:
    """Tell the owner (email and/or Slack, per settings). The needs-you panel shows it regardless."""
    about = f" for {payment.proposal}" if payment.proposal_id else ""
    owner_notify(
        kind="payment_failed",
        key=f"payment_review:{payment.pk}",
        subject=f"A Stripe payment needs review: {payment.amount_display} from {payment.lead.name or 'a lead'}",
        text=(
            f"{payment.amount_display} from {payment.lead.name or 'a lead'}{about}. {payment.review_reason}\n"
            "It was not marked paid. Check it in Stripe (refund or keep), then mark it reviewed: "
            f"{public_base_url()}/admin/billing/payment/{payment.pk}/change/"
        ),
    )


def _notify_status(payment: Payment, proposal: Proposal, *, source: str, amount: str) -> None:
    lead = proposal.lead
    link = reverse("board:lead-detail", args=[lead.public_id])
    if payment.status == S.PAID:
        owner_notify(
            kind="payment_received",
            key=f"payment_received:{payment.pk}",
            subject=f"Payment received: {amount} from {lead.name or lead.email}",
            text=f"{lead.name or lead.email} paid {amount} for {proposal}.",
            link=link,
        )
    elif payment.status == S.FAILED:
        owner_notify(
            kind="payment_failed",
            key=f"payment_failed:{payment.pk}:{source}"[:200],
            subject=f"Payment failed: {amount} from {lead.name or lead.email}",
            text=f"A payment of {amount} for {proposal} did not go through: {payment.failure_message}",
            link=link,
        )


@transaction.atomic
def payment_review_resolve(*, payment: Payment, actor: Any) -> Payment:
    """A person settled a payment needing review in Stripe; it leaves the "needs you" list."""
    payment = Payment.objects.select_for_update().get(pk=payment.pk)
    if payment.status != S.REVIEW:
        raise DomainError("Only a payment needing review can be marked reviewed.")
    if payment.reviewed_at is not None:
        return payment
    payment.reviewed_at = timezone.now()
    payment.reviewed_by = actor
    payment.save(update_fields=["reviewed_at", "reviewed_by", "updated_at"])
    audit_record(verb="payment.review_resolved", obj=payment, actor=actor, details={"reason": payment.review_reason})
    board_version_bump()
    return payment


def _transition(payment: Payment, new: str, *, source: str, failure: str = "") -> None:
    """Record a status change and its effects (proposal, lead, timeline, audit, board)."""
    old = payment.status
    now = timezone.now()
    payment.status = new
    fields = ["status", "updated_at", "last_event_id"]
    payment.last_event_id = source[:255]
    if new == S.PAID:
        payment.paid_at = payment.paid_at or now
        fields += ["paid_at", "amount_minor", "currency"]
    if new == S.FAILED:
        payment.failed_at = now
        payment.failure_message = failure or payment.failure_message or "The payment did not go through."
        fields += ["failed_at", "failure_message"]
    payment.save(update_fields=fields)
    if payment.proposal_id is None:  # only a payment needing review lacks one, and review is final
        raise DomainError("A payment that names no proposal cannot change status.")
    proposal = Proposal.objects.select_for_update().select_related("lead").get(pk=payment.proposal_id)
    lead = proposal.lead
    amount = money.format_money(payment.amount_minor, payment.currency)
    if new == S.PAID:
        if proposal.status == Proposal.Status.SIGNED:
            proposal.status = Proposal.Status.PAID
            proposal.paid_at = payment.paid_at
            proposal.save(update_fields=["status", "paid_at", "updated_at"])
        lead_advance_stage(lead=lead, to_stage=Stage.PAID, actor_label="stripe", reason=f"Payment of {amount} received")
        timeline_record(
            lead=lead,
            kind=BillingEventKind.PAYMENT,
            summary=f"Payment received: {amount} for {proposal}",
            data={"payment_id": payment.pk},
        )
    elif new == S.FAILED:
        timeline_record(
            lead=lead,
            kind=BillingEventKind.PAYMENT,
            summary=f"Payment failed: {amount} for {proposal}",
            data={"payment_id": payment.pk},
        )
    elif new == S.PENDING:
        timeline_record(
            lead=lead,
            kind=BillingEventKind.PAYMENT,
            summary=f"Payment processing: {amount} for {proposal}",
            data={"payment_id": payment.pk},
        )
    audit_record(
        verb=f"payment.{new}",
        obj=payment,
        actor_label="stripe",
        details={"from": old, "to": new, "source": source[:255], "amount_minor": payment.amount_minor},
    )
    board_version_bump()
    _notify_status(payment, proposal, source=source, amount=amount)
    logger.info("payment.status", extra={"payment_id": payment.pk, "from": old, "to": new})


@transaction.atomic
def payment_apply_intent_failed(*, intent: dict[str, Any], source: str) -> tuple[Payment | None, bool]:
    """A PaymentIntent attempt failed (card declined, debit bounced). Paid payments stay paid."""
    payment = Payment.objects.select_for_update().filter(payment_intent_id=intent["id"]).first()
    if payment is None:
        metadata = intent.get("metadata") or {}
        try:
            proposal_id = int(metadata.get("proposal_id") or 0)
        except (TypeError, ValueError):
            proposal_id = 0
        payment = (
            Payment.objects.select_for_update()
            .filter(proposal_id=proposal_id, status__in=[S.OPEN, S.PENDING], payment_intent_id="")
            .order_by("-created_at")
            .first()
        )
        if payment is None:
            return None, False
        payment.payment_intent_id = intent["id"]
        payment.save(update_fields=["payment_intent_id", "updated_at"])
    if payment.status in FINAL or payment.status == S.FAILED:
        return payment, False
    failure = ((intent.get("last_payment_error") or {}).get("message") or "")[:500]
    _transition(payment, S.FAILED, source=source, failure=failure)
    return payment, True


@transaction.atomic
def payment_apply_refund(*, charge: dict[str, Any], source: str) -> tuple[Payment | None, bool]:
    """Record the refunded amount (cumulative on the charge, so the largest figure wins)."""
    payment = Payment.objects.select_for_update().filter(payment_intent_id=_id(charge.get("payment_intent"))).first()
    if payment is None:
        return None, False
    refunded = int(charge.get("amount_refunded") or 0)
    if refunded <= payment.refunded_minor:
        return payment, False
    old = payment.status
    payment.refunded_minor = min(refunded, payment.amount_minor) if payment.amount_minor else refunded
    payment.refunded_at = timezone.now()
    payment.last_event_id = source[:255]
    if charge.get("refunded") or payment.refunded_minor >= payment.amount_minor:
        payment.status = S.REFUNDED
    payment.save(update_fields=["refunded_minor", "refunded_at", "status", "last_event_id", "updated_at"])
    amount = money.format_money(payment.refunded_minor, payment.currency)
    timeline_record(
        lead=payment.lead,
        kind=BillingEventKind.PAYMENT,
        summary=f"Refunded: {amount} of {payment.amount_display}",
        data={"payment_id": payment.pk},
    )
    audit_record(
        verb="payment.refunded",
        obj=payment,
        actor_label="stripe",
        details={"from": old, "to": payment.status, "refunded_minor": payment.refunded_minor, "source": source[:255]},
    )
    board_version_bump()
    return payment, True
