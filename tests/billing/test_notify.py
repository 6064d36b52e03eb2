"""The owner hears of a proposal opened and signed, a payment received and a payment failed: once each."""

from __future__ import annotations

import pytest
from django.core import mail

from billing.models import Proposal
from billing.services.proposals import proposal_record_view
from clientsflow.models import Notification
from tests.billing.conftest import post_event, sent_proposal, signed_proposal, stripe_event

pytestmark = pytest.mark.django_db


def owner_subjects() -> list[str]:
    return [m.subject for m in mail.outbox if m.to == ["owner@agency.example"]]


def test_opened_twice_notifies_once(owner_notifications, django_capture_on_commit_callbacks):
    proposal = sent_proposal()
    with django_capture_on_commit_callbacks(execute=True):
        proposal_record_view(proposal=proposal)
        proposal_record_view(proposal=Proposal.objects.get(pk=proposal.pk))
    assert owner_subjects() == ["Proposal opened: Ada Lovelace"]


def test_signed_notifies_once(owner_notifications, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        signed_proposal()
    assert owner_subjects() == ["Proposal signed: Ada Lovelace"]
    assert "$" in next(m for m in mail.outbox if m.to == ["owner@agency.example"]).body


def test_a_payment_event_replayed_notifies_once(owner_notifications, webhook_secret, client):
    proposal = signed_proposal()
    body = stripe_event("checkout.session.completed", proposal)
    for _ in range(2):
        assert post_event(client, body).status_code == 200
    assert [s for s in owner_subjects() if s.startswith("Payment")] == ["Payment received: $1,500.00 from Ada Lovelace"]
    assert Notification.objects.get(kind="payment_received").status == Notification.Status.SENT


def test_a_failed_payment_notifies_once(owner_notifications, webhook_secret, client):
    proposal = signed_proposal()
    post_event(client, stripe_event("checkout.session.completed.delayed", proposal))
    body = stripe_event("checkout.session.async_payment_failed", proposal)
    for _ in range(2):
        post_event(client, body)
    failed = [s for s in owner_subjects() if s.startswith("Payment failed")]
    assert failed == ["Payment failed: $1,500.00 from Ada Lovelace"]
