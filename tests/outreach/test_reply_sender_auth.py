# ruff: noqa: F811  (pytest fixtures are imported by name from outbound_support and test_imap)
"""A reply matched only by its From address acts on the lead only when the sender authenticated.

Forged From, no thread headers, nothing authenticating the sender: stored, shown "sender not
verified", waiting in the review queue; the lead's stage and sequence do not move, not even when
classification reads it as a "no". Replies threaded to our own Message-IDs act as before.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from email import message_from_string

import pytest
from django.contrib.auth.models import Permission, User
from django.urls import reverse

from classify.models import Classification
from classify.services.classification import replies_classify_pending
from clientsflow.models import AuditEvent
from leads.models import LeadEvent, Stage
from outreach.models import Enrollment, InboundReply
from outreach.selectors import unverified_replies_count
from outreach.services.replies import replies_poll_imap, reply_apply
from outreach.services.sender_auth import check_authentication_results, parse_authentication_results
from outreach.services.sending import outbound_send
from tests.leads.factories import LeadFactory
from tests.outreach.outbound_support import approver, make_approved, make_enrollment, open_window  # noqa: F401
from tests.outreach.test_imap import append, dovecot, reply  # noqa: F401

pytestmark = pytest.mark.django_db
KEY = "key-test-signing-0123456789abcdef"
NEGATIVE = "No thanks, we already have an agency we're happy with."


def mime(*, sender: str = "Ada Lovelace <ada@client.example>", extra: str = "", in_reply_to: str = "") -> str:
    thread = f"In-Reply-To: {in_reply_to}\r\nReferences: {in_reply_to}\r\n" if in_reply_to else ""
    return (
        f"{extra}Received: from mail.client.example\r\nFrom: {sender}\r\nTo: owner@agency.example\r\n"
        f"Subject: Re: Quick question\r\nDate: Tue, 24 Nov 2026 10:15:00 +0000\r\n"
        f"Message-ID: <{secrets.token_hex(6)}@client.example>\r\n{thread}MIME-Version: 1.0\r\n"
        f'Content-Type: text/plain; charset="utf-8"\r\n\r\n{NEGATIVE}\r\n'
    )


def signed_post(body_mime: str, **fields: str) -> dict[str, str]:
    data = {"recipient": "owner@agency.example", "sender": "ada@client.example", "body-mime": body_mime, **fields}
    data["timestamp"] = str(int(time.time()))
    data["token"] = secrets.token_hex(25)
    data["signature"] = hmac.new(
        KEY.encode(), f"{data['timestamp']}{data['token']}".encode(), hashlib.sha256
    ).hexdigest()
    return data


@pytest.fixture
def lead_in_sequence(settings):  # type: ignore[no-untyped-def]
    settings.MAILGUN_WEBHOOK_SIGNING_KEY = KEY
    settings.ANTHROPIC_API_KEY = ""  # the local classifier reads the reply
    lead = LeadFactory(email="ada@client.example")
    return lead, make_enrollment(lead)


def deliver(client, django_capture_on_commit_callbacks, data):  # type: ignore[no-untyped-def]
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(reverse("replies-webhook"), data)
    assert response.status_code == 200, response.content
    replies_classify_pending()  # the dispatcher's job, every minute
    return InboundReply.objects.order_by("-pk").first()


def assert_untouched(lead, enrollment) -> None:  # type: ignore[no-untyped-def]
    lead.refresh_from_db()
    enrollment.refresh_from_db()
    assert lead.stage == Stage.NEW and not lead.stage_changes.exists()
    assert enrollment.status == Enrollment.Status.ACTIVE


def test_forged_from_with_no_authentication_is_held_not_applied(
    client, lead_in_sequence, django_capture_on_commit_callbacks
):
    lead, enrollment = lead_in_sequence
    stored = deliver(client, django_capture_on_commit_callbacks, signed_post(mime()))
    assert stored.lead == lead and stored.matched_by == "sender"
    assert stored.held_for_review and stored.sender_verified is False
    # Classification read it as a "no", but a forged "no" closes nothing and suppresses nothing.
    classification = Classification.objects.get(reply=stored)
    assert classification.label == "negative"
    assert classification.policy_action == Classification.PolicyAction.QUEUED
    assert "not verified" in classification.policy_note
    assert_untouched(lead, enrollment)
    assert unverified_replies_count() == 1
    assert LeadEvent.objects.filter(lead=lead, summary__contains="sender not verified").exists()
    assert AuditEvent.objects.filter(verb="reply.held", object_id=str(stored.pk)).exists()


def test_mailgun_dkim_pass_aligned_with_the_from_domain_applies(
    client, lead_in_sequence, django_capture_on_commit_callbacks
):
    lead, enrollment = lead_in_sequence
    signature = "DKIM-Signature: v=1; a=rsa-sha256; d=client.example; s=k1; h=from:to; bh=x; b=y\r\n"
    data = signed_post(mime(extra=signature), **{"X-Mailgun-Dkim-Check-Result": "Pass", "X-Mailgun-Spf": "Neutral"})
    stored = deliver(client, django_capture_on_commit_callbacks, data)
    assert stored.sender_verified and not stored.held_for_review
    assert stored.sender_check == "DKIM pass for client.example"
    lead.refresh_from_db()
    enrollment.refresh_from_db()
    assert lead.stage == Stage.LOST and enrollment.status == Enrollment.Status.STOPPED


def test_mailgun_spf_pass_for_the_from_domain_applies(client, lead_in_sequence, django_capture_on_commit_callbacks):
    _lead, enrollment = lead_in_sequence
    data = signed_post(
        mime(),
        sender="bounces@mail.client.example",
        **{"X-Mailgun-Spf": "Pass", "X-Mailgun-Dkim-Check-Result": "Fail"},
    )
    stored = deliver(client, django_capture_on_commit_callbacks, data)
    assert stored.sender_verified and stored.sender_check == "SPF pass for mail.client.example"
    enrollment.refresh_from_db()
    assert enrollment.status == Enrollment.Status.STOPPED


def test_mailgun_passes_for_another_domain_do_not_apply(client, lead_in_sequence, django_capture_on_commit_callbacks):
    lead, enrollment = lead_in_sequence
    signature = "DKIM-Signature: v=1; a=rsa-sha256; d=attacker.example; s=k1; h=from; bh=x; b=y\r\n"
    data = signed_post(
        mime(extra=signature),
        sender="me@attacker.example",
        **{"X-Mailgun-Dkim-Check-Result": "Pass", "X-Mailgun-Spf": "Pass"},
    )
    stored = deliver(client, django_capture_on_commit_callbacks, data)
    assert stored.held_for_review and stored.sender_verified is False
    assert_untouched(lead, enrollment)


def test_a_verdict_header_written_by_the_sender_does_not_count(
    client, lead_in_sequence, django_capture_on_commit_callbacks
):
    lead, enrollment = lead_in_sequence
    # Mailgun's own verdict is Fail; the sender added "Pass" headers of the same names.
    headers = [["X-Mailgun-Spf", "Fail"], ["X-Mailgun-Spf", "Pass"], ["X-Mailgun-Dkim-Check-Result", "Pass"]]
    data = signed_post(mime(), **{"message-headers": json.dumps(headers)})
    stored = deliver(client, django_capture_on_commit_callbacks, data)
    assert stored.held_for_review
    assert_untouched(lead, enrollment)


def test_thread_matched_reply_applies_without_sender_authentication(
    client, lead_in_sequence, open_window, approver, django_capture_on_commit_callbacks
):
    lead, enrollment = lead_in_sequence
    sent = make_approved(approver, lead, enrollment=enrollment)
    assert outbound_send(message_id=sent.pk, trigger="human", actor=approver).sent
    stored = deliver(client, django_capture_on_commit_callbacks, signed_post(mime(in_reply_to=sent.message_id)))
    assert stored.matched_by == "in_reply_to" and not stored.held_for_review and stored.sender_verified is False
    lead.refresh_from_db()
    enrollment.refresh_from_db()
    assert enrollment.status == Enrollment.Status.STOPPED and lead.stage == Stage.LOST


def reviewer(*, may_change: bool) -> User:
    user = User.objects.create_user("reviewer", "reviewer@agency.example", "pw", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_inboundreply"))
    if may_change:
        user.user_permissions.add(Permission.objects.get(codename="change_inboundreply"))
    return User.objects.get(pk=user.pk)


def test_a_person_applies_a_held_reply_from_the_admin(client, lead_in_sequence, django_capture_on_commit_callbacks):
    lead, enrollment = lead_in_sequence
    stored = deliver(client, django_capture_on_commit_callbacks, signed_post(mime()))
    url = reverse("admin:outreach_inboundreply_changelist")
    action = {"action": "apply_reply", "_selected_action": [stored.pk]}

    client.force_login(reviewer(may_change=False))
    listing = client.get(url, {"held_for_review__exact": "1"})
    assert "Sender not verified" in listing.content.decode()
    client.post(url, action)
    stored.refresh_from_db()
    assert stored.held_for_review  # viewing is not enough to apply it
    assert_untouched(lead, enrollment)

    user = User.objects.get(username="reviewer")
    user.user_permissions.add(Permission.objects.get(codename="change_inboundreply"))
    client.force_login(user)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(url, action)
    assert response.status_code == 302
    stored.refresh_from_db()
    lead.refresh_from_db()
    enrollment.refresh_from_db()
    assert not stored.held_for_review and unverified_replies_count() == 0
    assert enrollment.status == Enrollment.Status.STOPPED
    assert replies_classify_pending()["applied"] == 1  # the next tick acts on the label
    lead.refresh_from_db()
    # What would have happened: Replied, then classification's "no" moved it to Lost.
    assert list(lead.stage_changes.order_by("pk").values_list("to_stage", flat=True)) == [Stage.REPLIED, Stage.LOST]
    assert Classification.objects.get(reply=stored).policy_action == Classification.PolicyAction.MOVED_TO_LOST
    assert AuditEvent.objects.filter(verb="reply.applied", object_id=str(stored.pk), actor_user=user).exists()


def test_apply_refuses_a_reply_that_is_not_held(lead_in_sequence):
    from clientsflow.errors import DomainError

    lead, _ = lead_in_sequence
    row = InboundReply.objects.create(
        lead=lead,
        source="manual",
        from_email="x@y.example",
        from_email_normalized="x@y.example",
        received_at=lead.created_at,
    )
    with pytest.raises(DomainError):
        reply_apply(reply=row, actor=None)


# --- Authentication-Results (IMAP) ---------------------------------------------------------------


def test_authentication_results_parsing_is_robust():
    server, results = parse_authentication_results(
        "MX.Agency.example 1; (comment (nested)) DKIM=Pass (good sig) header.d=Client.example header.s=k1;"
        ' spf=pass smtp.mailfrom="bounce@client.example"; dmarc=none'
    )
    assert server == "mx.agency.example"
    assert [(r.method, r.result) for r in results] == [("dkim", "pass"), ("spf", "pass"), ("dmarc", "none")]
    assert results[0].properties["header.d"] == "Client.example"
    assert results[1].properties["smtp.mailfrom"] == "bounce@client.example"

    def check(header: str, authserv_id: str = "mx.agency.example"):  # type: ignore[no-untyped-def]
        message = message_from_string(f"Authentication-Results: {header}\nFrom: a@client.example\n\nx")
        return check_authentication_results(message, from_address="a@client.example", authserv_id=authserv_id)

    assert check("mx.agency.example; dkim=pass header.i=@mail.client.example").verified
    assert check("mx.agency.example; spf=pass smtp.mailfrom=client.example").verified
    assert not check("mx.agency.example; dkim=pass header.d=client.example.evil").verified
    assert not check("mx.agency.example; dkim=fail header.d=client.example").verified
    assert not check("mx.agency.example; dkim=pass header.d=client.example", authserv_id="").verified
    assert not check("other.example; dkim=pass header.d=client.example").verified


@pytest.fixture
def imap_lead(dovecot, settings):  # type: ignore[no-untyped-def]
    settings.IMAP_URL = dovecot["url"]
    settings.ANTHROPIC_API_KEY = ""
    lead = LeadFactory(email="ada@client.example")
    return dovecot["port"], lead, make_enrollment(lead)


def with_headers(*headers: tuple[str, str]):  # type: ignore[no-untyped-def]
    message = reply(
        sender="Ada <ada@client.example>", subject="Re: hi", message_id="<r1@client.example>", body=NEGATIVE
    )
    for name, value in headers:
        message[name] = value
    # Our receiving server prepends its header: move the ones given here to the top, in order.
    items = message._headers  # type: ignore[attr-defined]
    given = [h for h in items if h[0] == "Authentication-Results"]
    message._headers = given + [h for h in items if h[0] != "Authentication-Results"]  # type: ignore[attr-defined]
    return message


def test_imap_trusts_authentication_results_from_our_own_server(imap_lead, settings):
    port, _lead, enrollment = imap_lead
    settings.INBOUND_AUTHSERV_ID = "mx.agency.example"
    append(port, with_headers(("Authentication-Results", "mx.agency.example; dkim=pass header.d=client.example")))
    replies_poll_imap()
    stored = InboundReply.objects.get()
    assert stored.sender_verified and not stored.held_for_review
    enrollment.refresh_from_db()
    assert enrollment.status == Enrollment.Status.STOPPED


def test_imap_ignores_a_forged_authentication_results_below_ours(imap_lead, settings):
    port, lead, enrollment = imap_lead
    settings.INBOUND_AUTHSERV_ID = "mx.agency.example"
    append(
        port,
        with_headers(
            ("Authentication-Results", "mx.agency.example; dkim=none; spf=softfail smtp.mailfrom=client.example"),
            ("Authentication-Results", "mx.agency.example; dkim=pass header.d=client.example"),  # the sender's
        ),
    )
    replies_poll_imap()
    assert InboundReply.objects.get().held_for_review
    assert_untouched(lead, enrollment)


def test_imap_trusts_no_authentication_results_without_an_authserv_id(imap_lead, settings):
    port, lead, enrollment = imap_lead
    settings.INBOUND_AUTHSERV_ID = ""
    append(port, with_headers(("Authentication-Results", "mx.agency.example; dkim=pass header.d=client.example")))
    replies_poll_imap()
    stored = InboundReply.objects.get()
    assert stored.held_for_review and "INBOUND_AUTHSERV_ID" in stored.sender_check
    assert_untouched(lead, enrollment)
