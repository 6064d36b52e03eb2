# ruff: noqa: F811  (pytest fixtures are imported by name from outbound_support)
"""Which email a reply answers (`InboundReply.in_answer_to`): recorded when the reply is matched,
again when an email of unknown outcome is confirmed sent, and backfilled by the migration that
added it; always the last email sent to the lead at or before the reply, ties to the later id."""

from __future__ import annotations

import importlib
from datetime import timedelta
from typing import Any

import pytest
from django.apps import apps as global_apps
from django.utils import timezone

from outreach.models import InboundReply, OutboundMessage
from outreach.services.replies import IncomingMail, reply_intake, reply_match_by_hand
from outreach.services.review import outbound_resolve_unknown
from tests.leads.factories import LeadFactory
from tests.outreach.outbound_support import approver, make_approved  # noqa: F401  (fixtures)

pytestmark = pytest.mark.django_db

NOW = timezone.now().replace(microsecond=0)


def _email(approver: Any, lead: Any, *, status: str, sent_at: Any, **kwargs: Any) -> OutboundMessage:
    message = make_approved(approver, lead, **kwargs)
    # Its history as the sending service would have left it.
    OutboundMessage.objects.filter(pk=message.pk).update(status=status, sent_at=sent_at)
    return OutboundMessage.objects.get(pk=message.pk)


def _mail(address: str, *, at: Any, n: int = 1) -> IncomingMail:
    return IncomingMail(
        from_email=address,
        to_email="owner@agency.example",
        subject="Re: hello",
        body="Sounds good",
        message_id=f"<answer-{n}@client.example>",
        in_reply_to="",
        references="",
        received_at=at,
        sender_verified=True,
    )


def _by_time(reply: InboundReply) -> int | None:
    """The slow path, as the outreach report worked it out per reply before it was recorded."""
    candidates = [
        m
        for m in OutboundMessage.objects.filter(lead_id=reply.lead_id, status=OutboundMessage.Status.SENT)
        if m.sent_at is not None and m.sent_at <= reply.received_at
    ]
    return max(candidates, key=lambda m: (m.sent_at, m.pk)).pk if candidates else None


def test_a_reply_answers_the_last_email_sent_before_it(approver):
    lead = LeadFactory(email="ada@client.example")
    _email(approver, lead, status="sent", sent_at=NOW - timedelta(days=3), subject="One")
    second = _email(approver, lead, status="sent", sent_at=NOW - timedelta(days=2), subject="Two")
    tie = _email(approver, lead, status="sent", sent_at=NOW - timedelta(days=2), subject="Two again")
    _email(approver, lead, status="failed", sent_at=None, subject="Bounced")
    _email(approver, lead, status="sent", sent_at=NOW + timedelta(hours=1), subject="Later")
    assert second.pk < tie.pk

    reply, created = reply_intake(mail=_mail("ada@client.example", at=NOW - timedelta(days=1)), source="webhook")

    assert created and reply.in_answer_to_id == tie.pk == _by_time(reply)


def test_a_reply_before_any_email_answers_none_and_one_matched_by_hand_is_linked(approver):
    lead = LeadFactory(email="ada@client.example")
    sent = _email(approver, lead, status="sent", sent_at=NOW - timedelta(days=2))
    early, _ = reply_intake(mail=_mail("ada@client.example", at=NOW - timedelta(days=5), n=1), source="webhook")
    stranger, _ = reply_intake(mail=_mail("someone@else.example", at=NOW, n=2), source="webhook")
    assert early.in_answer_to_id is None and stranger.lead_id is None and stranger.in_answer_to_id is None

    matched = reply_match_by_hand(reply=stranger, lead=lead, actor=approver)

    assert InboundReply.objects.get(pk=matched.pk).in_answer_to_id == sent.pk


def test_an_email_confirmed_sent_takes_the_replies_that_came_after_it(approver):
    lead = LeadFactory(email="ada@client.example")
    first = _email(approver, lead, status="sent", sent_at=NOW - timedelta(days=3), subject="One")
    unknown = _email(approver, lead, status="unknown", sent_at=None, subject="Two")
    OutboundMessage.objects.filter(pk=unknown.pk).update(claimed_at=NOW - timedelta(days=2))
    before, _ = reply_intake(mail=_mail("ada@client.example", at=NOW - timedelta(days=2, hours=1), n=1), source="imap")
    after, _ = reply_intake(mail=_mail("ada@client.example", at=NOW - timedelta(days=1), n=2), source="imap")
    assert before.in_answer_to_id == after.in_answer_to_id == first.pk

    outbound_resolve_unknown(message=unknown, actor=approver, delivered=True)

    for reply in InboundReply.objects.all():
        assert reply.in_answer_to_id == _by_time(reply)
    assert InboundReply.objects.get(pk=after.pk).in_answer_to_id == unknown.pk
    assert InboundReply.objects.get(pk=before.pk).in_answer_to_id == first.pk


def test_the_migration_links_existing_replies_as_the_report_did(approver):
    leads = [LeadFactory(email=f"lead{i}@client.example") for i in range(3)]
    for i, lead in enumerate(leads):
        for day in range(i + 1):
            _email(approver, lead, status="sent", sent_at=NOW - timedelta(days=10 - 3 * day), subject=f"{day}")
        _email(approver, lead, status="failed", sent_at=None, subject="Bounced")
    for n, (lead, days) in enumerate([(leads[0], 11), (leads[0], 1), (leads[1], 6), (leads[2], 7), (leads[2], 0)]):
        reply, _ = reply_intake(mail=_mail(lead.email, at=NOW - timedelta(days=days), n=n), source="imap")
    recorded = dict(InboundReply.objects.values_list("pk", "in_answer_to_id"))
    InboundReply.objects.update(in_answer_to=None)

    migration = importlib.import_module("outreach.migrations.0008_inboundreply_in_answer_to")
    migration.link_replies_to_emails(global_apps, None)

    for reply in InboundReply.objects.all():
        assert reply.in_answer_to_id == recorded[reply.pk] == _by_time(reply)
    assert any(recorded.values()) and None in recorded.values()
