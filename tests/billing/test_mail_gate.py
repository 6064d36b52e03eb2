"""Proposal and receipt mail pass the one mail gate (SEND_ALLOWLIST, suppression), audited and shown."""

from __future__ import annotations

import httpx
import pytest
import respx
from django.core import mail
from django.test import Client

from billing.models import Payment, Proposal
from billing.services.links import proposal_link_token
from billing.services.outbound_sync import proposal_outbound_sync
from billing.services.proposals import proposal_send
from clientsflow.models import AuditEvent
from leads.models import LeadEvent
from outreach.services.review import outbound_approve
from outreach.services.sending import outbound_send
from outreach.services.suppression import suppression_add
from tests.billing.conftest import STRIPE_API, make_proposal, session_json, signed_proposal
from tests.billing.test_services import approver

pytestmark = pytest.mark.django_db


def gate_blocks(proposal_or_message) -> list[dict]:  # type: ignore[no-untyped-def,type-arg]
    return list(
        AuditEvent.objects.filter(verb="mail.blocked", object_id=str(proposal_or_message.pk)).values_list(
            "details", flat=True
        )
    )


@pytest.mark.parametrize("block", ["allowlist", "suppressed"])
def test_proposal_mail_to_a_blocked_address_is_not_sent_audited_and_shown(settings, block):
    if block == "allowlist":
        settings.SEND_ALLOWLIST = ["*@agency.example"]
    proposal = make_proposal()
    message = proposal_send(proposal=proposal)
    user = approver()
    outbound_approve(message=message, actor=user, expected_hash=message.content_hash())
    if block == "suppressed":
        # Unsubscribed after approval: suppression blocks the unsent message itself.
        suppression_add(email="ada@example.com", reason="unsubscribed", actor_label="test")
    else:
        result = outbound_send(message_id=message.pk, trigger="human", actor=user)
        assert result.outcome == "blocked" and result.reason == "allowlist"
        assert [d["purpose"] for d in gate_blocks(message)] == ["outbound:proposal"]
    assert mail.outbox == []
    assert proposal_outbound_sync(proposal=Proposal.objects.get(pk=proposal.pk)) == "withdrawn"
    proposal.refresh_from_db()
    assert proposal.status == Proposal.Status.DRAFT and not proposal.awaiting_approval
    shown = LeadEvent.objects.filter(lead=proposal.lead, summary__startswith="Proposal email not sent").get()
    assert ("SEND_ALLOWLIST" if block == "allowlist" else "suppression") in shown.summary


@respx.mock
def test_receipt_address_is_not_handed_to_stripe_when_the_gate_refuses_it(stripe_enabled):
    stripe_enabled.SEND_ALLOWLIST = ["*@agency.example"]
    proposal = signed_proposal()
    route = respx.post(f"{STRIPE_API}/v1/checkout/sessions").mock(
        return_value=httpx.Response(200, json=session_json(proposal))
    )
    response = Client().post(f"/p/{proposal_link_token(proposal=proposal)}/pay/")
    assert response.status_code == 302 and Payment.objects.count() == 1  # the payment still goes ahead
    form = dict(httpx.QueryParams(route.calls.last.request.content.decode()))
    assert "customer_email" not in form
    [details] = gate_blocks(proposal)
    assert details["purpose"] == "billing:receipt" and details["reason"] == "allowlist"


@respx.mock
def test_receipt_address_is_handed_to_stripe_when_allowed(stripe_enabled):
    stripe_enabled.SEND_ALLOWLIST = ["*@example.com"]
    proposal = signed_proposal()
    route = respx.post(f"{STRIPE_API}/v1/checkout/sessions").mock(
        return_value=httpx.Response(200, json=session_json(proposal))
    )
    assert Client().post(f"/p/{proposal_link_token(proposal=proposal)}/pay/").status_code == 302
    form = dict(httpx.QueryParams(route.calls.last.request.content.decode()))
    assert form["customer_email"] == "ada@example.com"
    assert gate_blocks(proposal) == []
