"""Erasing a person: gone from every table (a dump of the database proves it), the books kept,
outside copies reached through their real clients (HTTP answered at the transport)."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from datetime import UTC, datetime

import httpx
import pytest
import respx
from django.core.management import call_command
from django.db import connection
from googleapiclient.http import HttpMockSequence

from billing.models import Payment, Signature
from bookings.clients import google_calendar
from bookings.models import Booking
from bookings.services import booking_create
from clientsflow.errors import InvalidInput
from clientsflow.models import AuditEvent
from leads.models import Lead
from outreach.models import Suppression
from outreach.services.gate import mail_gate_check
from outreach.services.suppression import is_suppressed
from privacy.models import Erasure
from privacy.services.erase import person_erase, person_erase_preview
from tests.bookings.conftest import fixture_text
from tests.bookings.factories import EventTypeFactory
from tests.leads.factories import staff_user
from tests.privacy.conftest import EMAIL, NAME, TRACES

pytestmark = pytest.mark.django_db
NOTION_PAGE = "https://api.notion.com/v1/pages/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
TOKEN = ({"status": "200", "content-type": "application/json"}, fixture_text("token_ok.json"))


@pytest.fixture
def notion_on(settings):  # type: ignore[no-untyped-def]
    settings.NOTION_TOKEN = "secret_test"
    settings.NOTION_CALLS_DATABASE_ID = "db-test"
    settings.NOTION_MAX_RETRIES = 0
    return settings


def _dump() -> str:
    """The whole database as SQL text, as an operator's backup would hold it."""
    if connection.vendor == "sqlite":
        return "\n".join(connection.connection.iterdump())
    name = connection.settings_dict["NAME"]
    env = {**os.environ, "PGPASSWORD": connection.settings_dict.get("PASSWORD") or ""}
    command = [
        "pg_dump",
        "--data-only",
        "-h",
        connection.settings_dict.get("HOST") or "127.0.0.1",
        "-p",
        str(connection.settings_dict.get("PORT") or 5432),
        "-U",
        connection.settings_dict.get("USER") or "postgres",
        name,
    ]
    return subprocess.run(command, check=True, capture_output=True, text=True, env=env).stdout


def _assert_no_trace(dump: str) -> None:
    lowered = dump.lower()
    found = [trace for trace in TRACES if trace.lower() in lowered]
    assert found == [], f"still in the database: {found}"


def test_preview_changes_nothing_and_lists_what_goes(person):  # type: ignore[no-untyped-def]
    preview = person_erase_preview(lead=person.lead)

    assert preview.confirmation == EMAIL
    assert any("Bookings" in label for label in preview.related_counts)
    assert any("Webhook" in label for label in preview.mention_counts)
    assert {c.system for c in preview.vendor_copies} == {"Notion", "Google Calendar", "Fireflies", "Stripe"}
    person.lead.refresh_from_db()
    assert person.lead.name == NAME


def test_erase_refuses_without_the_typed_email_or_the_permissions(person):  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidInput, match="Type"):
        person_erase(lead=person.lead, actor=None, confirmation="someone@else.example")
    viewer = staff_user("viewer", role="Viewer")
    with pytest.raises(InvalidInput, match="permissions"):
        person_erase(lead=person.lead, actor=viewer, confirmation=EMAIL)
    person.lead.refresh_from_db()
    assert person.lead.email == EMAIL
    assert not Erasure.objects.exists()


def _erase_all_reachable(person, transport):  # type: ignore[no-untyped-def]
    transport._iterable.extend([TOKEN, ({"status": "204"}, "")])
    with respx.mock(assert_all_called=True) as notion:
        archived = notion.patch(NOTION_PAGE).mock(return_value=httpx.Response(200, json={"object": "page", "id": "x"}))
        erasure = person_erase(lead=person.lead, actor=None, confirmation=f"  {EMAIL.upper()} ")
    assert json.loads(archived.calls[0].request.content) == {"in_trash": True}
    return erasure


@pytest.fixture
def transport(monkeypatch, google_settings):  # type: ignore[no-untyped-def]
    mock = HttpMockSequence([])
    monkeypatch.setattr(google_calendar.httplib2, "Http", lambda *args, **kwargs: mock)
    return mock


@pytest.mark.django_db(transaction=True)
def test_after_erase_the_person_is_nowhere_in_a_dump(person, notion_on, transport):  # type: ignore[no-untyped-def]
    _assert_present = [t for t in TRACES if t.lower() in _dump().lower()]
    assert EMAIL in _assert_present and NAME in _assert_present  # the dump does see them before

    erasure = _erase_all_reachable(person, transport)

    _assert_no_trace(_dump())
    # Only Fireflies (no delete call here) is left for a person to remove by hand.
    assert [item["system"] for item in erasure.unreachable] == ["Fireflies"]
    assert transport._iterable == []  # the token exchange and the DELETE were both asked


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_after_erase_the_person_is_nowhere_in_pg_dump(person, notion_on, transport):  # type: ignore[no-untyped-def]
    assert connection.vendor == "postgresql"
    assert EMAIL.lower() in _dump().lower()
    _erase_all_reachable(person, transport)
    _assert_no_trace(_dump())


def test_erase_keeps_the_books_the_signature_hash_and_the_suppression(person, notion_on, transport):  # type: ignore[no-untyped-def]
    hash_before = person.signature.content_sha256
    _erase_all_reachable(person, transport)

    payment = Payment.objects.get(pk=person.payment.pk)
    assert (payment.amount_minor, payment.currency, payment.paid_at) == (
        150000,
        "usd",
        person.payment.paid_at,
    )
    signature = Signature.objects.get(pk=person.signature.pk)
    assert signature.content_sha256 == hash_before
    assert signature.content == "" and signature.ip_address is None
    assert is_suppressed(EMAIL)
    lead = Lead.objects.get(pk=person.lead.pk)
    assert (lead.name, lead.email, lead.phone, lead.email_normalized, lead.phone_e164) == ("", "", "", "", "")
    # The other lead keeps its own identity; only the mention of the erased person went.
    other = Lead.objects.get(pk=person.other.pk)
    assert other.name == "Alan Turing"
    assert "[erased]" in other.events.get(kind="note").summary


def test_after_erase_the_suppression_is_a_keyed_hash_that_still_blocks_mail(  # type: ignore[no-untyped-def]
    person, notion_on, transport, settings, django_capture_on_commit_callbacks
):
    _erase_all_reachable(person, transport)

    entry = Suppression.objects.get(reason="erased")
    unsalted = hashlib.sha256(EMAIL.lower().encode()).hexdigest()
    assert entry.email_hash != unsalted and len(entry.email_hash) == 64
    assert not Suppression.objects.filter(email_hash=unsalted).exists()
    # A list of addresses hashed without the key finds nothing.
    settings.SUPPRESSION_HASH_KEY = "someone-else's-key"
    assert not is_suppressed(EMAIL)
    settings.SUPPRESSION_HASH_KEY = ""
    settings.GOOGLE_SERVICE_ACCOUNT_FILE = ""  # the ICS fallback: mail is the only way the invite goes

    # The person books again under the same address: the booking stands, no mail goes.
    with django_capture_on_commit_callbacks(execute=True):
        booking = booking_create(
            event_type=EventTypeFactory(slug="after-erase"),
            start=datetime(2026, 12, 2, 15, 0, tzinfo=UTC),
            now=datetime(2026, 11, 30, 12, 0, tzinfo=UTC),
            timezone_name="Europe/London",
            name="Grace",
            email=f" {EMAIL} ",
        )
    booking.refresh_from_db()
    assert booking.invite_status == Booking.InviteStatus.BLOCKED
    blocked = AuditEvent.objects.filter(verb="mail.blocked", object_id=str(booking.pk)).values_list(
        "details", flat=True
    )
    assert [d["reason"] for d in blocked] == ["suppressed"]
    assert not mail_gate_check(to=EMAIL.upper(), purpose="outbound").allowed


def test_erase_is_audited_with_counts_only(person, notion_on, transport):  # type: ignore[no-untyped-def]
    erasure = _erase_all_reachable(person, transport)

    entry = AuditEvent.objects.get(verb="person.erased")
    assert entry.object_id == str(erasure.pk)
    assert entry.details["rows"] > 5
    text = json.dumps(entry.details) + entry.object_repr
    assert EMAIL.lower() not in text.lower() and NAME not in text


def test_unreachable_vendors_are_recorded_not_reported_as_done(person, settings):  # type: ignore[no-untyped-def]
    settings.NOTION_TOKEN = ""
    settings.GOOGLE_SERVICE_ACCOUNT_FILE = ""
    erasure = person_erase(lead=person.lead, actor=None, confirmation=EMAIL)

    systems = {item["system"]: item for item in erasure.unreachable}
    assert set(systems) == {"Notion", "Google Calendar", "Fireflies"}
    assert systems["Google Calendar"]["id"] == "gcalevent0001"
    assert "not configured" in systems["Notion"]["reason"]


def test_a_notion_failure_is_recorded(person, notion_on, settings):  # type: ignore[no-untyped-def]
    settings.GOOGLE_SERVICE_ACCOUNT_FILE = ""
    with respx.mock() as notion:
        notion.patch(NOTION_PAGE).mock(
            return_value=httpx.Response(403, json={"object": "error", "code": "restricted_resource", "message": "no"})
        )
        erasure = person_erase(lead=person.lead, actor=None, confirmation=EMAIL)
    notion_item = next(item for item in erasure.unreachable if item["system"] == "Notion")
    assert "restricted_resource" in notion_item["reason"]


def test_command_previews_then_erases(person, settings, capsys):  # type: ignore[no-untyped-def]
    settings.NOTION_TOKEN = ""
    settings.GOOGLE_SERVICE_ACCOUNT_FILE = ""
    call_command("person_erase", EMAIL)
    out = capsys.readouterr().out
    assert "Nothing changed" in out and "Bookings" in out
    assert Lead.objects.get(pk=person.lead.pk).email == EMAIL

    call_command("person_erase", EMAIL, "--yes-erase", EMAIL)
    out = capsys.readouterr().out
    assert "Erased" in out and "Could not reach Notion" in out
    assert Lead.objects.get(pk=person.lead.pk).email == ""
