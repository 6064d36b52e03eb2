import pytest

from clientsflow.errors import InvalidInput
from clientsflow.models import AuditEvent
from leads.models import Lead
from leads.services.owner_edits import lead_value_set

pytestmark = pytest.mark.django_db


def _lead() -> Lead:
    return Lead.objects.create(name="Jane Doe", email="jane@example.com", email_normalized="jane@example.com")


def test_a_proposal_total_sets_the_value_until_staff_edit_it():
    lead = _lead()
    assert lead_value_set(lead=lead, amount_minor=500_000, currency="usd", by_staff=False)
    lead.refresh_from_db()
    assert (lead.value_minor, lead.value_currency) == (500_000, "USD")
    assert lead_value_set(lead=lead, amount_minor=420_000, currency="USD", by_staff=True)
    assert not lead_value_set(lead=lead, amount_minor=900_000, currency="USD", by_staff=False)
    lead.refresh_from_db()
    assert lead.value_minor == 420_000 and "value" in lead.owner_edited_fields
    assert AuditEvent.objects.filter(verb="lead.value_set", object_id=str(lead.pk)).count() == 2


@pytest.mark.parametrize("amount,currency", [(-1, "USD"), (100, "dollars"), (100, "")])
def test_bad_values_are_refused_with_a_clear_error(amount, currency):
    with pytest.raises(InvalidInput):
        lead_value_set(lead=_lead(), amount_minor=amount, currency=currency, by_staff=True)


def test_clearing_the_value_clears_the_currency():
    lead = _lead()
    lead_value_set(lead=lead, amount_minor=100, currency="EUR", by_staff=True)
    lead_value_set(lead=lead, amount_minor=None, currency="", by_staff=True)
    lead.refresh_from_db()
    assert lead.value_minor is None and lead.value_currency == ""
