"""Billing test helpers: leads through intake, proposals through services, Stripe events signed
with Stripe's own helper, the Stripe API answered at the HTTP transport by respx."""

from __future__ import annotations

import json
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import stripe
from django.test import TestCase
from django.utils import timezone

from billing.models import Proposal
from billing.services.proposals import LineData, proposal_create, proposal_mark_sent
from leads.services.intake import LeadData, lead_intake

FIXTURES = Path(__file__).parent / "fixtures"
WEBHOOK_SECRET = "whsec_test_billing_secret"
STRIPE_API = "https://api.stripe.com"


def make_lead(email: str = "ada@example.com", name: str = "Ada Lovelace"):
    return lead_intake(data=LeadData.build(name=name, email=email, company="Analytical Ltd"), source="test").lead


def make_proposal(
    lead=None, *, currency: str = "USD", deposit_percent: int | None = None, lines=None, **kw
) -> Proposal:
    lead = lead or make_lead()
    lines = lines or [
        LineData.build(description="Discovery workshop", quantity="1", unit_price_minor=50000),
        LineData.build(description="Build sprint", quantity="2", unit_price_minor=50000),
    ]
    return proposal_create(
        lead=lead,
        title=kw.pop("title", "Website rebuild"),
        currency=currency,
        valid_until=kw.pop("valid_until", timezone.now().date() + timedelta(days=30)),
        lines=lines,
        deposit_percent=deposit_percent,
        **kw,
    )


def move_lead_to(lead, stage: str) -> None:
    """Walk a test lead along the pipeline with the stage service (as the real events would)."""
    from leads.services.stages import lead_move_stage

    path = ["new", "booked", "call_done", "proposal_sent", "signed", "paid"]
    for step in path[1 : path.index(stage) + 1]:
        lead.refresh_from_db()
        if path.index(lead.stage) < path.index(step):
            lead_move_stage(lead=lead, to_stage=step, actor_label="test")


def sent_proposal(**kw: Any) -> Proposal:
    proposal = make_proposal(**kw)
    move_lead_to(proposal.lead, "call_done")
    proposal_mark_sent(proposal=proposal, via="test")
    proposal.refresh_from_db()
    return proposal


def signed_proposal(**kw: Any) -> Proposal:
    from billing.services.documents import content_sha256, proposal_document_html
    from billing.services.proposals import proposal_sign

    proposal = sent_proposal(**kw)
    proposal_sign(
        proposal=proposal,
        signer_name="Ada Lovelace",
        signer_email="ada@example.com",
        consent=True,
        shown_sha256=content_sha256(proposal_document_html(proposal=proposal)),
        ip_address="203.0.113.9",
        user_agent="pytest",
    )
    proposal.refresh_from_db()
    return proposal


def stripe_event(name: str, proposal: Proposal | None = None, **replace: str) -> str:
    text = (FIXTURES / f"{name}.json").read_text()
    if proposal is not None:
        text = text.replace("__PROPOSAL_ID__", str(proposal.pk)).replace(
            "__LEAD_PUBLIC_ID__", str(proposal.lead.public_id)
        )
    for old, new in replace.items():
        text = text.replace(old, new)
    return json.dumps(json.loads(text))


def sign(body: str, *, secret: str = WEBHOOK_SECRET, timestamp: int | None = None) -> str:
    return stripe.WebhookSignature.generate_signature_header(body, secret, timestamp=timestamp)


def post_event(client, body: str, header: str | None = None):
    """POST as Stripe would; the after-commit processing runs as it does outside a test transaction."""
    with TestCase.captureOnCommitCallbacks(execute=True):
        return client.post(
            "/webhooks/stripe/",
            data=body.encode(),
            content_type="application/json",
            headers={"Stripe-Signature": header if header is not None else sign(body)},
        )


def session_json(proposal: Proposal, **overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": "cs_test_a1B2c3D4",
        "object": "checkout.session",
        "amount_total": proposal.due_now_minor,
        "currency": proposal.currency.lower(),
        "client_reference_id": str(proposal.lead.public_id),
        "metadata": {"proposal_id": str(proposal.pk), "proposal_version": str(proposal.version)},
        "mode": "payment",
        "payment_intent": None,
        "payment_status": "unpaid",
        "status": "open",
        "expires_at": int(time.time()) + 86400,
        "url": "https://checkout.stripe.com/c/pay/cs_test_a1B2c3D4",
    }
    data.update(overrides)
    return data


@pytest.fixture
def webhook_secret(settings):
    settings.STRIPE_WEBHOOK_SECRET = WEBHOOK_SECRET
    return WEBHOOK_SECRET


@pytest.fixture
def stripe_enabled(settings):
    settings.STRIPE_API_KEY = "sk_test_clientsflow"
    settings.STRIPE_MAX_NETWORK_RETRIES = 0
    return settings


__all__ = ["Decimal"]
