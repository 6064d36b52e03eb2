"""The lead's pages: /p/<token>/ read, view once, sign, signed copy, pay, success and cancel."""

import re
from datetime import timedelta

import httpx
import pytest
import respx
from django.core import signing
from django.test import Client

from billing.models import Payment, Proposal, Signature
from billing.services.documents import content_sha256
from billing.services.links import SALT, proposal_link_token
from billing.services.proposals import proposal_mark_sent, proposal_revise, proposal_revoke_link
from tests.billing.conftest import STRIPE_API, make_proposal, sent_proposal, session_json, signed_proposal

pytestmark = pytest.mark.django_db

IPHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) Mobile/15E148"


def url(proposal: Proposal, suffix: str = "") -> str:
    return f"/p/{proposal_link_token(proposal=proposal)}/{suffix}"


def test_page_is_phone_readable_printable_and_records_the_view_once(client):
    proposal = sent_proposal()
    response = client.get(url(proposal), headers={"User-Agent": IPHONE})
    assert response.status_code == 200
    html = response.content.decode()
    assert 'name="viewport" content="width=device-width' in html
    assert "billing/proposal.css" in html and "data-print" in html  # base.js opens the print dialog
    assert "Website rebuild" in html and "$1,500.00" in html
    proposal.refresh_from_db()
    first = proposal.viewed_at
    assert proposal.status == Proposal.Status.VIEWED and first is not None
    client.get(url(proposal))
    proposal.refresh_from_db()
    assert proposal.viewed_at == first


def test_staff_preview_is_not_recorded_as_a_view(admin_client):
    proposal = sent_proposal()
    assert admin_client.get(url(proposal)).status_code == 200
    proposal.refresh_from_db()
    assert proposal.status == Proposal.Status.SENT and proposal.viewed_at is None


@pytest.mark.parametrize(
    ("make_token", "status", "text"),
    [
        (lambda p: "garbage", 404, "This link does not work"),
        (lambda p: proposal_link_token(proposal=p)[:-3] + "abc", 404, "This link does not work"),
        (lambda p: signing.dumps({"p": p.pk}, salt=SALT), 404, "This link does not work"),
        (lambda p: signing.dumps({"p": 999999, "k": "x"}, salt=SALT), 410, "withdrawn"),
    ],
)
def test_bad_links_get_a_clear_page_never_a_500(client, make_token, status, text):
    proposal = sent_proposal()
    response = client.get(f"/p/{make_token(proposal)}/")
    assert response.status_code == status
    assert text in response.content.decode()
    assert "reply" in response.content.decode().lower() or "email" in response.content.decode().lower()


def test_expired_link_says_so(client, settings):
    proposal = sent_proposal()
    token = proposal_link_token(proposal=proposal)
    settings.PROPOSAL_LINK_MAX_AGE_DAYS = -1
    response = client.get(f"/p/{token}/")
    assert response.status_code == 410 and "This link has expired" in response.content.decode()


def test_revoked_and_replaced_links_say_so(client):
    proposal = sent_proposal()
    token = proposal_link_token(proposal=proposal)
    v2 = proposal_revise(proposal=proposal)
    proposal_mark_sent(proposal=v2, via="test")
    response = client.get(f"/p/{token}/")
    assert response.status_code == 410 and "newer version" in response.content.decode()
    token2 = proposal_link_token(proposal=v2)
    proposal_revoke_link(proposal=v2)
    assert client.get(f"/p/{token2}/").status_code == 410


def test_a_draft_link_shows_nothing_to_the_public(client):
    proposal = make_proposal()
    assert client.get(url(proposal)).status_code == 404


def test_sign_form_stores_signature_with_ip_agent_and_hash_of_what_was_shown():
    client = Client(REMOTE_ADDR="198.51.100.7")
    proposal = sent_proposal()
    page = client.get(url(proposal), headers={"User-Agent": IPHONE}).content.decode()
    shown_hash = re.search(r'name="content_sha256" value="([0-9a-f]{64})"', page).group(1)
    document = re.search(r'(<article class="proposal-doc".*?</article>)', page, re.S).group(1)
    assert content_sha256(document) == shown_hash  # the hash is of exactly the markup on the page
    response = client.post(
        url(proposal, "sign/"),
        {"full_name": "Ada Lovelace", "email": "ada@example.com", "consent": "yes", "content_sha256": shown_hash},
        headers={"User-Agent": IPHONE},
    )
    assert response.status_code == 302
    signature = Signature.objects.get()
    assert signature.content == document and signature.content_sha256 == shown_hash
    assert (signature.ip_address, signature.user_agent) == ("198.51.100.7", IPHONE)
    proposal.refresh_from_db()
    assert proposal.status == Proposal.Status.SIGNED and proposal.lead.stage == "signed"
    copy = client.get(url(proposal, "signed/")).content.decode()
    assert "Signature record" in copy and shown_hash in copy and "198.51.100.7" in copy
    assert "matches the content above" in copy


def test_sign_without_consent_shows_the_error_and_keeps_the_name(client):
    proposal = sent_proposal()
    response = client.post(
        url(proposal, "sign/"), {"full_name": "Ada L", "email": "ada@example.com", "content_sha256": "x"}
    )
    assert response.status_code == 400
    assert "Tick the box" in response.content.decode() and 'value="Ada L"' in response.content.decode()
    assert not Signature.objects.exists()


def test_signed_copy_before_signing_is_a_clear_404(client):
    proposal = sent_proposal()
    assert client.get(url(proposal, "signed/")).status_code == 404


def test_pay_in_local_mode_says_payment_is_not_set_up(client, settings):
    settings.STRIPE_API_KEY = ""
    proposal = signed_proposal()
    response = client.post(url(proposal, "pay/"))
    assert response.status_code == 503 and "not set up" in response.content.decode()
    assert not Payment.objects.exists()


@respx.mock
def test_pay_creates_a_checkout_session_with_idempotency_key_and_references(client, stripe_enabled):
    proposal = signed_proposal(deposit_percent=33)
    route = respx.post(f"{STRIPE_API}/v1/checkout/sessions").mock(
        return_value=httpx.Response(200, json=session_json(proposal))
    )
    response = client.post(url(proposal, "pay/"))
    assert response.status_code == 302
    assert response["Location"] == "https://checkout.stripe.com/c/pay/cs_test_a1B2c3D4"
    request = route.calls.last.request
    assert request.headers["Idempotency-Key"] == f"clientsflow-proposal-{proposal.pk}-v1-checkout-1"
    form = dict(httpx.QueryParams(request.content.decode()))
    assert form["client_reference_id"] == str(proposal.lead.public_id)
    assert form["metadata[proposal_id]"] == str(proposal.pk)
    assert form["payment_intent_data[metadata][proposal_id]"] == str(proposal.pk)
    assert form["line_items[0][price_data][unit_amount]"] == "49500"  # 33% of $1,500
    assert form["line_items[0][price_data][currency]"] == "usd"
    assert "/paid/?session_id={CHECKOUT_SESSION_ID}" in form["success_url"]
    payment = Payment.objects.get()
    assert (payment.status, payment.amount_minor) == ("open", 49500)
    # A second click reuses the open checkout instead of creating another.
    assert client.post(url(proposal, "pay/"))["Location"] == payment.checkout_url
    assert route.call_count == 1


@respx.mock
def test_stripe_refusing_the_checkout_is_a_clear_message(client, stripe_enabled):
    proposal = signed_proposal()
    respx.post(f"{STRIPE_API}/v1/checkout/sessions").mock(
        return_value=httpx.Response(
            400, json={"error": {"message": "Invalid currency", "type": "invalid_request_error"}}
        )
    )
    response = client.post(url(proposal, "pay/"))
    assert response.status_code == 503 and "Nothing was charged" in response.content.decode()


@respx.mock
def test_success_page_asks_stripe_rather_than_trusting_the_redirect(client, stripe_enabled):
    proposal = signed_proposal()
    Payment.objects.create(
        proposal=proposal,
        lead=proposal.lead,
        checkout_session_id="cs_test_a1B2c3D4",
        amount_minor=150000,
        currency="USD",
    )
    respx.get(f"{STRIPE_API}/v1/checkout/sessions/cs_test_a1B2c3D4").mock(
        return_value=httpx.Response(200, json=session_json(proposal, status="open"))
    )
    page = client.get(url(proposal, "paid/") + "?session_id=cs_test_a1B2c3D4").content.decode()
    assert "confirming your payment" in page
    assert Payment.objects.get().status == "open"
    respx.get(f"{STRIPE_API}/v1/checkout/sessions/cs_test_a1B2c3D4").mock(
        return_value=httpx.Response(
            200, json=session_json(proposal, status="complete", payment_status="paid", amount_total=150000)
        )
    )
    page = client.get(url(proposal, "paid/") + "?session_id=cs_test_a1B2c3D4").content.decode()
    assert "Payment received" in page
    proposal.refresh_from_db()
    assert proposal.status == Proposal.Status.PAID


def test_cancel_page_says_nothing_was_charged(client):
    proposal = signed_proposal()
    page = client.get(url(proposal, "cancelled/")).content.decode()
    assert "Nothing was charged" in page


def test_expired_proposal_page_offers_no_sign_form(client):
    proposal = sent_proposal()
    Proposal.objects.filter(pk=proposal.pk).update(valid_until=proposal.valid_until - timedelta(days=60))
    page = client.get(url(proposal)).content.decode()
    assert "This proposal has expired" in page and 'name="full_name"' not in page


@respx.mock
def test_a_stripe_outage_is_reported_to_the_owner_and_cleared_by_the_next_success(client, stripe_enabled):
    from board.selectors import needs_you
    from clientsflow.models import IntegrationStatus

    route = respx.post(f"{STRIPE_API}/v1/checkout/sessions")
    route.mock(return_value=httpx.Response(500, json={"error": {"message": "Internal error", "type": "api_error"}}))
    for _ in range(3):
        proposal = signed_proposal()
        assert client.post(url(proposal, "pay/")).status_code == 503

    status = IntegrationStatus.objects.get(vendor="stripe")
    assert status.consecutive_failures == 3 and status.alerted_at is not None
    assert {item.key: item.count for item in needs_you()}["integration_stripe"] == 1

    route.mock(
        return_value=httpx.Response(
            200,
            json={
                "id": "cs_test_ok",
                "object": "checkout.session",
                "url": "https://checkout.stripe.com/c/pay/cs_test_ok",
                "status": "open",
                "payment_status": "unpaid",
            },
        )
    )
    client.post(url(signed_proposal(), "pay/"))
    status.refresh_from_db()
    assert status.alerted_at is None
