# ruff: noqa: F811  (pytest fixtures are imported by name from outbound_support)
"""A real SMTP conversation: aiosmtpd on loopback receives what the send path produces."""

from __future__ import annotations

import email
from email import policy

import pytest
from aiosmtpd.controller import Controller

from outreach.models import InboundReply, OutboundMessage
from outreach.services.sending import outbound_send
from outreach.services.suppression import unsubscribe_token_read
from tests.leads.factories import LeadFactory
from tests.outreach.outbound_support import approver, make_approved, open_window  # noqa: F401  (fixtures)

pytestmark = pytest.mark.django_db


class Collect:
    def __init__(self) -> None:
        self.envelopes: list = []

    async def handle_DATA(self, server, session, envelope):
        self.envelopes.append(envelope)
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp_server(settings):
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    handler = Collect()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = port
    settings.EMAIL_HOST_USER = ""
    settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_USE_SSL = False
    settings.EMAIL_TIMEOUT = 5
    yield handler
    controller.stop()


def test_send_through_a_real_smtp_server_with_threading_and_one_click_unsubscribe(open_window, approver, smtp_server):
    from django.utils import timezone

    lead = LeadFactory(email="grace@client.example", name="Grace Hopper")
    first = make_approved(approver, lead, subject="First note", body="First body.")
    assert outbound_send(message_id=first.pk, trigger="human", actor=approver).sent
    first.refresh_from_db()
    reply = InboundReply.objects.create(
        lead=lead,
        source="manual",
        from_email=lead.email,
        from_email_normalized=lead.email,
        subject="Re: First note",
        body="Tell me more",
        message_id="<reply-1@client.example>",
        in_reply_to=first.message_id,
        received_at=timezone.now(),
    )
    second = make_approved(approver, lead, subject="Re: First note", body="Happy to.\nHere is more.", kind="one_off")
    assert outbound_send(message_id=second.pk, trigger="human", actor=approver).sent

    assert len(smtp_server.envelopes) == 2
    envelope = smtp_server.envelopes[1]
    assert envelope.rcpt_tos == ["grace@client.example"]
    assert envelope.mail_from == "owner@agency.example"
    received = email.message_from_bytes(envelope.original_content, policy=policy.default)
    second.refresh_from_db()
    assert received["Message-ID"] == second.message_id
    assert second.message_id.startswith("<cf.") and second.message_id.endswith("@agency.example>")
    assert received["In-Reply-To"] == reply.message_id
    assert received["References"].split() == [first.message_id, reply.message_id]
    assert received["Subject"] == "Re: First note"
    assert received["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    link = "".join(str(received["List-Unsubscribe"]).split())  # long headers are folded
    assert link.startswith("<https://crm.agency.example/u/") and link.endswith("/>")
    token = link[len("<https://crm.agency.example/u/") : -2]
    assert unsubscribe_token_read(token) is not None
    body = received.get_content().replace("\r\n", "\n")
    assert body.startswith("Happy to.\nHere is more.")
    assert "To stop receiving these emails: https://crm.agency.example/u/" in body
    # The first email opened the thread: no In-Reply-To.
    opening = email.message_from_bytes(smtp_server.envelopes[0].original_content, policy=policy.default)
    assert opening["In-Reply-To"] is None and opening["Message-ID"] == first.message_id
    assert OutboundMessage.objects.filter(status="sent").count() == 2


def test_smtp_server_refusing_the_recipient_marks_failed(open_window, approver, smtp_server):
    class Refuse(Collect):
        async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
            return "550 5.1.1 No such user"

    smtp_server.__class__ = Refuse
    message = make_approved(approver, LeadFactory(email="nobody@client.example"))
    result = outbound_send(message_id=message.pk, trigger="human", actor=approver)
    assert result.outcome == "failed"
    message.refresh_from_db()
    assert message.status == "failed" and "550" in message.last_error
    assert smtp_server.envelopes == []


def test_unreachable_smtp_server_marks_failed_not_unknown(open_window, approver, settings):
    import socket

    with socket.socket() as probe:  # a port with nothing listening
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", port, 2
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    message = make_approved(approver)
    assert outbound_send(message_id=message.pk, trigger="human", actor=approver).outcome == "failed"
