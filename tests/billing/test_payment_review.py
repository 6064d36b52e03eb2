"""A Stripe payment is applied to a proposal only when it is what the proposal asked for, then.

Anything else (another amount or currency, a proposal that is not payable, a proposal we do not
know) becomes a payment needing review: listed in the admin, counted in "needs you", posted to
the owner's Slack and audited; never `paid`, never a stage change.
"""

import json

import httpx
import pytest
import respx

from billing.jobs import stripe_reconcile
from billing.models import Payment, Proposal
from board.selectors import card_badges, needs_you
from clientsflow.models import AuditEvent, Notification, WebhookEvent
from clientsflow.site import site_settings_update
from tests.billing.conftest import (
    STRIPE_API,
    move_lead_to,
    post_event,
    sent_proposal,
    session_json,
    signed_proposal,
    stripe_event,
)

pytestmark = pytest.mark.django_db

SLACK_URL = "https://hooks.slack.com/services/T000/B000/REVIEW"


@pytest.fixture
def slack(settings):
    settings.SLACK_WEBHOOK_URL = SLACK_URL
    # The owner chose Slack as well as email, and only hears about payments that go wrong.
    site_settings_update(notify_via="both", notifications={"payment_received": False})
    with respx.mock(assert_all_called=False) as router:
        router.post(SLACK_URL, name="slack").mock(return_value=httpx.Response(200, text="ok"))
        yield router


def completed(proposal: Proposal, **session: object) -> str:
    body = json.loads(stripe_event("checkout.session.completed", proposal))
    body["data"]["object"].update(session)
    return json.dumps(body)


def assert_needs_review(proposal: Proposal, stage_before: str, slack, reason: str) -> Payment:
    payment = Payment.objects.get()
    assert payment.status == Payment.Status.REVIEW
    assert reason in payment.review_reason
    proposal.refresh_from_db()
    proposal.lead.refresh_from_db()
    assert proposal.status != Proposal.Status.PAID and proposal.paid_at is None
    assert proposal.lead.stage == stage_before
    assert not proposal.lead.stage_changes.filter(to_stage="paid").exists()
    counts = {item.key: item.count for item in needs_you()}
    assert counts["billing_payments_review"] == 1
    assert "Payment needs review" in [b.label for b in card_badges([proposal.lead_id])[proposal.lead_id]]
    audit = AuditEvent.objects.get(verb="payment.review")
    assert audit.details["reason"] == payment.review_reason
    assert slack["slack"].call_count == 1
    text = json.loads(slack["slack"].calls.last.request.content)["text"]
    assert "needs review" in text and reason in text and f"/admin/billing/payment/{payment.pk}/change/" in text
    return payment


def test_one_yen_on_a_dollar_proposal_needs_review(webhook_secret, client, slack):
    proposal = signed_proposal()
    assert post_event(client, completed(proposal, amount_total=1, currency="jpy")).status_code == 200
    assert WebhookEvent.objects.get().status == WebhookEvent.Status.PROCESSED
    payment = assert_needs_review(proposal, "signed", slack, "JPY")
    assert (payment.amount_minor, payment.currency) == (1, "JPY")  # what was actually paid


def test_wrong_amount_in_the_right_currency_needs_review(webhook_secret, client, slack):
    proposal = signed_proposal()
    post_event(client, completed(proposal, amount_total=100))
    assert_needs_review(proposal, "signed", slack, "asked for $1,500.00")


def test_deposit_proposal_paid_in_full_needs_review(webhook_secret, client, slack):
    proposal = signed_proposal(deposit_percent=30)
    post_event(client, completed(proposal, amount_total=proposal.total_minor))
    assert_needs_review(proposal, "signed", slack, "deposit")


def test_payment_for_an_unsigned_proposal_needs_review(webhook_secret, client, slack):
    proposal = sent_proposal()
    post_event(client, completed(proposal))
    assert_needs_review(proposal, "proposal_sent", slack, "not signed")


def test_payment_naming_a_proposal_we_do_not_have_needs_review(webhook_secret, client, slack):
    proposal = signed_proposal()
    body = completed(proposal, metadata={"proposal_id": "999999", "proposal_version": "1"})
    post_event(client, body)
    payment = Payment.objects.get()
    assert payment.proposal_id is None and payment.lead_id == proposal.lead_id
    assert payment.status == Payment.Status.REVIEW and "999999" in payment.review_reason
    proposal.refresh_from_db()
    assert proposal.status == Proposal.Status.SIGNED and proposal.lead.stage == "signed"
    assert slack["slack"].call_count == 1


def test_second_payment_for_a_paid_proposal_needs_review(webhook_secret, client, slack):
    proposal = signed_proposal()
    post_event(client, completed(proposal))
    second = completed(proposal, id="cs_test_second").replace("evt_1SessionCompleted0001", "evt_1SessionCompleted0002")
    post_event(client, second)
    assert Payment.objects.get(checkout_session_id="cs_test_a1B2c3D4").status == Payment.Status.PAID
    review = Payment.objects.get(checkout_session_id="cs_test_second")
    assert review.status == Payment.Status.REVIEW and "already paid" in review.review_reason
    assert proposal.lead.stage_changes.filter(to_stage="paid").count() == 1


def test_balance_after_the_deposit_is_applied(webhook_secret, client, slack):
    proposal = signed_proposal(deposit_percent=30)
    post_event(client, completed(proposal, amount_total=proposal.due_now_minor))
    balance = completed(proposal, id="cs_test_balance", amount_total=proposal.balance_minor).replace(
        "evt_1SessionCompleted0001", "evt_1SessionCompleted0003"
    )
    post_event(client, balance)
    assert set(Payment.objects.values_list("status", flat=True)) == {Payment.Status.PAID}
    assert slack["slack"].call_count == 0


def test_the_matching_payment_is_still_paid(webhook_secret, client, slack):
    proposal = signed_proposal()
    post_event(client, completed(proposal))
    assert Payment.objects.get().status == Payment.Status.PAID
    assert slack["slack"].call_count == 0 and not AuditEvent.objects.filter(verb="payment.review").exists()


def test_review_is_idempotent_in_any_arrival_order(webhook_secret, client, slack):
    proposal = signed_proposal()
    body = completed(proposal, amount_total=1, currency="jpy")
    for _ in range(3):
        post_event(client, body)
    succeeded = json.loads(stripe_event("checkout.session.async_payment_succeeded", proposal))
    succeeded["data"]["object"].update(amount_total=1, currency="jpy")
    post_event(client, json.dumps(succeeded))
    assert Payment.objects.get().status == Payment.Status.REVIEW
    assert AuditEvent.objects.filter(verb="payment.review").count() == 1 and slack["slack"].call_count == 1


def test_review_is_recorded_even_when_slack_is_down(webhook_secret, client, settings):
    settings.SLACK_WEBHOOK_URL = SLACK_URL
    site_settings_update(notify_via="slack")
    proposal = signed_proposal()
    with respx.mock() as router:
        router.post(SLACK_URL).mock(return_value=httpx.Response(500, text="no_service"))
        post_event(client, completed(proposal, amount_total=1))
    assert Payment.objects.get().status == Payment.Status.REVIEW
    assert WebhookEvent.objects.get().status == WebhookEvent.Status.PROCESSED
    notification = Notification.objects.get(kind="payment_failed")
    assert notification.status == Notification.Status.FAILED and "HTTP 500" in notification.error


def test_staff_resolve_a_review_in_the_admin(webhook_secret, client, slack, admin_client):
    proposal = signed_proposal()
    post_event(client, completed(proposal, amount_total=1))
    payment = Payment.objects.get()
    page = admin_client.get("/admin/billing/payment/?status__exact=review")
    assert page.status_code == 200 and b"Needs review" in page.content
    response = admin_client.post(
        "/admin/billing/payment/", {"action": "mark_reviewed", "_selected_action": [payment.pk]}, follow=True
    )
    assert response.status_code == 200
    payment.refresh_from_db()
    assert payment.reviewed_at is not None and payment.reviewed_by is not None
    assert payment.status == Payment.Status.REVIEW  # still not paid: a person settles it in Stripe
    assert {item.key: item.count for item in needs_you()}["billing_payments_review"] == 0
    assert AuditEvent.objects.filter(verb="payment.review_resolved").count() == 1


def test_reconciliation_applies_the_same_rule(stripe_enabled, slack):
    proposal = sent_proposal()
    move_lead_to(proposal.lead, "proposal_sent")
    listed = [
        session_json(
            proposal,
            status="complete",
            payment_status="paid",
            payment_intent={"id": "pi_1", "object": "payment_intent", "status": "succeeded"},
        )
    ]
    slack.get(f"{STRIPE_API}/v1/checkout/sessions").mock(
        return_value=httpx.Response(
            200, json={"object": "list", "data": listed, "has_more": False, "url": "/v1/checkout/sessions"}
        )
    )
    stripe_reconcile()
    payment = Payment.objects.get()
    assert payment.status == Payment.Status.REVIEW and "not signed" in payment.review_reason
    proposal.refresh_from_db()
    assert proposal.status == Proposal.Status.SENT and proposal.lead.stage == "proposal_sent"
