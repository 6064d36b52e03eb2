import pytest

from billing.models import Payment, Proposal
from clientsflow.display import owner_time
from clientsflow.models import AuditEvent
from leads.models import Lead
from outreach.models import OutboundMessage
from tests.billing.conftest import make_lead, sent_proposal, signed_proposal

pytestmark = pytest.mark.django_db


def _add_form(lead, currency="USD", price="1250.50"):
    return {
        "lead": lead.pk,
        "title": "Rebrand",
        "introduction": "",
        "terms": "",
        "currency": currency,
        "deposit_percent": "50",
        "valid_until": "2099-01-01",
        "lines-TOTAL_FORMS": "1",
        "lines-INITIAL_FORMS": "0",
        "lines-MIN_NUM_FORMS": "0",
        "lines-MAX_NUM_FORMS": "1000",
        "lines-0-position": "0",
        "lines-0-description": "Logo and guidelines",
        "lines-0-quantity": "2",
        "lines-0-unit_price": price,
        "signature-TOTAL_FORMS": "0",
        "signature-INITIAL_FORMS": "0",
        "payments-TOTAL_FORMS": "0",
        "payments-INITIAL_FORMS": "0",
    }


def test_owner_creates_a_proposal_with_prices_in_major_units(admin_client):
    lead = make_lead()
    response = admin_client.post("/admin/billing/proposal/add/", _add_form(lead))
    assert response.status_code == 302, response.content.decode()[:2000]
    proposal = Proposal.objects.get()
    assert proposal.lines.get().unit_price_minor == 125050
    assert proposal.total_minor == 250100 and proposal.amounts == (125050, 125050)


def test_a_proposal_added_in_the_admin_is_made_by_the_service(admin_client, admin_user):
    lead = make_lead()
    response = admin_client.post("/admin/billing/proposal/add/", _add_form(lead, currency="eur"))
    assert response.status_code == 302, response.content.decode()[:2000]
    proposal = Proposal.objects.get()
    assert proposal.currency == "EUR" and proposal.created_by == admin_user and proposal.deposit_percent == 50
    assert AuditEvent.objects.filter(verb="proposal.created", object_id=str(proposal.pk)).count() == 1


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"currency": "US"}, "is not a currency code"),
        ({"merged": True}, "This lead was merged into another"),
    ],
)
def test_what_the_service_refuses_is_shown_on_the_add_form(admin_client, change, error):
    lead = make_lead()
    if change.pop("merged", False):
        survivor = make_lead(email="grace@example.com", name="Grace Hopper")
        Lead.objects.filter(pk=lead.pk).update(merged_into=survivor)
    response = admin_client.post("/admin/billing/proposal/add/", {**_add_form(lead), **change})
    assert response.status_code == 200
    assert error in response.content.decode()
    assert not Proposal.objects.exists()


def test_jpy_prices_with_decimals_are_refused_in_the_form(admin_client):
    lead = make_lead()
    response = admin_client.post("/admin/billing/proposal/add/", _add_form(lead, currency="JPY", price="100.5"))
    assert response.status_code == 200
    assert "JPY amounts have no decimals" in response.content.decode()
    assert not Proposal.objects.exists()


def test_send_action_queues_an_outbound_draft_not_an_email(admin_client, mailoutbox):
    lead = make_lead()
    admin_client.post("/admin/billing/proposal/add/", _add_form(lead))
    proposal = Proposal.objects.get()
    response = admin_client.post(
        "/admin/billing/proposal/", {"action": "send_for_approval", "_selected_action": [proposal.pk]}, follow=True
    )
    assert "waiting in the outbound review queue" in response.content.decode()
    message = OutboundMessage.objects.get(origin=f"proposal:{proposal.pk}:v1")
    assert message.status == "draft" and message.kind == "proposal"
    assert mailoutbox == []


def test_sent_proposal_is_read_only_and_new_version_action_copies_it(admin_client):
    proposal = sent_proposal()
    page = admin_client.get(f"/admin/billing/proposal/{proposal.pk}/change/").content.decode()
    assert 'name="title"' not in page and "Preview what the lead sees" in page
    admin_client.post("/admin/billing/proposal/", {"action": "create_new_version", "_selected_action": [proposal.pk]})
    assert Proposal.objects.filter(family=proposal.family, version=2, status="draft").exists()


def test_signed_proposal_refuses_a_new_version(admin_client):
    proposal = signed_proposal()
    response = admin_client.post(
        "/admin/billing/proposal/", {"action": "create_new_version", "_selected_action": [proposal.pk]}, follow=True
    )
    assert "signed proposal cannot be changed" in response.content.decode()
    assert Proposal.objects.count() == 1


def test_payment_list_shows_failed_payments(admin_client):
    proposal = signed_proposal()
    Payment.objects.create(
        proposal=proposal,
        lead=proposal.lead,
        checkout_session_id="cs_f",
        amount_minor=100,
        currency="USD",
        status="failed",
    )
    page = admin_client.get("/admin/billing/payment/?status__exact=failed").content.decode()
    assert "$1.00" in page


# --- a sent proposal reads as a record: prices as money, versions, the lead's view -------------


def test_sent_proposal_shows_unit_prices_as_money_and_lines_are_read_only(admin_client):
    proposal = sent_proposal()
    page = admin_client.get(f"/admin/billing/proposal/{proposal.pk}/change/").content.decode()
    assert "$500.00" in page and "$1,000.00" in page  # unit price and the 2 x 500 line total
    assert "None" not in page.split('id="lines-group"')[1].split("</fieldset>")[0]
    assert 'name="lines-0-unit_price"' not in page and 'name="lines-0-description"' not in page


def test_draft_lines_stay_editable_in_major_units(admin_client):
    from tests.billing.conftest import make_proposal

    proposal = make_proposal()
    page = admin_client.get(f"/admin/billing/proposal/{proposal.pk}/change/").content.decode()
    assert 'name="lines-0-unit_price"' in page and 'value="500.00"' in page


def test_versions_are_listed_with_links(admin_client, admin_user):
    from billing.services.proposals import proposal_revise

    first = sent_proposal()
    second = proposal_revise(proposal=first, actor=admin_user)
    page = admin_client.get(f"/admin/billing/proposal/{second.pk}/change/").content.decode()
    assert f'href="/admin/billing/proposal/{first.pk}/change/">v1</a>' in page
    assert f'href="/admin/billing/proposal/{second.pk}/change/">v2</a>' in page and "(this one)" in page


def test_preview_link_opens_what_the_lead_sees(admin_client):
    import re

    proposal = sent_proposal()
    page = admin_client.get(f"/admin/billing/proposal/{proposal.pk}/change/").content.decode()
    assert "Preview what the lead sees" in page
    preview = re.search(r'href="(/p/[^"]+/)"[^>]*>Preview what the lead sees', page).group(1)
    shown = admin_client.get(preview)
    assert shown.status_code == 200 and proposal.title in shown.content.decode()
    proposal.refresh_from_db()
    assert proposal.viewed_at is None  # the owner's preview is not the lead's visit


def test_a_proposal_address_with_a_malformed_id_is_not_a_server_error(admin_client):
    response = admin_client.get("/admin/billing/proposal/1/change/widgets.css/change/")
    assert response.status_code in (302, 404)


def test_proposal_times_are_in_the_owners_zone_with_the_time_since(admin_client, settings):
    settings.OWNER_TIMEZONE = "America/New_York"
    proposal = sent_proposal()
    page = admin_client.get(f"/admin/billing/proposal/{proposal.pk}/change/").content.decode()
    assert f"{owner_time(proposal.sent_at)} (just now)" in page
    assert "EST (just now)" in page or "EDT (just now)" in page
    listing = admin_client.get("/admin/billing/proposal/").content.decode()
    assert owner_time(proposal.sent_at) in listing
