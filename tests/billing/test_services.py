from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission, User
from django.core import mail
from django.utils import timezone

from billing.models import Proposal, Signature
from billing.services.documents import content_sha256, proposal_document_html
from billing.services.outbound_sync import proposal_outbound_sync, proposals_outbound_sync_due
from billing.services.proposals import (
    LineData,
    proposal_decline,
    proposal_mark_sent,
    proposal_record_view,
    proposal_revise,
    proposal_send,
    proposal_sign,
    proposals_expire_due,
)
from clientsflow.errors import DomainError, InvalidInput
from clientsflow.models import AuditEvent
from leads.models import LeadEvent, StageChange
from tests.billing.conftest import make_proposal, move_lead_to, sent_proposal, signed_proposal

pytestmark = pytest.mark.django_db


def approver() -> User:
    user = User.objects.create_user("approver", "approver@example.com", "pw", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="approve_outboundmessage"))
    return User.objects.get(pk=user.pk)


def _sign(proposal, **overrides):
    kwargs = {
        "proposal": proposal,
        "signer_name": "Ada Lovelace",
        "signer_email": "ada@example.com",
        "consent": True,
        "shown_sha256": content_sha256(proposal_document_html(proposal=proposal)),
        "ip_address": "203.0.113.9",
        "user_agent": "Mozilla/5.0 (iPhone)",
    }
    kwargs.update(overrides)
    return proposal_sign(**kwargs)


def test_totals_are_integer_minor_units_with_a_deposit():
    proposal = make_proposal(
        deposit_percent=33,
        lines=[
            LineData.build(description="Hours", quantity="1.5", unit_price_minor=3333),
            LineData.build(description="Setup", quantity="1", unit_price_minor=10000),
        ],
    )
    assert proposal.total_minor == 15000  # 4999.5 rounds to 5000, plus 10000
    assert proposal.due_now_minor == 4950 and proposal.balance_minor == 10050
    assert proposal.due_now_minor + proposal.balance_minor == proposal.total_minor
    assert proposal.due_now_display == "$49.50"


def test_jpy_proposal_has_no_decimals():
    proposal = make_proposal(
        currency="jpy",
        deposit_percent=33,
        lines=[LineData.build(description="Consulting", quantity="1", unit_price_minor=100000)],
    )
    assert proposal.currency == "JPY"
    assert proposal.amounts == (33000, 67000)
    html = proposal_document_html(proposal=proposal)
    assert "¥100,000" in html and "¥33,000" in html and "¥67,000" in html


def test_bad_lines_are_refused_before_anything_is_written():
    with pytest.raises(InvalidInput, match="description"):
        LineData.build(description="  ", quantity="1", unit_price_minor=1)
    with pytest.raises(InvalidInput, match="quantity"):
        LineData.build(description="x", quantity="-1", unit_price_minor=1)
    with pytest.raises(InvalidInput, match="currency code"):
        make_proposal(currency="dollars")
    assert Proposal.objects.count() == 0


def test_send_goes_through_the_outbound_gate_and_sent_only_when_the_email_left(settings):
    from outreach.models import OutboundMessage
    from outreach.services.review import outbound_approve
    from outreach.services.sending import outbound_send

    proposal = make_proposal()
    move_lead_to(proposal.lead, "call_done")
    message = proposal_send(proposal=proposal)
    proposal.refresh_from_db()
    assert message.kind == "proposal" and message.origin == f"proposal:{proposal.pk}:v1"
    assert message.status == OutboundMessage.Status.DRAFT
    assert "/p/" in message.body and "Website rebuild" in message.subject
    assert proposal.status == Proposal.Status.DRAFT and proposal.awaiting_approval
    assert proposal.display_status() == "Awaiting approval to send"
    assert proposal_outbound_sync(proposal=proposal) == "waiting"
    assert mail.outbox == []
    with pytest.raises(DomainError, match="waiting for its email"):
        proposal_send(proposal=proposal)

    user = approver()
    outbound_approve(message=message, actor=user, expected_hash=message.content_hash())
    result = outbound_send(message_id=message.pk, trigger="human", actor=user)
    assert result.outcome == "sent"
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["ada@example.com"]

    assert proposals_outbound_sync_due() == {"sent": 1}
    proposal.refresh_from_db()
    proposal.lead.refresh_from_db()
    assert proposal.status == Proposal.Status.SENT and proposal.sent_at is not None
    assert proposal.lead.stage == "proposal_sent"
    assert StageChange.objects.filter(lead=proposal.lead, to_stage="proposal_sent", actor_label="billing").exists()


def test_a_rejected_email_withdraws_the_send_request():
    from outreach.services.review import outbound_reject

    proposal = make_proposal()
    message = proposal_send(proposal=proposal)
    outbound_reject(message=message, actor=approver(), reason="Wrong price")
    assert proposal_outbound_sync(proposal=Proposal.objects.get(pk=proposal.pk)) == "withdrawn"
    proposal.refresh_from_db()
    assert proposal.status == Proposal.Status.DRAFT and not proposal.awaiting_approval
    assert AuditEvent.objects.filter(verb="proposal.send_withdrawn", object_id=str(proposal.pk)).exists()


def test_editing_a_sent_proposal_makes_a_new_version_and_replaces_the_old_link():
    v1 = sent_proposal()
    with pytest.raises(DomainError, match="already sent"):
        proposal_send(proposal=v1)
    v2 = proposal_revise(proposal=v1)
    assert (v2.family, v2.version, v2.status) == (v1.family, 2, Proposal.Status.DRAFT)
    assert [line.description for line in v2.lines.all()] == [line.description for line in v1.lines.all()]
    with pytest.raises(DomainError, match="Version 2 already exists"):
        proposal_revise(proposal=v1)
    v1.refresh_from_db()
    assert v1.revoked_at is None  # still valid until v2 goes out
    proposal_mark_sent(proposal=v2, via="test")
    v1.refresh_from_db()
    assert v1.superseded_by_id == v2.pk and v1.revoked_at is not None
    assert v1.display_status() == "Sent (replaced by v2)"


def test_signed_versions_are_immutable():
    proposal = signed_proposal()
    with pytest.raises(DomainError, match="signed proposal cannot be changed"):
        proposal_revise(proposal=proposal)
    with pytest.raises(DomainError, match="already signed"):
        _sign(proposal)
    assert Signature.objects.count() == 1


def test_view_is_recorded_once():
    proposal = sent_proposal()
    assert proposal_record_view(proposal=proposal) is True
    first = Proposal.objects.get(pk=proposal.pk).viewed_at
    assert proposal_record_view(proposal=Proposal.objects.get(pk=proposal.pk)) is False
    assert Proposal.objects.get(pk=proposal.pk).viewed_at == first
    assert (
        LeadEvent.objects.filter(lead=proposal.lead, label="Proposal", summary__startswith="Proposal viewed").count()
        == 1
    )


def test_signing_stores_the_record_and_the_hash_of_the_content_shown():
    proposal = sent_proposal()
    shown = proposal_document_html(proposal=proposal)
    signature = _sign(proposal, shown_sha256=content_sha256(shown))
    proposal.refresh_from_db()
    proposal.lead.refresh_from_db()
    assert proposal.status == Proposal.Status.SIGNED and proposal.signed_at == signature.signed_at
    assert signature.content == shown
    assert signature.content_sha256 == content_sha256(shown)
    assert (signature.signer_name, signature.signer_email, signature.ip_address) == (
        "Ada Lovelace",
        "ada@example.com",
        "203.0.113.9",
    )
    assert signature.user_agent == "Mozilla/5.0 (iPhone)"
    assert proposal.lead.stage == "signed"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"consent": False}, "Tick the box"),
        ({"signer_name": " "}, "full name"),
        ({"signer_email": "nope"}, "email address"),
        ({"shown_sha256": "0" * 64}, "changed since you opened it"),
    ],
)
def test_signing_refuses_incomplete_or_stale_input(overrides, message):
    proposal = sent_proposal()
    with pytest.raises(DomainError, match=message):
        _sign(proposal, **overrides)
    proposal.refresh_from_db()
    assert proposal.status == Proposal.Status.SENT and not Signature.objects.exists()


def test_expired_and_declined_proposals_cannot_be_signed():
    proposal = sent_proposal(valid_until=timezone.now().date() + timedelta(days=1))
    assert proposals_expire_due(today=timezone.now().date() + timedelta(days=5)) == 1
    proposal.refresh_from_db()
    assert proposal.status == Proposal.Status.EXPIRED
    with pytest.raises(DomainError, match="can no longer be signed"):
        _sign(proposal)
    other = sent_proposal(title="Other", lead=make_proposal().lead)
    proposal_decline(proposal=other, reason="Budget")
    with pytest.raises(DomainError):
        _sign(Proposal.objects.get(pk=other.pk))


def test_merging_a_duplicate_moves_its_proposals_and_payments():
    from billing.models import Payment
    from leads.services.merge import lead_merge

    proposal = signed_proposal()
    Payment.objects.create(
        proposal=proposal, lead=proposal.lead, checkout_session_id="cs_m", amount_minor=100, currency="USD"
    )
    from tests.billing.conftest import make_lead

    survivor = make_lead(email="ada.work@example.com", name="Ada L.")
    lead_merge(survivor=survivor, duplicate=proposal.lead)
    assert Proposal.objects.get(pk=proposal.pk).lead_id == survivor.pk
    assert Payment.objects.get(checkout_session_id="cs_m").lead_id == survivor.pk
