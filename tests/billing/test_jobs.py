import httpx
import pytest
import respx

from billing.jobs import proposal_outbound_sync, stripe_reconcile
from billing.models import Payment, Proposal
from clientsflow.dispatcher import registry
from clientsflow.models import AuditEvent
from tests.billing.conftest import STRIPE_API, session_json, signed_proposal

pytestmark = pytest.mark.django_db


def test_jobs_are_registered_with_the_dispatcher():
    jobs = registry()
    assert {"stripe_reconcile", "proposal_outbound_sync", "proposal_expire"} <= set(jobs)
    assert "daily" in jobs["stripe_reconcile"].schedule.describe()


def test_reconcile_in_local_mode_says_it_skipped(settings):
    settings.STRIPE_API_KEY = ""
    assert "skipped" in stripe_reconcile()


@respx.mock
def test_reconcile_fixes_what_a_missed_webhook_left_behind_and_audits_it(stripe_enabled):
    paid_missed = signed_proposal()
    Payment.objects.create(
        proposal=paid_missed,
        lead=paid_missed.lead,
        checkout_session_id="cs_test_a1B2c3D4",
        amount_minor=150000,
        currency="USD",
    )
    listed = [
        session_json(
            paid_missed,
            status="complete",
            payment_status="paid",
            amount_total=150000,
            payment_intent={"id": "pi_1", "object": "payment_intent", "status": "succeeded"},
        ),
        session_json(paid_missed, id="cs_other_product", client_reference_id="not-ours", status="complete"),
    ]
    route = respx.get(f"{STRIPE_API}/v1/checkout/sessions").mock(
        return_value=httpx.Response(
            200, json={"object": "list", "data": listed, "has_more": False, "url": "/v1/checkout/sessions"}
        )
    )
    result = stripe_reconcile()
    assert route.called and "created[gte]" in str(route.calls.last.request.url).replace("%5B", "[").replace("%5D", "]")
    assert result["listed"] == 2 and result["ours"] == 1 and result["fixed"] == 1
    payment = Payment.objects.get()
    assert payment.status == Payment.Status.PAID
    paid_missed.refresh_from_db()
    assert paid_missed.status == Proposal.Status.PAID and paid_missed.lead.stage == "paid"
    audit = AuditEvent.objects.get(verb="payment.reconciled")
    assert audit.details["from"] == "open" and audit.details["to"] == "paid"
    # A second run finds nothing to fix.
    assert stripe_reconcile()["fixed"] == 0
    assert AuditEvent.objects.filter(verb="payment.reconciled").count() == 1


@respx.mock
def test_reconcile_checks_open_payments_the_listing_missed(stripe_enabled):
    proposal = signed_proposal()
    Payment.objects.create(
        proposal=proposal, lead=proposal.lead, checkout_session_id="cs_old", amount_minor=150000, currency="USD"
    )
    respx.get(f"{STRIPE_API}/v1/checkout/sessions").mock(
        return_value=httpx.Response(
            200, json={"object": "list", "data": [], "has_more": False, "url": "/v1/checkout/sessions"}
        )
    )
    respx.get(f"{STRIPE_API}/v1/checkout/sessions/cs_old").mock(
        return_value=httpx.Response(200, json=session_json(proposal, id="cs_old", status="expired"))
    )
    result = stripe_reconcile()
    assert result["checked_individually"] == 1 and result["fixed"] == 1
    assert Payment.objects.get().status == Payment.Status.EXPIRED


def test_outbound_sync_job_runs_without_pending_proposals():
    assert proposal_outbound_sync() == {}
