"""One lead from the lead webhook to money, every step through its real path, in real Chromium.

1. a signed lead webhook (HTTP to the live server) -> the card in New on the board;
2. enrolled in a sequence from the admin's lead list; the dispatcher's `sequence_drafts` job drafts
   the first step;
3. the draft approved ("Save and approve exactly this text") and sent ("Send now") in the admin,
   received by a loopback SMTP server (aiosmtpd) -> `contacted`;
4. the lead's reply as a signed Mailgun inbound POST to /webhooks/replies/ threaded on the sent
   Message-ID -> `replied`; the dispatcher's `replies_classify` job has the local model label it positive;
5. the lead books on /book/intro-call/ on a phone; Google is not configured, so the ICS
   confirmation arrives at the SMTP server -> `booked`;
6. a signed Fireflies webhook; the transcript fetch is answered at the HTTP transport by respx
   (the live server runs in a thread of this process) -> the call linked, `call_done`;
7. a proposal created in the admin's add form and sent with the admin action; its email approved
   and sent through the outbound gate (SMTP again); the dispatcher's `proposal_outbound_sync` job
   -> `proposal_sent`;
8. the lead opens the link from that email on a phone, reads and signs -> `signed`;
9. she presses Pay: the Checkout Session is created through the stripe SDK (Stripe's API answered
   at the transport by respx; the checkout.stripe.com page is a stand-in routed by Playwright, as
   there is no internet), Stripe posts a `checkout.session.completed` signed with its own helper,
   the webhook fetches the session back, she lands on the success page -> the card in Paid, and
   the lead page's timeline tells the whole story.

Screenshots: artifacts/screenshots/journey-NN-<step>.png (ignored by git), listed in the README.
"""

from __future__ import annotations

import json
import re
from datetime import timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest
import respx
import stripe

from tests.browser.conftest import logged_in_page
from tests.browser.journey_support import (
    SmtpCapture,
    StripeFake,
    attachment_types,
    fireflies_transcript,
    hmac_hex,
    mailgun_inbound_form,
    screenshot,
    success_url_for,
    text_of,
    wait_for,
)

pytestmark = [pytest.mark.browser]

LEAD_SECRET = "journey-lead-secret"
MAILGUN_KEY = "key-journey-signing-0123456789abcdef"
FIREFLIES_SECRET = "journey-fireflies-secret"
STRIPE_SECRET = "whsec_journey"
OWNER_FROM = "owner@agency.example"
LEAD_EMAIL = "grace@navylabs.example"
MEETING_ID = "01KJOURNEY0000000000000000"
OWNER_INBOX = "alex@northwind-owner-inbox.example"
CHECKOUT = (  # what the browser shows at checkout.stripe.com: a stand-in, there is no internet here
    "<!doctype html><meta name=viewport content='width=device-width'><title>Stripe Checkout</title>"
    "<h1>Stripe Checkout (test stand-in)</h1><p>Compiler consulting: $999.99</p>"
)


@pytest.fixture
def smtp(settings):
    capture = SmtpCapture()
    capture.controller.start()
    capture.point_settings_here(settings)
    yield capture
    capture.controller.stop()


@pytest.fixture
def journey_settings(settings, live_server, smtp):
    settings.PUBLIC_BASE_URL = live_server.url
    settings.LEAD_WEBHOOK_SECRET = LEAD_SECRET
    settings.MAILGUN_WEBHOOK_SIGNING_KEY = MAILGUN_KEY
    settings.FIREFLIES_WEBHOOK_SECRET = FIREFLIES_SECRET
    settings.FIREFLIES_API_KEY = "ff-journey-key"
    settings.STRIPE_WEBHOOK_SECRET = STRIPE_SECRET
    settings.STRIPE_API_KEY = "sk_test_journey"  # the SDK's HTTP calls are answered by respx
    settings.STRIPE_MAX_NETWORK_RETRIES = 0
    settings.ANTHROPIC_API_KEY = ""  # template drafts, local classification model
    settings.NOTION_TOKEN = ""
    settings.SLACK_WEBHOOK_URL = ""
    settings.GOOGLE_SERVICE_ACCOUNT_FILE = ""  # the booking invite goes out as an ICS email
    settings.DEFAULT_FROM_EMAIL = f"Agency Owner <{OWNER_FROM}>"
    settings.SEND_ALLOWLIST = []
    settings.AUTOSEND_ENABLED = False  # every email is sent by a person pressing "Send now"
    settings.OUTBOUND_SEND_DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    settings.OUTBOUND_SEND_HOURS = "0-24"
    settings.OUTBOUND_DAILY_CAP = 100
    # The owner's notifications by email, to an inbox of their own at the same SMTP server.
    from clientsflow.site import site_settings_update

    settings.OWNER_EMAIL = OWNER_INBOX
    smtp.owner_address = OWNER_INBOX
    site_settings_update(notify_via="email")
    return settings


def run_job(name: str) -> dict:
    """What the dispatcher does when the job comes due: claim a JobRun, run it (eager task)."""
    from clientsflow.dispatcher import dispatch_tick, registry
    from clientsflow.models import JobRun

    assert dispatch_tick(jobs={name: registry()[name]}) == [name]
    run = JobRun.objects.filter(job=name).latest("pk")
    assert run.status == JobRun.Status.SUCCEEDED, run.error
    return run.result


def approve_and_send_in_admin(page, message_pk: int, number: int, step: str) -> None:
    page.goto(f"/admin/outreach/outboundmessage/{message_pk}/change/")
    page.click("input[name=_approve]")
    page.wait_for_selector("text=Approved.")
    page.click("input[name=_send_now]")
    page.wait_for_selector("text=Sent 1 email(s).")
    screenshot(page, number, step, full_page=True)


def post(url: str, **kwargs) -> httpx.Response:
    response = httpx.post(url, timeout=15, **kwargs)
    assert response.status_code == 200, response.text
    return response


def test_one_lead_from_webhook_to_paid_through_every_real_path(
    new_page, owner, live_server, journey_settings, smtp, expect_console_errors
):
    from billing.models import Payment, Proposal
    from bookings.demo import host_and_event_type
    from bookings.models import Booking
    from calls.models import Call
    from classify.models import Classification
    from leads.models import Lead
    from outreach.models import Enrollment, InboundReply, OutboundMessage, Sequence, SequenceStep

    base = live_server.url
    sequence = Sequence.objects.create(name="Warm intro", is_active=True)
    SequenceStep.objects.create(
        sequence=sequence,
        position=1,
        delay_hours=0,
        intent="Introduce the agency and ask for a call.",
        subject_template="A quick idea for {{ lead.company }}",
        body_template="Hi {{ lead.first_name }},\n\nWould a 20-minute call next week make sense?",
    )
    SequenceStep.objects.create(  # due three days after the first is sent: the reply stops it first
        sequence=sequence,
        position=2,
        delay_hours=72,
        intent="A gentle follow-up.",
        subject_template="Re: A quick idea for {{ lead.company }}",
        body_template="Hi {{ lead.first_name }}, just bringing this back to the top of your inbox.",
    )
    event_type = host_and_event_type(owner)
    admin = logged_in_page(new_page, owner, live_server)

    def lead() -> Lead:
        return Lead.objects.get(email_normalized=LEAD_EMAIL)

    # 1. A signed lead webhook creates the lead; its card is in New.
    body = json.dumps({"name": "Grace Hopper", "email": LEAD_EMAIL, "company": "Navy Labs"}).encode()
    post(
        f"{base}/webhooks/leads/website/",
        content=body,
        headers={"Content-Type": "application/json", "X-Signature": f"sha256={hmac_hex(LEAD_SECRET, body)}"},
    )
    grace = wait_for(lambda: Lead.objects.filter(email_normalized=LEAD_EMAIL).first(), what="the lead")
    admin.goto("/board/")
    card = f"#card-{grace.public_id}"
    assert admin.locator(f"#col-new {card}").count() == 1
    screenshot(admin, 1, "lead-on-board")

    # 2. Enrolled from the admin's lead list; the dispatcher drafts the first step.
    admin.goto("/admin/leads/lead/")
    admin.check(f"input[name=_selected_action][value='{grace.pk}']")
    admin.select_option("select[name=action]", "enroll_in_sequence")
    admin.click("button[name=index]")
    admin.wait_for_selector("text=Will be enrolled?")
    screenshot(admin, 2, "enroll-confirm")
    admin.click("input[value='Yes, enroll them']")
    admin.wait_for_selector("text=Enrolled 1 lead(s) in Warm intro.")
    enrollment = Enrollment.objects.get(lead=grace)
    assert enrollment.status == Enrollment.Status.ACTIVE
    assert run_job("sequence_drafts")["drafted"] == 1
    draft = OutboundMessage.objects.get(lead=grace, kind="sequence")
    assert draft.status == "draft" and draft.subject == "A quick idea for Navy Labs"

    # The admin opens on what needs the owner: the draft is counted, and the review queue shows
    # the lead, the step, the subject and the first line of the body.
    admin.goto("/admin/")
    assert "1 Drafts awaiting approval" in " ".join(admin.inner_text(".needs-you").split())
    screenshot(admin, 3, "admin-needs-you", full_page=True)
    admin.click(".needs-you a:has-text('Drafts awaiting approval')")
    admin.wait_for_selector("#result_list")
    row = " ".join(admin.inner_text("#result_list tbody tr").split())
    assert "Grace Hopper" in row and "A quick idea for Navy Labs" in row and "Would a 20-minute call" in row
    screenshot(admin, 4, "review-queue")

    # 3. Approved and sent by the owner in the review queue; the SMTP server receives it.
    admin.goto(f"/admin/outreach/outboundmessage/{draft.pk}/change/")
    admin.wait_for_selector("text=The conversation so far")
    screenshot(admin, 5, "draft-in-review", full_page=True)
    approve_and_send_in_admin(admin, draft.pk, 6, "first-email-sent")
    draft.refresh_from_db()
    assert draft.status == "sent" and draft.approved_by == owner
    first_email = smtp.wait_for(1)[0]
    assert smtp.recipients[0] == [LEAD_EMAIL]
    assert first_email["Message-ID"] == draft.message_id
    assert first_email["Subject"] == "A quick idea for Navy Labs"
    assert text_of(first_email).startswith("Hi Grace,\n\nWould a 20-minute call next week make sense?")
    assert lead().stage == "contacted"

    # 4. Grace replies (Mailgun inbound, signed); the local model labels it positive.
    post(
        f"{base}/webhooks/replies/",
        data=mailgun_inbound_form(
            key=MAILGUN_KEY,
            sender=LEAD_EMAIL,
            sender_name="Grace Hopper",
            to=OWNER_FROM,
            subject="Re: A quick idea for Navy Labs",
            text="Sounds great — can we talk Thursday?",
            in_reply_to=draft.message_id,
        ),
    )
    reply = wait_for(lambda: InboundReply.objects.filter(lead=grace).first(), what="the reply")
    assert reply.in_reply_to == draft.message_id
    assert run_job("replies_classify") == {"classified": 1, "failed": 0, "applied": 0}
    classification = Classification.objects.get(reply=reply)
    assert classification.label == "positive", (classification.label, classification.confidence)
    assert classification.backend == "local"  # no Anthropic key: the local model decided
    assert lead().stage == "replied"
    enrollment.refresh_from_db()
    assert enrollment.status == Enrollment.Status.STOPPED
    admin.goto("/board/")
    assert admin.locator(f"#col-replied {card}").count() == 1
    assert "Positive reply" in admin.inner_text(f"#col-replied {card}")  # the classification's badge
    admin.locator(f"#col-replied {card}").scroll_into_view_if_needed()  # the board scrolls sideways
    screenshot(admin, 7, "replied-on-board")

    # 5. Grace books a call on her phone; the ICS confirmation arrives by SMTP.
    phone = new_page(viewport={"width": 390, "height": 844}, timezone_id="America/New_York")
    phone.goto(f"/book/{event_type.slug}/")
    phone.wait_for_url(re.compile(r"tz=America%2FNew_York"))  # her browser's zone, first in the picker
    assert phone.locator("a.day-link").count() >= 1  # the month calendar marks the free days
    screenshot(phone, 8, "booking-calendar-phone", full_page=True)
    phone.locator("a.slot").first.click()
    phone.fill("#id_name", "Grace Hopper")
    phone.fill("#id_email", LEAD_EMAIL)
    phone.fill("#id_note", "Thursday works best")
    screenshot(phone, 9, "booking-form-phone")
    phone.click("button:has-text('Confirm booking')")
    phone.wait_for_selector("#booking-confirmed")
    assert "You're booked!" in phone.inner_text("#booking-confirmed")
    screenshot(phone, 10, "booking-confirmed-phone")
    booking = Booking.objects.get(lead=grace)
    assert booking.invite_status == Booking.InviteStatus.FALLBACK_SENT
    local = booking.start_at.astimezone(ZoneInfo("America/New_York"))  # her browser's zone, not UTC
    assert f"{local:%H:%M}\u2013" in phone.inner_text("#booking-when")  # start, en dash, end
    invite = smtp.wait_for(2)[1]
    assert smtp.recipients[1] == [LEAD_EMAIL]
    assert "text/calendar" in attachment_types(invite), attachment_types(invite)
    ics = next(part for part in invite.walk() if part.get_content_type() == "text/calendar").get_content()
    ics = ics.decode() if isinstance(ics, bytes) else ics
    assert f"DTSTART:{booking.start_at:%Y%m%dT%H%M%SZ}" in ics and LEAD_EMAIL in ics
    [calendar_part] = [part for part in invite.walk() if part.get_content_type() == "text/calendar"]
    assert calendar_part["Content-Type"].lower().count("charset") == 1, calendar_part["Content-Type"]
    assert lead().stage == "booked"

    # 6. Fireflies says the call was transcribed; the transcript fetch is answered by respx.
    transcript = fireflies_transcript(
        meeting_id=MEETING_ID,
        lead_email=LEAD_EMAIL,
        lead_name="Grace Hopper",
        company="Navy Labs",
        started_ms=int(booking.start_at.timestamp() * 1000),
    )
    hook = json.dumps({"event": "meeting.transcribed", "meeting_id": MEETING_ID, "timestamp": 0}).encode()
    with respx.mock(assert_all_called=True) as router:
        fireflies = router.post(journey_settings.FIREFLIES_API_URL).mock(
            return_value=httpx.Response(200, json=transcript)
        )
        router.route(host=httpx.URL(base).host).pass_through()  # our own POST to the live server
        post(
            f"{base}/webhooks/fireflies/",
            content=hook,
            headers={
                "Content-Type": "application/json",
                "X-Hub-Signature": f"sha256={hmac_hex(FIREFLIES_SECRET, hook)}",
            },
        )
        call = wait_for(
            lambda: Call.objects.filter(fireflies_id=MEETING_ID, lead=grace, status=Call.Status.FETCHED).first(),
            what="the fetched call linked to the lead",
        )
    assert fireflies.called
    assert "Grace Hopper" in call.transcript_text and call.match_method == Call.MatchMethod.EMAIL
    assert lead().stage == "call_done"
    admin.goto(f"/board/lead/{grace.public_id}/")
    screenshot(admin, 11, "call-on-lead-page", full_page=True)

    # 7. A proposal written in the admin and sent with the admin action, through the gate.
    admin.goto("/admin/billing/proposal/add/")
    admin.fill("#id_lead", str(grace.pk))
    admin.fill("#id_title", "Compiler consulting")
    admin.fill("#id_currency", "USD")
    admin.fill("#id_valid_until", (booking.start_at + timedelta(days=30)).date().isoformat())
    admin.fill("#id_lines-0-description", "Compiler audit")
    admin.fill("#id_lines-0-quantity", "3")
    admin.fill("#id_lines-0-unit_price", "333.33")
    screenshot(admin, 12, "proposal-add-form", full_page=True)
    admin.click("input[name=_save]")
    admin.wait_for_selector("text=was added successfully")
    proposal = Proposal.objects.get(lead=grace)
    assert proposal.total_minor == 99999
    admin.check(f"input[name=_selected_action][value='{proposal.pk}']")
    admin.select_option("select[name=action]", "send_for_approval")
    admin.click("button[name=index]")
    admin.wait_for_selector("text=waiting in the outbound review queue")
    proposal.refresh_from_db()
    proposal_email = OutboundMessage.objects.get(pk=proposal.outbound_message_id)
    assert proposal_email.status == "draft"
    admin.goto(f"/admin/outreach/outboundmessage/{proposal_email.pk}/change/")
    # The reviewer sees the lead's last reply with the model's label beside the proposal email.
    assert "classified positive" in " ".join(admin.inner_text(".conversation").split())
    approve_and_send_in_admin(admin, proposal_email.pk, 13, "proposal-email-sent")
    sent_proposal = smtp.wait_for(3)[2]
    assert smtp.recipients[2] == [LEAD_EMAIL]
    # Threaded with the conversation (which of the two is last is a tie within one second here).
    assert set(sent_proposal["References"].split()) == {draft.message_id, reply.message_id}
    assert run_job("proposal_outbound_sync") == {"sent": 1}
    proposal.refresh_from_db()
    assert proposal.status == Proposal.Status.SENT
    assert lead().stage == "proposal_sent"
    # Sent: its lines show their unit price and are read-only; its versions and a preview are there.
    admin.goto(f"/admin/billing/proposal/{proposal.pk}/change/")
    lines = " ".join(admin.inner_text("#lines-group").split())
    assert "Unit price: $333.33" in lines and admin.locator("#lines-group input[name$=unit_price]").count() == 0
    assert "v1 · Sent" in admin.inner_text("#content") and admin.locator("text=Preview what the lead sees").count() == 1
    screenshot(admin, 14, "proposal-in-admin", full_page=True)
    link = re.search(r"(http\S+/p/\S+/)", text_of(sent_proposal)).group(1)
    assert link.startswith(base)

    # 8. Grace opens the link from the email on her phone, reads and signs.
    phone.goto(link)
    assert phone.locator("h1#proposal-title").inner_text() == "Compiler consulting"
    assert "$999.99" in phone.content()
    screenshot(phone, 15, "proposal-on-phone", full_page=True)
    phone.fill("#full_name", "Grace Hopper")
    phone.check("#consent")
    phone.click("button:text-is('Sign')")
    phone.wait_for_selector("text=Signed. Thank you!")
    screenshot(phone, 16, "proposal-signed-phone", full_page=True)
    proposal.refresh_from_db()
    assert proposal.status == Proposal.Status.SIGNED and proposal.viewed_at is not None
    signature = proposal.signature
    assert (signature.signer_name, signature.signer_email) == ("Grace Hopper", LEAD_EMAIL)
    assert "Chrome" in signature.user_agent and len(signature.content_sha256) == 64
    assert lead().stage == "signed"
    # Her signed copy arrives as a PDF with the signature record (billing/services/signed_pdf.py).
    signed_copy = smtp.wait_for(4)[3]
    assert smtp.recipients[3] == [LEAD_EMAIL] and signed_copy["Subject"] == "Your signed proposal: Compiler consulting"
    [pdf] = [part for part in signed_copy.iter_attachments() if part.get_content_type() == "application/pdf"]
    assert pdf.get_content().startswith(b"%PDF")

    # 9. She pays: our server creates the Checkout Session through the stripe SDK (Stripe's API
    # answered at the transport), her browser goes to Stripe's page (a stand-in: no internet), she
    # pays there, Stripe posts a signed `checkout.session.completed` and sends her back.
    stripe_api = StripeFake()
    # Playwright answers the stand-in only after Chromium has tried to look up checkout.stripe.com
    # for our 303 and failed (there is no DNS here); that first attempt is reported as failed.
    expect_console_errors(r"request failed: GET https://checkout\.stripe\.com/c/pay/\S+: net::ERR_NAME_NOT_RESOLVED$")
    phone.route("https://checkout.stripe.com/**", lambda route: route.fulfill(content_type="text/html", body=CHECKOUT))
    with respx.mock(assert_all_called=True) as router:
        stripe_api.mount(router)
        router.route(host=httpx.URL(base).host).pass_through()  # our own POSTs to the live server
        phone.click("button:has-text('Pay $999.99 securely with Stripe')")
        phone.wait_for_url("https://checkout.stripe.com/c/pay/cs_test_journey")
        screenshot(phone, 17, "stripe-checkout-phone")
        sent = stripe_api.created_with
        assert sent["client_reference_id"] == str(grace.public_id) and sent["customer_email"] == LEAD_EMAIL
        assert sent["metadata[proposal_id]"] == str(proposal.pk) and sent["metadata[proposal_version]"] == "1"
        assert sent["line_items[0][price_data][unit_amount]"] == "99999"
        assert sent["success_url"].startswith(f"{base}/p/") and stripe_api.idempotency_keys[0]
        assert Payment.objects.get(proposal=proposal).status == Payment.Status.OPEN

        stripe_api.pay()
        payload = stripe_api.completed_event()
        post(
            f"{base}/webhooks/stripe/",
            content=payload.encode(),
            headers={
                "Content-Type": "application/json",
                "Stripe-Signature": stripe.WebhookSignature.generate_signature_header(payload, STRIPE_SECRET),
            },
        )
        payment = wait_for(
            lambda: Payment.objects.filter(checkout_session_id="cs_test_journey", status="paid").first(),
            what="the paid payment",
        )
        phone.goto(success_url_for(stripe_api.session))
        phone.wait_for_selector("text=Payment received. Thank you!")
        screenshot(phone, 18, "payment-received-phone")
    assert payment.amount_minor == 99999 and payment.lead_id == grace.pk
    assert payment.payment_intent_id == "pi_journey" and Payment.objects.count() == 1
    assert lead().stage == "paid"

    # The card is in Paid, and the lead page's timeline tells the whole story.
    admin.goto("/board/")
    assert admin.locator(f"#col-paid {card}").count() == 1
    assert "Positive reply" not in admin.inner_text(f"#col-paid {card}")  # long past `replied`
    admin.locator(f"#col-paid {card}").scroll_into_view_if_needed()  # the board scrolls sideways
    screenshot(admin, 19, "paid-on-board")
    admin.goto(f"/board/lead/{grace.public_id}/")
    entries = [" ".join(text.split()) for text in admin.locator(".timeline .timeline-entry").all_inner_texts()]
    screenshot(admin, 20, "lead-timeline", full_page=True)
    oldest_first = entries[::-1]
    steps = [  # what each step left on the timeline, in the order the steps happened
        ["Arrived from website"],
        ["Enrolled in Warm intro"],
        ["Email sent: A quick idea for Navy Labs", "Moved to Contacted From New · First email sent"],
        [
            "Replied: Re: A quick idea for Navy Labs",
            "Moved to Replied From Contacted · The lead replied",
            "Sequence Warm intro stopped: the lead replied",
        ],
        ["Booked Intro call for", "Moved to Booked From Replied · Booked Intro call"],
        ["Sales call: Discovery call: Navy Labs", "Moved to Call done From Booked · Sales call recorded"],
        ["Email sent: Your proposal: Compiler consulting", "Moved to Proposal sent From Call done"],
        ["Proposal viewed: Compiler consulting (v1)"],
        ["Moved to Signed From Proposal sent · Proposal signed: Compiler consulting (v1)"],
        ["Payment received: $999.99 for Compiler consulting (v1)", "Moved to Paid From Signed"],
    ]
    previous_last = -1
    for texts in steps:
        found = [next((i for i, entry in enumerate(oldest_first) if text in entry), None) for text in texts]
        assert None not in found, (texts, found, oldest_first)
        assert min(found) > previous_last, (texts, oldest_first)  # after every entry of the step before
        previous_last = max(found)

    # The owner heard of each step once: the booking, the positive reply, the signature, the payment.
    wanted = ("New call booked: Grace", "Positive reply: Grace", "Proposal signed: Grace", "Payment received: $999.99")
    wait_for(
        lambda: all(any(m["Subject"].startswith(w) for m in smtp.owner_messages) for w in wanted),
        what="the owner's notifications",
    )
    owner_subjects = [str(m["Subject"]) for m in smtp.owner_messages]
    for prefix in wanted:
        assert sum(subject.startswith(prefix) for subject in owner_subjects) == 1, (prefix, owner_subjects)

    # The next morning's digest (yesterday = today's journey): sent once, a second send says so;
    # its HTML email is screenshotted in a blank page (no CSP of ours, as in a mail client).

    from django.core.management import call_command

    from clientsflow.models import Notification
    from reports.digest import owner_today

    tomorrow = (owner_today() + timedelta(days=1)).isoformat()
    call_command("digest", "--send", "--date", tomorrow)
    call_command("digest", "--send", "--date", tomorrow)
    digests = [m for m in smtp.owner_messages if str(m["Subject"]).startswith("Your day")]
    assert len(digests) == 1
    assert Notification.objects.filter(key=f"digest:{tomorrow}", status="sent").count() == 1
    html = digests[0].get_body(preferencelist=("html",)).get_content()
    assert "$999.99" in html and "website 1" in html  # yesterday's revenue and new lead by source
    mail_view = new_page(viewport={"width": 720, "height": 1000})
    mail_view.set_content(html)
    screenshot(mail_view, 21, "digest-email", full_page=True)
