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
from clientsflow.errors import DomainError, InvalidInput
from clientsflow.mailpolicy import masked_address
from clientsflow.models import AuditEvent
from leads.models import Lead, LeadImport
from leads.services.intake import LeadData, lead_intake
from leads.services.lead_imports import lead_import_start
from outreach.models import OutboundMessage, Suppression
from outreach.services.gate import mail_gate_check
from outreach.services.sequences import check_can_enroll
from outreach.services.suppression import is_suppressed, legacy_email_hash
from privacy.models import Erasure
from privacy.services.erase import person_erase, person_erase_preview
from tests.bookings.conftest import fixture_text
from tests.bookings.factories import EventTypeFactory
from tests.leads.factories import staff_user
from tests.outreach.outbound_support import SequenceFactory, StepFactory
from tests.privacy.conftest import BOOKING_EMAIL, EMAIL, NAME, OTHER_ROW, TRACES

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
    # Binary columns (an uploaded CSV file) are dumped as hex: X'4772...' and \x4772...
    found += [f"{trace} (as bytes)" for trace in TRACES if trace.encode().hex() in lowered]
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


def _blocked_sends(person, settings) -> list[str]:  # type: ignore[no-untyped-def]
    """Two sends to her the allowlist refused (audited `mail.blocked` with a masked address and
    a hash); returns the masked addresses and her addresses' domains."""
    settings.SEND_ALLOWLIST = ["@agency.example"]
    booking = mail_gate_check(
        to=BOOKING_EMAIL, purpose="booking:confirmation", obj=person.booking, lead_id=person.lead.pk
    )
    outbound = OutboundMessage.objects.get(lead=person.lead)
    sequence = mail_gate_check(to=EMAIL, purpose="outbound:sequence", obj=outbound, lead_id=person.lead.pk)
    settings.SEND_ALLOWLIST = []
    assert not booking.allowed and not sequence.allowed
    masked = [masked_address(BOOKING_EMAIL), masked_address(EMAIL)]
    return [*masked, *(address.split("@")[1] for address in masked)]


def _assert_absent(dump: str, traces: list[str]) -> None:
    assert [trace for trace in traces if trace.lower() in dump.lower()] == []


@pytest.mark.django_db(transaction=True)
def test_after_erase_the_person_is_nowhere_in_a_dump(person, notion_on, transport, settings):  # type: ignore[no-untyped-def]
    masked = _blocked_sends(person, settings)
    before = _dump().lower()
    _assert_present = [t for t in TRACES if t.lower() in before]
    assert EMAIL in _assert_present and NAME in _assert_present  # the dump does see them before
    assert EMAIL.encode().hex() in before  # and the upload's bytes, as hex
    assert all(trace.lower() in before for trace in masked)

    erasure = _erase_all_reachable(person, transport)

    dump = _dump()
    _assert_no_trace(dump)
    _assert_absent(dump, masked)  # not even the masked address of a blocked send, nor its domain
    # Only Fireflies and the Stripe customer (no delete call here) are left to remove by hand.
    assert [(item["system"], item["id"]) for item in erasure.unreachable] == [
        ("Fireflies", "ff-grace-1"),
        ("Stripe", "cus_test_grace"),
    ]
    assert transport._iterable == []  # the token exchange and the DELETE were both asked


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_after_erase_the_person_is_nowhere_in_pg_dump(person, notion_on, transport, settings):  # type: ignore[no-untyped-def]
    assert connection.vendor == "postgresql"
    masked = _blocked_sends(person, settings)
    before = _dump().lower()
    assert EMAIL.lower() in before and EMAIL.encode().hex() in before
    _erase_all_reachable(person, transport)
    dump = _dump()
    _assert_no_trace(dump)
    _assert_absent(dump, masked)


def test_a_blocked_send_keeps_that_it_was_blocked_not_to_whom(person, notion_on, transport, settings):  # type: ignore[no-untyped-def]
    _blocked_sends(person, settings)
    # The owner's own notification blocked by the allowlist is not hers: it stays as it was.
    owner_block = AuditEvent.objects.create(
        verb="mail.blocked",
        actor_label="mail-gate",
        object_type="clientsflow.notification",
        object_id="1",
        details={"purpose": "notification:digest", "reason": "allowlist", "to_masked": "o***@agency.example"},
    )
    _erase_all_reachable(person, transport)

    blocked = AuditEvent.objects.filter(verb="mail.blocked").exclude(pk=owner_block.pk).order_by("pk")
    assert [(e.details["purpose"], e.details["reason"]) for e in blocked] == [
        ("booking:confirmation", "allowlist"),
        ("outbound:sequence", "allowlist"),
    ]
    for entry in blocked:
        assert entry.details["to_masked"] == "[erased]" and entry.details["to_hash"] == ""
    assert AuditEvent.objects.get(pk=owner_block.pk).details["to_masked"] == "o***@agency.example"


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
    unsalted = hashlib.sha256(EMAIL.lower().encode()).hexdigest()
    # She unsubscribed before suppression entries were keyed: an unsalted entry, reversible by
    # hashing a guessed address, that no migration could rehash once her address is gone.
    Suppression.objects.create(email_hash=legacy_email_hash(EMAIL), reason="unsubscribe_link", actor_label="lead")
    assert legacy_email_hash(EMAIL) == unsalted

    _erase_all_reachable(person, transport)

    entries = Suppression.objects.filter(reason="erased")
    assert entries.count() == 2  # the lead's address and the one she typed on the booking page
    for entry in entries:
        assert len(entry.email_hash) == 64 and entry.email_hash != unsalted
    assert not Suppression.objects.filter(email_hash=unsalted).exists()
    assert not Suppression.objects.filter(email_hash=legacy_email_hash(BOOKING_EMAIL)).exists()
    assert is_suppressed(EMAIL) and is_suppressed(BOOKING_EMAIL.upper())
    # A list of addresses hashed without the key finds nothing.
    settings.SUPPRESSION_HASH_KEY = "someone-else's-key"
    assert not is_suppressed(EMAIL)
    assert not is_suppressed(BOOKING_EMAIL)
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
    assert set(systems) == {"Notion", "Google Calendar", "Fireflies", "Stripe"}
    assert systems["Stripe"]["id"] == "cus_test_grace"  # the customer; the payment's session is kept
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


def test_an_upload_waiting_to_be_imported_loses_her_row_and_keeps_the_others(  # type: ignore[no-untyped-def]
    person, notion_on, transport, django_capture_on_commit_callbacks
):
    preview = person_erase_preview(lead=person.lead)
    assert preview.import_files == 1
    assert LeadImport.objects.get(pk=person.upload.pk).content == person.upload.content  # the preview changed nothing

    erasure = _erase_all_reachable(person, transport)

    assert erasure.counts["leads.LeadImport file"] == 1
    upload = LeadImport.objects.get(pk=person.upload.pk)
    text = bytes(upload.content).decode("utf-8-sig")
    assert upload.file_size == len(bytes(upload.content))
    for trace in TRACES:
        assert trace.lower() not in text.lower(), trace
    # The header and the other person's row are as they were; her row is there, empty, so the
    # row numbers do not move.
    assert text.splitlines() == ["Name,Email,Phone", ",,", OTHER_ROW]

    # Imported afterwards, the file brings the other person in and never her back.
    with django_capture_on_commit_callbacks(execute=True):
        lead_import_start(lead_import_id=upload.pk, mapping=["name", "email", "phone"], user=None)
    upload.refresh_from_db()
    assert (upload.status, upload.created_count, upload.rejected_count) == ("done", 1, 0)
    assert Lead.objects.filter(email="katherine@example.com").exists()
    assert not Lead.objects.filter(email_normalized=EMAIL.lower()).exists()
    assert not Lead.objects.filter(name=NAME).exists()


def test_a_failed_import_resumed_after_the_erase_does_not_bring_her_back(  # type: ignore[no-untyped-def]
    person, settings, django_capture_on_commit_callbacks
):
    settings.NOTION_TOKEN = ""
    settings.GOOGLE_SERVICE_ACCOUNT_FILE = ""
    # The import stopped at the header (row 1): "Go on with the import" resumes from row 2.
    LeadImport.objects.filter(pk=person.upload.pk).update(status=LeadImport.Status.FAILED, last_row=1)

    person_erase(lead=person.lead, actor=None, confirmation=EMAIL)

    with django_capture_on_commit_callbacks(execute=True):
        lead_import_start(lead_import_id=person.upload.pk, mapping=[], user=None)
    upload = LeadImport.objects.get(pk=person.upload.pk)
    assert (upload.status, upload.created_count) == ("done", 1)
    assert list(Lead.objects.filter(name=NAME)) == []
    assert not Lead.objects.filter(email_normalized=EMAIL.lower()).exists()


def test_erase_waits_for_a_running_import_that_holds_her(person, settings):  # type: ignore[no-untyped-def]
    settings.NOTION_TOKEN = ""
    settings.GOOGLE_SERVICE_ACCOUNT_FILE = ""
    LeadImport.objects.filter(pk=person.upload.pk).update(status=LeadImport.Status.RUNNING)

    with pytest.raises(InvalidInput, match="import that holds this person is running"):
        person_erase(lead=person.lead, actor=None, confirmation=EMAIL)
    assert Lead.objects.get(pk=person.lead.pk).email == EMAIL
    assert not Suppression.objects.exists() and not Erasure.objects.exists()

    # Once it has finished (its file emptied), the erase goes ahead.
    LeadImport.objects.filter(pk=person.upload.pk).update(status=LeadImport.Status.DONE, content=b"")
    person_erase(lead=person.lead, actor=None, confirmation=EMAIL)
    assert Lead.objects.get(pk=person.lead.pk).email == ""


def test_after_erase_she_comes_back_under_either_address_and_no_sequence_takes_her(person, settings):  # type: ignore[no-untyped-def]
    settings.NOTION_TOKEN = ""
    settings.GOOGLE_SERVICE_ACCOUNT_FILE = ""
    person_erase(lead=person.lead, actor=None, confirmation=EMAIL)
    sequence = SequenceFactory()
    StepFactory(sequence=sequence, position=1, delay_hours=0)

    for address in (EMAIL, BOOKING_EMAIL):
        again = lead_intake(data=LeadData.build(name="G. Hopper", email=address), source="website").lead
        assert again.pk != person.lead.pk
        with pytest.raises(DomainError, match="suppression list"):
            check_can_enroll(lead=again, sequence=sequence)
    # Someone else is still welcome.
    stranger = lead_intake(data=LeadData.build(name="Mary", email="mary@example.com"), source="website").lead
    check_can_enroll(lead=stranger, sequence=sequence)
