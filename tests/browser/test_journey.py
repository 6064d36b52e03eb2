"""One lead from the lead webhook to money, in real Chromium.

What this walks for real: the HMAC-signed lead webhook (HTTP to the live server), the board,
the proposal's email through the outbound gate (draft -> approved by a staff user with the
permission -> sent by the outbound service; Django's test mail backend, NOT a loopback SMTP
server), the public proposal page opened, read and signed in the browser, a Stripe
`checkout.session.completed` signed with Stripe's helper and POSTed to the live server, and the
card ending in Paid with its timeline.

What it does NOT walk (moved with the owner's stage service instead, as a hand move on the board
would): sequence enrollment and the first email, the reply and its classification, the booking on
/book/<slug>/, the Fireflies webhook and transcript. Those have their own tests in their apps.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
from datetime import date

import httpx
import pytest
import stripe

from tests.browser.conftest import logged_in_page, save_screenshot

pytestmark = [pytest.mark.browser]

LEAD_SECRET = "journey-lead-secret"
STRIPE_SECRET = "whsec_journey"


def test_one_lead_from_webhook_to_paid(new_page, owner, live_server, settings):
    from django.contrib.auth.models import Permission
    from django.core import mail

    from billing.models import Payment, Proposal
    from billing.services.outbound_sync import proposal_outbound_sync
    from billing.services.proposals import LineData, proposal_create, proposal_send
    from leads.models import Lead, OutboundMessage
    from leads.services.outbound import outbound_approve, outbound_send
    from leads.services.stages import lead_move_stage

    settings.LEAD_WEBHOOK_SECRET = LEAD_SECRET
    settings.STRIPE_WEBHOOK_SECRET = STRIPE_SECRET
    settings.STRIPE_API_KEY = ""  # local mode: state comes from the signed event itself
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.PROPOSAL_LINK_BASE_URL = live_server.url

    # 1. A signed lead webhook creates the lead.
    body = json.dumps({"name": "Grace Hopper", "email": "grace@example.com", "company": "Navy Labs"}).encode()
    signature = hmac.new(LEAD_SECRET.encode(), body, hashlib.sha256).hexdigest()
    response = httpx.post(
        f"{live_server.url}/webhooks/leads/website/",
        content=body,
        headers={"Content-Type": "application/json", "X-Signature": f"sha256={signature}"},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    lead = _wait_for(lambda: Lead.objects.filter(email_normalized="grace@example.com").first())

    owner_page = logged_in_page(new_page, owner, live_server)
    owner_page.goto("/board/")
    assert owner_page.locator(f"#col-new #card-{lead.public_id}").count() == 1
    save_screenshot(owner_page, "journey-1-new-lead-on-board")

    # 2. The middle of the pipeline, moved by the owner (see the module docstring).
    for stage in ("contacted", "replied", "booked", "call_done"):
        lead_move_stage(lead=lead, to_stage=stage, actor=owner, reason="journey test")

    # 3. A proposal, sent through the outbound gate.
    proposal = proposal_create(
        lead=lead,
        title="Compiler consulting",
        currency="USD",
        valid_until=date(2099, 1, 1),
        lines=[LineData.build(description="Compiler audit", quantity="3", unit_price_minor=33333)],
        deposit_percent=None,
    )
    message = proposal_send(proposal=proposal)
    owner.user_permissions.add(Permission.objects.get(codename="approve_outboundmessage"))
    owner = type(owner).objects.get(pk=owner.pk)
    outbound_approve(message=message, actor=owner, expected_hash=message.content_hash())
    assert outbound_send(message_id=message.pk, trigger="human", actor=owner).outcome == "sent"
    assert OutboundMessage.objects.get(pk=message.pk).status == "sent"
    assert proposal_outbound_sync(proposal=Proposal.objects.get(pk=proposal.pk)) == "sent"
    link = re.search(r"(http\S+/p/\S+/)", mail.outbox[-1].body).group(1)

    # 4. The lead opens the link on a phone, reads, signs.
    phone = new_page(viewport={"width": 390, "height": 844})
    phone.goto(link)
    assert phone.locator("h1#proposal-title").inner_text() == "Compiler consulting"
    assert "$999.99" in phone.content()
    save_screenshot(phone, "journey-2-proposal-on-phone", full_page=True)
    phone.fill("#full_name", "Grace Hopper")
    phone.check("#consent")
    phone.click("button:text-is('Sign')")
    phone.wait_for_selector("text=Signed. Thank you!")
    save_screenshot(phone, "journey-3-signed", full_page=True)
    phone.click("text=Open the signed copy")
    phone.wait_for_selector("#record-title")
    save_screenshot(phone, "journey-4-signed-copy", full_page=True)
    proposal.refresh_from_db()
    assert proposal.status == Proposal.Status.SIGNED and proposal.viewed_at is not None

    # 5. Stripe says the checkout completed (signed with Stripe's own helper).
    event = {
        "id": "evt_journey_completed",
        "object": "event",
        "type": "checkout.session.completed",
        "created": int(time.time()),
        "data": {
            "object": {
                "id": "cs_test_journey",
                "object": "checkout.session",
                "amount_total": proposal.due_now_minor,
                "currency": "usd",
                "client_reference_id": str(lead.public_id),
                "metadata": {"proposal_id": str(proposal.pk), "proposal_version": "1"},
                "payment_intent": "pi_journey",
                "payment_status": "paid",
                "status": "complete",
            }
        },
    }
    payload = json.dumps(event)
    header = stripe.WebhookSignature.generate_signature_header(payload, STRIPE_SECRET)
    response = httpx.post(
        f"{live_server.url}/webhooks/stripe/",
        content=payload.encode(),
        headers={"Content-Type": "application/json", "Stripe-Signature": header},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    _wait_for(lambda: Payment.objects.filter(checkout_session_id="cs_test_journey", status="paid").first())

    # 6. The card is in Paid, with the whole story on its timeline.
    owner_page.goto("/board/")
    assert owner_page.locator(f"#col-paid #card-{lead.public_id}").count() == 1
    save_screenshot(owner_page, "journey-5-paid-on-board")
    owner_page.goto(f"/board/lead/{lead.public_id}/")
    timeline = owner_page.locator(".timeline").inner_text()
    for expected in ("Proposal sent", "Proposal viewed", "Proposal signed", "Payment received"):
        assert expected in timeline, timeline
    save_screenshot(owner_page, "journey-6-lead-timeline", full_page=True)


def _wait_for(find, timeout: float = 10.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = find()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError("timed out waiting for the expected row")
