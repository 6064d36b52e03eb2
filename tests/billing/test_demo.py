import pytest
from django.core.management import call_command

from billing.models import Payment, Proposal, Signature
from billing.services.documents import content_sha256

pytestmark = pytest.mark.django_db


def test_seed_demo_creates_proposals_and_payments_in_every_state():
    call_command("seed_demo", leads=120, seed=3, verbosity=0)
    assert set(Proposal.objects.values_list("status", flat=True)) == set(Proposal.Status.values)
    assert set(Payment.objects.values_list("status", flat=True)) == set(Payment.Status.values)
    for proposal in Proposal.objects.filter(status__in=["signed", "paid"]):
        assert proposal.signature.content_sha256 == content_sha256(proposal.signature.content)
    assert Signature.objects.count() == Proposal.objects.filter(status__in=["signed", "paid"]).count()
    for proposal in Proposal.objects.filter(status="paid").select_related("lead"):
        assert proposal.lead.stage == "paid"
    for payment in Payment.objects.exclude(status=Payment.Status.REVIEW):
        assert payment.amount_minor == payment.proposal.due_now_minor
    for payment in Payment.objects.filter(status=Payment.Status.REVIEW):
        assert payment.amount_minor != payment.proposal.due_now_minor and payment.review_reason
