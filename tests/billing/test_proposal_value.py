"""A sent proposal sets the deal's value; a person's later (or earlier) edit wins."""

import pytest

from billing.services.proposals import proposal_mark_sent
from leads.services.owner_edits import lead_value_set
from tests.billing.conftest import make_proposal

pytestmark = pytest.mark.django_db


def test_sending_a_proposal_sets_the_value_and_a_later_staff_edit_wins():
    proposal = make_proposal(currency="EUR")  # 500.00 + 2 x 500.00
    lead = proposal.lead
    assert proposal_mark_sent(proposal=proposal, via="test")
    lead.refresh_from_db()
    assert (lead.value_minor, lead.value_currency) == (150_000, "EUR")

    assert lead_value_set(lead=lead, amount_minor=120_000, currency="EUR", by_staff=True)
    revised = make_proposal(lead=lead, currency="EUR", title="Bigger scope")
    proposal_mark_sent(proposal=revised, via="test")
    lead.refresh_from_db()
    assert lead.value_minor == 120_000


def test_a_staff_value_set_before_the_proposal_is_sent_is_kept():
    proposal = make_proposal()
    lead = proposal.lead
    lead_value_set(lead=lead, amount_minor=99_900, currency="USD", by_staff=True)
    proposal_mark_sent(proposal=proposal, via="test")
    lead.refresh_from_db()
    assert (lead.value_minor, lead.value_currency) == (99_900, "USD")
