"""The admin as the owner works it, in Debian's chromium at desktop and phone width (390 px): the
index with "Needs you", the review queue (list and draft), the classification review, an unmatched
call and a sent proposal. Each page: no axe violations, nothing in the console, no sideways scroll
on a desktop, and a screenshot. "Approve and next" works from the keyboard."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from tests.browser.conftest import PHONE, axe_violations, logged_in_page, save_screenshot

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

VIEWPORTS = {"phone": PHONE, "desktop": {"width": 1440, "height": 900}}


@pytest.fixture
def review_data(owner: Any, settings: Any) -> dict[str, int]:
    """One of each thing the owner reviews: drafts with a reply, a queued classification, an
    unmatched call with suggestions, and a sent proposal."""
    from calls.services.matching import call_match
    from classify.services.classification import reply_classify
    from outreach.models import InboundReply
    from tests.billing.conftest import sent_proposal
    from tests.calls.factories import CallFactory
    from tests.classify.factories import InboundReplyFactory
    from tests.leads.factories import LeadFactory
    from tests.outreach.outbound_support import make_draft

    settings.ANTHROPIC_API_KEY = ""
    maya = LeadFactory(name="Maya Chen", company="Brightline Dental", email="maya@brightline.example")
    InboundReply.objects.create(
        lead=maya,
        from_email=maya.email,
        from_email_normalized=maya.email,
        subject="Re: A faster booking page for Brightline",
        body="Thanks for reaching out. What would a new booking page cost, roughly?\n\nMaya",
        received_at=timezone.now() - timedelta(hours=3),
    )
    first = make_draft(
        maya,
        subject="Re: A faster booking page for Brightline",
        body="Hi Maya,\n\nMost booking pages like yours land between $2,000 and $3,500. "
        "Would a 20-minute call on Thursday work to scope it?\n\nBest,\nOlivia",
    )
    make_draft(LeadFactory(name="Jonas Weber", company="Northwind Roofing"))
    classification = reply_classify(
        reply_id=InboundReplyFactory(
            body="Not the usual spam, I'll bite. What's the catch?", lead__name="Tom Becker"
        ).pk
    )
    LeadFactory(name="Dana Whitfield", email="dana@northwind.example", email_normalized="dana@northwind.example")
    call = call_match(
        call=CallFactory(
            title="Intro call",
            participants=["owner@agency.example", "dana.w@northwind.example"],
            attendees=[{"name": "Dana Whitfield", "email": "dana.w@northwind.example"}],
        )
    )
    proposal = sent_proposal()
    return {"draft": first.pk, "classification": classification.pk, "call": call.pk, "proposal": proposal.pk}


def _pages(data: dict[str, int]) -> list[tuple[str, str, str]]:
    return [
        ("admin-index", "/admin/", "#needs-you-title"),
        ("admin-drafts", "/admin/outreach/outboundmessage/?status__exact=draft", "#result_list"),
        ("admin-draft", f"/admin/outreach/outboundmessage/{data['draft']}/change/", ".conversation"),
        ("admin-classifications", "/admin/classify/classification/?needs_review__exact=1", "#result_list"),
        ("admin-classification", f"/admin/classify/classification/{data['classification']}/change/", ".reply-text"),
        ("admin-unmatched-call", f"/admin/calls/call/{data['call']}/change/", "#call-suggestions"),
        ("admin-proposal", f"/admin/billing/proposal/{data['proposal']}/change/", "#lines-group"),
    ]


# What the owner must read on each page, at either width (plain words, money as money, reasons).
EXPECTED = {
    "admin-index": ["Needs you", "2 Drafts awaiting approval", "Open the board", "See the reports", "Inbound replies"],
    "admin-drafts": ["Maya Chen", "Sequence step", "Most booking pages like yours", "Draft: awaiting approval"],
    "admin-draft": ["The conversation so far", "What would a new booking page cost", "Reject, because", "Details"],
    "admin-classifications": ["Tom Becker", "Mentions “spam” but does not ask to stop email"],
    "admin-classification": ["Not the usual spam, I'll bite.", "Mentions “spam” but does not ask to stop email"],
    "admin-unmatched-call": ["Dana Whitfield", "100 of 100", "Create a new lead from this call"],
    "admin-proposal": ["Unit price:", "$500.00", "$1,500.00", "Preview what the lead sees", "v1 · Sent"],
}


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
def test_review_pages_are_accessible_and_quiet(new_page, owner, live_server, review_data, viewport):
    page = logged_in_page(new_page, owner, live_server, viewport=VIEWPORTS[viewport])
    for name, url, ready in _pages(review_data):
        page.goto(url)
        page.wait_for_selector(ready)
        text = " ".join(page.inner_text("#content").split())
        missing = [words for words in EXPECTED[name] if words not in text]
        assert missing == [], f"{name} at {viewport}"
        assert "Inbound replys" not in text and '["' not in text, f"{name} shows a raw name or JSON"
        assert axe_violations(page) == [], f"{name} at {viewport}"
        if viewport == "desktop":
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= VIEWPORTS["desktop"]["width"], f"{name} scrolls sideways on a desktop"
        save_screenshot(page, f"{name}-{viewport}", full_page=True)


def test_reply_text_reads_as_lines_not_a_word_column_at_1440(new_page, owner, live_server, review_data):
    page = logged_in_page(new_page, owner, live_server, viewport=VIEWPORTS["desktop"])
    page.goto("/admin/classify/classification/?needs_review__exact=1")
    excerpt = page.locator(".reply-excerpt").first
    box = excerpt.bounding_box()
    line_height = page.evaluate(
        "parseFloat(getComputedStyle(document.querySelector('.reply-excerpt')).lineHeight) || 20"
    )
    assert box["width"] >= 200 and box["height"] <= line_height * 1.5, box
    page.goto(f"/admin/classify/classification/{review_data['classification']}/change/")
    block = page.locator(".reply-text").first.bounding_box()
    assert block["width"] >= 300, block


def test_approve_and_next_from_the_keyboard(new_page, owner, live_server, review_data):
    from outreach.models import OutboundMessage

    page = logged_in_page(new_page, owner, live_server, viewport=VIEWPORTS["desktop"])
    page.goto(f"/admin/outreach/outboundmessage/{review_data['draft']}/change/")
    page.wait_for_selector(".conversation")
    page.locator("body").click(position={"x": 5, "y": 5})  # focus outside the text fields
    page.keyboard.press("a")
    page.wait_for_url(lambda url: f"/{review_data['draft']}/" not in url)
    assert "Here is the next draft." in page.content()
    assert OutboundMessage.objects.get(pk=review_data["draft"]).status == OutboundMessage.Status.APPROVED
    save_screenshot(page, "admin-approve-and-next")


def test_editing_an_approved_draft_on_a_phone_says_the_approval_was_cancelled(
    new_page, owner, live_server, review_data
):
    from outreach.models import OutboundMessage

    page = logged_in_page(new_page, owner, live_server, viewport=PHONE)
    page.goto(f"/admin/outreach/outboundmessage/{review_data['draft']}/change/")
    page.click("input[name=_approve]")
    page.wait_for_selector("text=Approved.")
    page.fill("#id_body", "Hi Maya,\n\nA shorter note: would Thursday work for a call?\n\nOlivia")
    page.click("input[name=_save]")
    message = page.locator(".messagelist")
    message.wait_for()
    assert "Your edit cancelled the approval — approve again to send." in message.inner_text()
    assert "changed successfully" not in page.content()
    assert OutboundMessage.objects.get(pk=review_data["draft"]).status == OutboundMessage.Status.DRAFT
    assert axe_violations(page) == []
    save_screenshot(page, "admin-edit-voids-approval-phone", full_page=True)
