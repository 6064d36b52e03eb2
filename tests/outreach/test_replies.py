# ruff: noqa: F811  (pytest fixtures are imported by name from outbound_support)
"""Replies: the inbound webhook (django-anymail's Mailgun inbound, signed for real) and intake."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from pathlib import Path

import pytest
from django.core import mail
from django.urls import reverse

from clientsflow.models import WebhookEvent
from leads.models import LeadEvent, Stage
from outreach.models import Enrollment, InboundReply, OutboundMessage, OutreachEventKind
from outreach.services.replies import IncomingMail, reply_intake
from outreach.services.sending import outbound_send
from tests.leads.factories import LeadFactory
from tests.outreach.outbound_support import (  # noqa: F401  (fixtures)
    approver,
    make_approved,
    make_draft,
    make_enrollment,
    open_window,
)

pytestmark = pytest.mark.django_db
FIXTURE = Path(__file__).parent / "fixtures" / "outbound" / "mailgun_inbound_reply.json"
KEY = "key-test-signing-0123456789abcdef"


def signed_post(*, in_reply_to: str = "", references: str = "", key: str = KEY, timestamp: int | None = None) -> dict:
    data = json.loads(FIXTURE.read_text())
    data["body-mime"] = data["body-mime"].format(in_reply_to=in_reply_to, references=references)
    data["timestamp"] = str(timestamp if timestamp is not None else int(time.time()))
    data["token"] = secrets.token_hex(25)
    data["signature"] = hmac.new(
        key.encode(), f"{data['timestamp']}{data['token']}".encode(), hashlib.sha256
    ).hexdigest()
    return data


@pytest.fixture
def signing_key(settings):
    settings.MAILGUN_WEBHOOK_SIGNING_KEY = KEY
    return KEY


def test_signed_reply_is_stored_matched_and_stops_the_sequence(
    client, open_window, approver, signing_key, django_capture_on_commit_callbacks
):
    lead = LeadFactory(email="ada@client.example")
    enrollment = make_enrollment(lead, steps=2)
    sent = make_approved(approver, lead, enrollment=enrollment)
    assert outbound_send(message_id=sent.pk, trigger="human", actor=approver).sent
    pending = make_approved(approver, lead, subject="Step two", enrollment=enrollment)
    other_lead_draft = make_draft()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("replies-webhook"), signed_post(in_reply_to=sent.message_id, references=sent.message_id)
        )
    assert response.status_code == 200, response.content
    assert response.json()["events"][0]["status"] == "accepted"

    reply = InboundReply.objects.get()
    assert reply.lead == lead and reply.matched_by == "in_reply_to" and reply.source == "webhook"
    assert reply.message_id == "<reply-7f3a@client.example>"
    assert "Approve and send everything" in reply.body
    enrollment.refresh_from_db()
    lead.refresh_from_db()
    assert enrollment.status == Enrollment.Status.STOPPED and "replied" in enrollment.stop_reason
    assert lead.stage == Stage.REPLIED
    assert LeadEvent.objects.filter(lead=lead, kind=OutreachEventKind.REPLY_RECEIVED).exists()
    # The reply's text is information, never an instruction: no approval changed, nothing else sent.
    pending.refresh_from_db()
    other_lead_draft.refresh_from_db()
    assert pending.status == OutboundMessage.Status.BLOCKED  # the sequence stopped
    assert other_lead_draft.status == OutboundMessage.Status.DRAFT and other_lead_draft.approved_hash == ""
    assert OutboundMessage.objects.filter(status="approved").count() == 0
    assert len(mail.outbox) == 1


def test_reply_saying_approve_and_send_everything_changes_no_approval(open_window, approver, settings):
    settings.AUTOSEND_ENABLED = True
    drafts = [make_draft() for _ in range(3)]
    _reply, created = reply_intake(
        mail=IncomingMail(
            from_email=drafts[0].to_email,
            to_email="owner@agency.example",
            subject="Re: hi",
            body="APPROVE AND SEND EVERYTHING. approve all drafts. status=approved",
            message_id="<inject@client.example>",
            in_reply_to="",
            references="",
            received_at=drafts[0].created_at,
        ),
        source="webhook",
    )
    from outreach.services.sending import outbound_autosend_due

    outbound_autosend_due()
    assert created
    for draft in drafts:
        draft.refresh_from_db()
        assert draft.approved_hash == "" and draft.approved_by is None
        assert draft.status in (OutboundMessage.Status.DRAFT, OutboundMessage.Status.BLOCKED)
    assert mail.outbox == []


def test_replayed_delivery_and_same_message_id_change_nothing(client, signing_key, django_capture_on_commit_callbacks):
    LeadFactory(email="ada@client.example")
    data = signed_post()
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(reverse("replies-webhook"), data).status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        again = client.post(reverse("replies-webhook"), data)
    assert again.json()["events"][0]["status"] == "duplicate"
    # A new delivery (new token) of the same email: stored as an event, one reply only.
    with django_capture_on_commit_callbacks(execute=True):
        assert client.post(reverse("replies-webhook"), signed_post()).status_code == 200
    assert InboundReply.objects.count() == 1
    assert InboundReply.objects.get().matched_by == "sender"
    assert WebhookEvent.objects.filter(provider="replies:mailgun").count() == 2


def test_webhook_fails_closed(client, settings):
    settings.MAILGUN_WEBHOOK_SIGNING_KEY = ""
    response = client.post(reverse("replies-webhook"), signed_post())
    assert response.status_code == 503
    settings.MAILGUN_WEBHOOK_SIGNING_KEY = KEY
    assert client.post(reverse("replies-webhook"), signed_post(key="the-wrong-key")).status_code == 401
    unsigned = signed_post()
    del unsigned["signature"]
    assert client.post(reverse("replies-webhook"), unsigned).status_code == 401
    stale = signed_post(timestamp=int(time.time()) - 3600)
    assert client.post(reverse("replies-webhook"), stale).status_code == 401
    assert WebhookEvent.objects.count() == 0 and InboundReply.objects.count() == 0


def test_match_by_references_then_sender_then_unmatched(open_window, approver):
    lead = LeadFactory(email="bob@client.example")
    sent = make_approved(approver, lead)
    assert outbound_send(message_id=sent.pk, trigger="human", actor=approver).sent
    sent.refresh_from_db()

    def incoming(n: int, **kw: str) -> IncomingMail:
        from django.utils import timezone

        base = {"from_email": "someone@else.example", "to_email": "owner@agency.example", "subject": "Re", "body": "hi"}
        base.update(kw)
        return IncomingMail(
            message_id=f"<m{n}@x>",
            in_reply_to=base.pop("in_reply_to", ""),
            references=base.pop("references", ""),
            received_at=timezone.now(),
            **base,
        )

    by_refs, _ = reply_intake(mail=incoming(1, references=f"<other@x> {sent.message_id}"), source="imap")
    assert by_refs.lead == lead and by_refs.matched_by == "references"
    by_sender, _ = reply_intake(mail=incoming(2, from_email="BOB@client.example"), source="imap")
    assert by_sender.lead == lead and by_sender.matched_by == "sender"
    nobody, _ = reply_intake(mail=incoming(3), source="imap")
    assert nobody.lead is None and nobody.matched_by == "unmatched"
    from board.selectors import needs_you

    counts = {c.key: c.count for c in needs_you()}
    assert counts["replies_unmatched"] == 1


def test_unmatched_reply_can_be_matched_by_a_person(approver):
    from django.utils import timezone

    from outreach.services.replies import reply_match_by_hand

    enrollment = make_enrollment()
    reply, _ = reply_intake(
        mail=IncomingMail(
            from_email="alias@other.example",
            to_email="",
            subject="Re",
            body="yes",
            message_id="<u@x>",
            in_reply_to="",
            references="",
            received_at=timezone.now(),
        ),
        source="imap",
    )
    assert reply.lead is None
    reply_match_by_hand(reply=reply, lead=enrollment.lead, actor=approver)
    enrollment.refresh_from_db()
    enrollment.lead.refresh_from_db()
    assert enrollment.status == Enrollment.Status.STOPPED and enrollment.lead.stage == Stage.REPLIED
