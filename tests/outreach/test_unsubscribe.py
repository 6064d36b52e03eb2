# ruff: noqa: F811  (pytest fixtures are imported by name from outbound_support)
"""`/u/<token>/`: the signed unsubscribe link and the RFC 8058 one-click POST."""

from __future__ import annotations

import hashlib

import pytest
from django.core import mail, signing

from clientsflow.models import AuditEvent
from leads.models import Lead
from outreach.models import Suppression
from outreach.services.sending import build_email, outbound_send
from outreach.services.suppression import (
    UNSUBSCRIBE_SALT,
    email_hash,
    is_suppressed,
    suppression_add,
    unsubscribe_url,
)
from tests.leads.factories import LeadFactory
from tests.outreach.outbound_support import approver, make_approved, make_enrollment, open_window  # noqa: F401

pytestmark = pytest.mark.django_db


def path_of(url: str) -> str:
    return url.split("://", 1)[1].split("/", 1)[1].join(["/", ""])


def test_one_click_post_from_the_header_suppresses(client, open_window, approver):
    enrollment = make_enrollment(LeadFactory(email="Zed@Client.example"))
    message = make_approved(approver, enrollment.lead, enrollment=enrollment)
    header = build_email(message).extra_headers["List-Unsubscribe"].strip("<>")
    response = client.post(path_of(header), {"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200
    assert is_suppressed("zed@client.example")
    enrollment.refresh_from_db()
    message.refresh_from_db()
    assert enrollment.status == "stopped" and message.status == "blocked"
    assert outbound_send(message_id=message.pk, trigger="human", actor=approver).outcome == "blocked"
    assert mail.outbox == []
    assert AuditEvent.objects.filter(verb="suppression.added").count() == 1


def test_link_in_the_body_asks_once_then_one_click_unsubscribes(client):
    url = unsubscribe_url(email="pat@client.example")
    page = client.get(path_of(url))
    assert page.status_code == 200 and "Unsubscribe me" in page.content.decode()
    assert not is_suppressed("pat@client.example")  # a GET (a link scanner) never unsubscribes
    done = client.post(path_of(url), {"confirm": "yes"})
    assert "You are unsubscribed" in done.content.decode()
    assert is_suppressed("PAT@client.example")
    assert client.post(path_of(url), {"confirm": "yes"}).status_code == 200  # idempotent
    assert Suppression.objects.count() == 1


def test_forged_or_truncated_token_is_refused(client):
    url = unsubscribe_url(email="pat@client.example")
    assert client.post(path_of(url)[:-6] + "xxxxx/").status_code == 404
    assert Suppression.objects.count() == 0


def test_suppression_survives_deleting_the_lead_and_blocks_enrollment(approver):
    lead = LeadFactory(email="gone@client.example")
    suppression_add(email="gone@client.example", reason="unsubscribe_link", actor_label="test")
    Lead.objects.filter(pk=lead.pk).delete()
    entry = Suppression.objects.get()
    assert entry.email_hash == email_hash("gone@client.example")
    assert "gone@client.example" not in str(entry.__dict__)  # only the hash is kept
    again = LeadFactory(email="gone@client.example")
    from clientsflow.errors import DomainError

    with pytest.raises(DomainError, match="unsubscribed"):
        make_enrollment(again)


def _legacy_link(email: str, message_public_id: str = "") -> str:
    """An unsubscribe link as sent before the keyed hash: an unsalted SHA-256 of the address."""
    token = signing.dumps(
        {"h": hashlib.sha256(email.encode()).hexdigest(), "m": message_public_id}, salt=UNSUBSCRIBE_SALT, compress=True
    )
    return f"/u/{token}/"


def test_a_link_sent_before_the_keyed_hash_still_unsubscribes_and_is_stored_keyed(client, approver):
    enrollment = make_enrollment(LeadFactory(email="old@client.example"))
    message = make_approved(approver, enrollment.lead, enrollment=enrollment)
    assert client.post(_legacy_link("old@client.example", str(message.public_id))).status_code == 200
    assert Suppression.objects.get().email_hash == email_hash("old@client.example")
    assert is_suppressed("old@client.example")
    message.refresh_from_db()
    assert message.status == "blocked"


def test_a_legacy_link_naming_no_message_is_kept_as_it_came_and_still_blocks(client):
    assert client.post(_legacy_link("bare@client.example")).status_code == 200
    assert is_suppressed("Bare@Client.example")
    assert email_hash("bare@client.example") != hashlib.sha256(b"bare@client.example").hexdigest()


def test_a_rotated_secret_key_in_the_fallbacks_keeps_matching(settings):
    suppression_add(email="kept@client.example", reason="test", actor_label="test")
    old = settings.SECRET_KEY
    settings.SECRET_KEY = "a-new-key-" + "x" * 50
    assert not is_suppressed("kept@client.example")
    settings.SECRET_KEY_FALLBACKS = [old]
    assert is_suppressed("kept@client.example")
