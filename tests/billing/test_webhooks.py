"""POST /webhooks/stripe/ with payloads signed by Stripe's own helper."""

import json
import time

import httpx
import pytest
import respx

from billing.models import Payment, Proposal
from board.selectors import card_badges, needs_you
from clientsflow.models import WebhookEvent
from tests.billing.conftest import (
    STRIPE_API,
    WEBHOOK_SECRET,
    post_event,
    session_json,
    sign,
    signed_proposal,
    stripe_event,
)

pytestmark = pytest.mark.django_db


def test_no_secret_configured_means_rejected(settings, client):
    settings.STRIPE_WEBHOOK_SECRET = ""
    body = stripe_event("customer.created")
    response = post_event(client, body, sign(body))
    assert response.status_code == 503
    assert "STRIPE_WEBHOOK_SECRET" in response.json()["error"]
    assert not WebhookEvent.objects.exists()


def test_valid_completed_event_is_stored_then_processed(webhook_secret, client):
    proposal = signed_proposal()
    body = stripe_event("checkout.session.completed", proposal)
    response = post_event(client, body)
    assert response.status_code == 200 and response.json()["status"] == "accepted"
    event = WebhookEvent.objects.get(provider="stripe")
    assert event.event_id == "evt_1SessionCompleted0001" and event.status == WebhookEvent.Status.PROCESSED
    payment = Payment.objects.get()
    assert (payment.status, payment.amount_minor, payment.currency) == ("paid", 150000, "USD")
    assert payment.payment_intent_id == "pi_3Test000001"
    assert payment.customer_id == "cus_Test0001"  # for a person's export: which Stripe customer holds them
    proposal.refresh_from_db()
    proposal.lead.refresh_from_db()
    assert proposal.status == Proposal.Status.PAID and proposal.paid_at is not None
    assert proposal.lead.stage == "paid"


def test_replayed_five_times_makes_one_payment(webhook_secret, client):
    proposal = signed_proposal()
    body = stripe_event("checkout.session.completed", proposal)
    statuses = [post_event(client, body).status_code for _ in range(5)]
    assert statuses == [200] * 5
    assert Payment.objects.count() == 1
    event = WebhookEvent.objects.get(provider="stripe")
    assert event.deliveries == 5
    assert proposal.lead.stage_changes.filter(to_stage="paid").count() == 1


def test_body_altered_by_one_byte_is_refused(webhook_secret, client):
    proposal = signed_proposal()
    body = stripe_event("checkout.session.completed", proposal)
    header = sign(body)
    tampered = body.replace('"amount_total": 150000', '"amount_total": 150001')
    assert len(tampered) == len(body)
    response = post_event(client, tampered, header)
    assert response.status_code == 400
    assert "does not match" in response.json()["error"]
    assert not WebhookEvent.objects.exists() and not Payment.objects.exists()


@pytest.mark.parametrize("offset", [-301, -3600, 330, 3600])
def test_timestamps_outside_five_minutes_either_way_are_refused(webhook_secret, client, offset):
    body = stripe_event("customer.created")
    response = post_event(client, body, sign(body, timestamp=int(time.time()) + offset))
    assert response.status_code == 400
    assert not WebhookEvent.objects.exists()


def test_timestamp_inside_the_window_is_accepted(webhook_secret, client):
    body = stripe_event("customer.created")
    assert post_event(client, body, sign(body, timestamp=int(time.time()) - 240)).status_code == 200
    other = stripe_event("customer.created", evt_1CustomerCreated0001="evt_1CustomerCreated0002")
    assert post_event(client, other, sign(other, timestamp=int(time.time()) + 60)).status_code == 200


def test_secret_rotation_second_v1_signature_valid_is_accepted(webhook_secret, client):
    body = stripe_event("customer.created")
    now = int(time.time())
    old = sign(body, secret="whsec_old_rotated_out", timestamp=now).split(",v1=")[1]
    new = sign(body, secret=WEBHOOK_SECRET, timestamp=now).split(",v1=")[1]
    response = post_event(client, body, f"t={now},v1={old},v1={new}")
    assert response.status_code == 200
    assert WebhookEvent.objects.filter(provider="stripe").count() == 1


def test_missing_or_garbage_signature_header_is_refused(webhook_secret, client):
    body = stripe_event("customer.created")
    assert post_event(client, body, "").status_code == 400
    assert post_event(client, body, "v1=abc").status_code == 400
    assert post_event(client, body, f"t={int(time.time())},v0=abc").status_code == 400


def test_unknown_event_types_are_acknowledged_and_ignored(webhook_secret, client):
    body = stripe_event("customer.created")
    response = post_event(client, body)
    assert response.status_code == 200
    event = WebhookEvent.objects.get()
    assert event.status == WebhookEvent.Status.PROCESSED and event.event_type == "customer.created"
    assert not Payment.objects.exists()


def test_async_succeeded_before_completed_ends_paid(webhook_secret, client):
    proposal = signed_proposal()
    succeeded = stripe_event("checkout.session.async_payment_succeeded", proposal)
    completed = stripe_event("checkout.session.completed.delayed", proposal)
    assert post_event(client, succeeded).status_code == 200
    assert post_event(client, completed).status_code == 200
    payment = Payment.objects.get()
    assert payment.status == Payment.Status.PAID
    proposal.refresh_from_db()
    assert proposal.status == Proposal.Status.PAID and proposal.lead.stage == "paid"


def test_delayed_method_is_pending_then_paid(webhook_secret, client):
    proposal = signed_proposal()
    post_event(client, stripe_event("checkout.session.completed.delayed", proposal))
    payment = Payment.objects.get()
    assert payment.status == Payment.Status.PENDING
    proposal.refresh_from_db()
    assert proposal.status == Proposal.Status.SIGNED and proposal.lead.stage == "signed"
    assert card_badges([proposal.lead_id])[proposal.lead_id][0].label == "Payment processing"
    post_event(client, stripe_event("checkout.session.async_payment_succeeded", proposal))
    payment.refresh_from_db()
    assert payment.status == Payment.Status.PAID


def test_async_payment_failed_badges_the_card_and_counts_in_needs_you(webhook_secret, client):
    proposal = signed_proposal()
    post_event(client, stripe_event("checkout.session.completed.delayed", proposal))
    post_event(client, stripe_event("checkout.session.async_payment_failed", proposal))
    payment = Payment.objects.get()
    assert payment.status == Payment.Status.FAILED and payment.failed_at is not None
    badges = card_badges([proposal.lead_id])[proposal.lead_id]
    assert [b.label for b in badges] == ["Payment failed"] and badges[0].tone == "danger"
    counts = {item.key: item.count for item in needs_you()}
    assert counts["billing_failed_payments"] == 1
    proposal.refresh_from_db()
    assert proposal.status == Proposal.Status.SIGNED


def test_payment_intent_failed_then_late_arrival_never_undoes_paid(webhook_secret, client):
    proposal = signed_proposal()
    post_event(client, stripe_event("checkout.session.completed", proposal))
    post_event(client, stripe_event("payment_intent.payment_failed", proposal))
    payment = Payment.objects.get()
    assert payment.status == Payment.Status.PAID
    assert card_badges([proposal.lead_id])[proposal.lead_id] == []


def test_payment_intent_failed_on_an_open_checkout_records_the_reason(webhook_secret, client):
    proposal = signed_proposal()
    Payment.objects.create(
        proposal=proposal, lead=proposal.lead, checkout_session_id="cs_test_open", amount_minor=150000, currency="USD"
    )
    post_event(client, stripe_event("payment_intent.payment_failed", proposal))
    payment = Payment.objects.get()
    assert payment.status == Payment.Status.FAILED
    assert payment.failure_message == "Your card has insufficient funds."
    assert payment.payment_intent_id == "pi_3Test000001"


def test_refund_is_recorded_and_the_lead_stays_paid(webhook_secret, client):
    proposal = signed_proposal()
    post_event(client, stripe_event("checkout.session.completed", proposal))
    assert post_event(client, stripe_event("charge.refunded", proposal)).status_code == 200
    payment = Payment.objects.get()
    assert payment.status == Payment.Status.REFUNDED and payment.refunded_minor == 150000
    assert payment.refunded_at is not None
    proposal.lead.refresh_from_db()
    assert proposal.lead.stage == "paid"
    assert [b.label for b in card_badges([proposal.lead_id])[proposal.lead_id]] == ["Refunded"]


def test_partial_refund_keeps_the_payment_paid_with_the_amount(webhook_secret, client):
    proposal = signed_proposal()
    post_event(client, stripe_event("checkout.session.completed", proposal))
    body = stripe_event("charge.refunded", proposal).replace('"amount_refunded": 150000', '"amount_refunded": 50000')
    body = body.replace('"refunded": true', '"refunded": false')
    post_event(client, body)
    payment = Payment.objects.get()
    assert payment.status == Payment.Status.PAID and payment.refunded_minor == 50000


def test_refund_arriving_first_is_retried_not_lost(webhook_secret, client):
    from clientsflow.webhooks import webhook_event_process

    proposal = signed_proposal()
    assert post_event(client, stripe_event("charge.refunded", proposal)).status_code == 200
    refund_event = WebhookEvent.objects.get(event_type="charge.refunded")
    assert refund_event.status == WebhookEvent.Status.FAILED  # kept for the sweep
    post_event(client, stripe_event("checkout.session.completed", proposal))
    webhook_event_process(event_id=refund_event.pk)
    assert Payment.objects.get().status == Payment.Status.REFUNDED


def test_event_for_someone_elses_checkout_changes_nothing(webhook_secret, client):
    proposal = signed_proposal()
    body = stripe_event("checkout.session.completed", proposal).replace(str(proposal.lead.public_id), "someone-else")
    assert post_event(client, body).status_code == 200
    assert not Payment.objects.exists()


@respx.mock
def test_with_stripe_enabled_state_comes_from_the_session_fetched_back(webhook_secret, stripe_enabled, client):
    """The event says unpaid (it was sent earlier), Stripe says paid now: paid wins."""
    proposal = signed_proposal()
    current = session_json(
        proposal,
        amount_total=150000,
        status="complete",
        payment_status="paid",
        payment_intent={"id": "pi_3Test000001", "object": "payment_intent", "status": "succeeded"},
    )
    route = respx.get(f"{STRIPE_API}/v1/checkout/sessions/cs_test_a1B2c3D4").mock(
        return_value=httpx.Response(200, json=current)
    )
    post_event(client, stripe_event("checkout.session.completed.delayed", proposal))
    assert route.called
    assert "expand[0]=payment_intent" in str(route.calls.last.request.url).replace("%5B", "[").replace("%5D", "]")
    assert route.calls.last.request.headers["Authorization"] == "Bearer sk_test_clientsflow"
    payment = Payment.objects.get()
    assert payment.status == Payment.Status.PAID and payment.payment_intent_id == "pi_3Test000001"


@respx.mock
def test_with_stripe_down_the_event_is_kept_for_retry(webhook_secret, stripe_enabled, client):
    proposal = signed_proposal()
    respx.get(f"{STRIPE_API}/v1/checkout/sessions/cs_test_a1B2c3D4").mock(
        return_value=httpx.Response(500, json={"error": {"message": "boom", "type": "api_error"}})
    )
    response = post_event(client, stripe_event("checkout.session.completed", proposal))
    assert response.status_code == 200
    event = WebhookEvent.objects.get()
    assert event.status == WebhookEvent.Status.FAILED and "StripeUnavailable" in event.last_error
    assert not Payment.objects.exists()


def test_fixture_files_are_real_stripe_event_shapes():
    for name in ("checkout.session.completed", "charge.refunded", "payment_intent.payment_failed"):
        data = json.loads(stripe_event(name))
        assert data["object"] == "event" and data["type"] == name and data["id"].startswith("evt_")
