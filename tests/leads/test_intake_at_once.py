"""A new person's delivery on PostgreSQL: the event, the lead, its timeline event and audit row in
one statement (`lead_intake_with_row`), with the same rows as the usual way and the usual way
taken for anything else (a known person, a replay, a lead created meanwhile by another intake)."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest
from celery import current_app
from django.db import connection, transaction
from django.forms.models import model_to_dict
from django.test.utils import CaptureQueriesContext

from clientsflow.models import AuditEvent, WebhookEvent
from clientsflow.signatures import hmac_sha256_hex
from clientsflow.webhooks import webhook_event_store
from leads.models import Lead, LeadEvent, PossibleDuplicate
from leads.services import intake
from leads.services.intake import LeadData, lead_intake_with_row

SECRET = "test-lead-webhook-secret-at-once"
postgresql_only = pytest.mark.skipif(connection.vendor != "postgresql", reason="one statement on PostgreSQL only")
PAYLOAD = {
    "id": "form-77",
    "name": "Dana Whitfield",
    "email": "Dana.Whitfield@Northwind.example",
    "phone": "+1 (415) 555-0134",
    "company": "Northwind Studio",
}


@pytest.fixture(autouse=True)
def _secret(settings):
    settings.LEAD_WEBHOOK_SECRET = SECRET


def deliver(client: Any, payload: dict[str, Any]) -> dict[str, Any]:
    body = json.dumps(payload).encode()
    response = client.post(
        "/webhooks/leads/website/",
        data=body,
        content_type="application/json",
        headers={"X-Signature": "sha256=" + hmac_sha256_hex(SECRET, body)},
    )
    assert response.status_code == 200, response.content
    return response.json()


def rows_written() -> dict[str, list[dict[str, Any]]]:
    """Every row intake wrote, each field as stored, ids and clock times replaced by their order
    (the one thing two runs may not share)."""
    lead_ids = {pk: n for n, pk in enumerate(Lead.objects.order_by("pk").values_list("pk", flat=True))}
    leads = [
        {**model_to_dict(lead, exclude=["id", "public_id"]), "created_at": "t", "updated_at": "t"}
        for lead in Lead.objects.order_by("pk")
    ]
    events = [
        {**model_to_dict(event, exclude=["id", "at"]), "lead": lead_ids[event.lead_id]}
        for event in LeadEvent.objects.order_by("pk")
    ]
    audits = [
        {**model_to_dict(audit, exclude=["id"]), "object_id": lead_ids[int(audit.object_id)]}
        for audit in AuditEvent.objects.order_by("pk")
    ]
    inbox = [
        model_to_dict(event, exclude=["id", "received_at", "processed_at"])
        for event in WebhookEvent.objects.order_by("pk")
    ]
    return {"leads": leads, "events": events, "audits": audits, "inbox": inbox}


def usual_way(monkeypatch: pytest.MonkeyPatch) -> None:
    """Deliveries from now on take the portable way: the inbox's transaction and `lead_intake`."""
    monkeypatch.setattr("leads.webhooks.lead_intake_with_row", lambda *args, **kwargs: None)


@pytest.mark.django_db
def test_the_rows_are_those_the_usual_way_writes(client, monkeypatch):
    """Same deliveries (a new person, a re-send by email, another person on the same phone), once
    with the one statement and once the usual way: identical rows."""
    second = {**PAYLOAD, "id": "form-78", "email": "DANA.whitfield@northwind.example", "company": "Other Co"}
    third = {**PAYLOAD, "id": "form-79", "email": "sam@northwind.example", "name": "Sam Other"}

    for payload in (PAYLOAD, second, third):
        deliver(client, payload)
    at_once = rows_written()
    for model in (PossibleDuplicate, AuditEvent, LeadEvent, WebhookEvent, Lead):
        model.objects.all().delete()
    usual_way(monkeypatch)
    for payload in (PAYLOAD, second, third):
        deliver(client, payload)

    assert rows_written() == at_once
    assert len(at_once["leads"]) == 2
    assert [event["kind"] for event in at_once["events"]] == ["created", "also_seen", "duplicate_intake", "created"]
    assert PossibleDuplicate.objects.count() == 1  # Sam shares Dana's phone under another email


@postgresql_only
@pytest.mark.django_db(transaction=True)
def test_a_new_person_is_one_statement_committed_on_its_own(client):
    with CaptureQueriesContext(connection) as captured:
        answer = deliver(client, PAYLOAD)

    assert answer == {"status": "accepted", "event_id": "form-77"}
    [statement] = [query["sql"] for query in captured.captured_queries]
    assert statement.startswith("WITH ")
    assert "BEGIN" not in statement and "COMMIT" not in statement
    lead = Lead.objects.get(email_normalized="dana.whitfield@northwind.example")
    event = WebhookEvent.objects.get(event_id="form-77")
    assert (event.status, event.attempts, event.deliveries) == ("processed", 1, 1)
    assert LeadEvent.objects.get(lead=lead).kind == "created"
    assert AuditEvent.objects.get(verb="lead.created").object_id == str(lead.pk)


@postgresql_only
@pytest.mark.django_db
def test_a_known_person_or_a_replay_writes_nothing_and_returns_none():
    first = WebhookEvent(provider="leads:website", event_id="e-1", body="{}", status="processed")
    data = LeadData.build(name="Dana", email="dana@example.com", phone="415 555 0134")
    assert lead_intake_with_row(first, data=data, source="website") is not None

    again = WebhookEvent(provider="leads:website", event_id="e-2", body="{}", status="processed")
    same_phone = LeadData.build(name="Other", email="other@example.com", phone="(415) 555-0134")
    replay = WebhookEvent(provider="leads:website", event_id="e-1", body="{}", status="processed")
    new_person = LeadData.build(name="New", email="new@example.com")

    assert lead_intake_with_row(again, data=same_phone, source="website") is None
    assert lead_intake_with_row(replay, data=new_person, source="website") is None
    assert (again.pk, replay.pk) == (None, None)
    assert (Lead.objects.count(), LeadEvent.objects.count(), AuditEvent.objects.count()) == (1, 1, 1)
    assert list(WebhookEvent.objects.values_list("event_id", flat=True)) == ["e-1"]


@postgresql_only
@pytest.mark.django_db
def test_a_lead_created_meanwhile_leaves_nothing_written_and_the_transaction_usable(monkeypatch):
    """The look-up saw no holder, but the lead's INSERT meets one (another intake committed it in
    between): a unique conflict, so nothing at all is written, and the caller goes the usual way."""
    Lead.objects.create(email="dana@example.com", email_normalized="dana@example.com")
    monkeypatch.setattr(intake, "lead_holders_query", lambda **kwargs: ("SELECT 1 WHERE false", []))
    row = WebhookEvent(provider="leads:website", event_id="e-3", body="{}", status="processed")

    with transaction.atomic():
        result = lead_intake_with_row(row, data=LeadData.build(email="Dana@example.com"), source="website")
        assert Lead.objects.count() == 1  # the transaction is still usable

    assert result is None
    assert not WebhookEvent.objects.exists()
    assert (LeadEvent.objects.count(), AuditEvent.objects.count()) == (0, 0)


@pytest.mark.django_db
def test_elsewhere_than_postgresql_it_leaves_the_work_to_the_usual_way():
    if connection.vendor == "postgresql":
        pytest.skip("the one statement is PostgreSQL's")
    row = WebhookEvent(provider="leads:website", event_id="e-4", body="{}", status="processed")

    assert lead_intake_with_row(row, data=LeadData.build(email="x@example.com"), source="website") is None
    assert not Lead.objects.exists() and not WebhookEvent.objects.exists()


@postgresql_only
@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_simultaneous_deliveries_of_one_new_person_make_one_lead_and_process_every_event(settings):
    """Eight deliveries of one new address at once: each statement sees no holder, one writes, the
    others meet its lead at the unique index, write nothing, and take the usual way (a repeat)."""
    payload = {"email": "Race@Example.com", "name": "Racer"}
    data = LeadData.build(email="Race@Example.com", name="Racer")

    assert deliver_at_once([(f"race-{n}", payload, data) for n in range(8)]) == []
    lead = Lead.objects.get()
    assert LeadEvent.objects.filter(lead=lead, kind="created").count() == 1
    assert LeadEvent.objects.filter(lead=lead, kind="duplicate_intake").count() == 7
    assert set(WebhookEvent.objects.values_list("status", flat=True)) == {"processed"}
    assert WebhookEvent.objects.count() == 8


def deliver_at_once(deliveries: list[tuple[str, dict[str, Any], LeadData]]) -> list[BaseException]:
    """Store and process these (event id, payload, details) deliveries, one thread each, released
    together, as the embedded default does (in-process, the one-statement ways first); the errors."""
    was_eager = current_app.conf.task_always_eager
    current_app.conf.task_always_eager = True
    barrier = threading.Barrier(len(deliveries))
    errors: list[BaseException] = []

    def arrive(event_id: str, payload: dict[str, Any], data: LeadData) -> None:
        try:
            barrier.wait()
            webhook_event_store(
                provider="leads:website",
                event_id=event_id,
                body=json.dumps(payload).encode(),
                headers={},
                inline_when_embedded=True,
                together=lambda event: _together(event, data),
            )
        except BaseException as exc:  # the caller asserts there are none
            errors.append(exc)
        finally:
            connection.close()

    try:
        threads = [threading.Thread(target=arrive, args=delivery) for delivery in deliveries]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        current_app.conf.task_always_eager = was_eager
    return errors


def _together(event: WebhookEvent, data: LeadData) -> dict[str, Any] | None:
    result = lead_intake_with_row(event, data=data, source="website", via=f"webhook {event.event_id}")
    return None if result is None else {"lead_id": result.lead.pk, "created": True}


# --- A repeat that adds nothing to its lead: one look-up, then one statement ---------------------
REPEATS = [
    {**PAYLOAD, "id": "form-80", "email": "DANA.WHITFIELD@northwind.example"},  # a new payload id
    {"id": "form-81", "name": "dana whitfield", "phone": "415.555.0134"},  # by phone, no email
    {"email": "dana.whitfield@northwind.example", "name": "Dana  Whitfield"},  # no id: nothing to update
]


@pytest.mark.django_db
def test_a_repeat_writes_the_rows_the_usual_way_writes(client, monkeypatch):
    deliver(client, PAYLOAD)
    for payload in REPEATS:
        with CaptureQueriesContext(connection) as captured:
            deliver(client, payload)
        if connection.vendor == "postgresql":  # the new-person try, the look-up, one statement
            sent = [q["sql"].split()[0] for q in captured.captured_queries if "SAVEPOINT" not in q["sql"]]
            assert sent == ["WITH", "SELECT", "WITH"]
    at_once = rows_written()
    for model in (PossibleDuplicate, AuditEvent, LeadEvent, WebhookEvent, Lead):
        model.objects.all().delete()
    usual_way(monkeypatch)
    for payload in (PAYLOAD, *REPEATS):
        deliver(client, payload)

    assert rows_written() == at_once
    assert [event["kind"] for event in at_once["events"]] == ["created", *["duplicate_intake"] * 3]
    assert [event["data"]["matched_on"] for event in at_once["events"][1:]] == ["email", "phone", "email"]
    assert at_once["leads"][0]["external_ids"] == {"website": "form-81"}
    assert {event["status"] for event in at_once["inbox"]} == {"processed"}


@postgresql_only
@pytest.mark.django_db
@pytest.mark.parametrize(
    "meanwhile",
    [
        {"name": "Dana W. (edited by the owner)"},
        {"company": ""},
        {"external_ids": {"website": "form-99"}},
        {"email_normalized": "dana@elsewhere.example", "email": "dana@elsewhere.example"},
    ],
)
def test_a_repeat_whose_lead_changed_after_the_look_up_writes_nothing(monkeypatch, meanwhile):
    """The lead is read unlocked; a write to what the decision read, committed before the
    statement runs, makes it write nothing at all (the usual way then decides again, locked)."""
    lead = Lead.objects.create(
        name="Dana Whitfield",
        email="dana@example.com",
        email_normalized="dana@example.com",
        company="Northwind",
        external_ids={"website": "form-1"},
    )
    looked_up = intake.lead_holders

    def changed_after_the_look_up(**kwargs: Any) -> list[Lead]:
        found = looked_up(**kwargs)
        Lead.objects.filter(pk=lead.pk).update(**meanwhile)
        return found

    monkeypatch.setattr(intake, "lead_holders", changed_after_the_look_up)
    row = WebhookEvent(provider="leads:website", event_id="e-5", body="{}", status="processed")
    data = LeadData.build(email="DANA@example.com", external_id="form-2")

    assert lead_intake_with_row(row, data=data, source="website") is None
    assert row.pk is None and not WebhookEvent.objects.exists()
    assert (LeadEvent.objects.count(), AuditEvent.objects.count()) == (0, 0)
    lead.refresh_from_db()
    assert lead.external_ids == meanwhile.get("external_ids", {"website": "form-1"})


@postgresql_only
@pytest.mark.django_db
def test_a_repeat_with_something_to_fill_note_or_choose_goes_the_usual_way():
    Lead.objects.create(name="Dana", email="dana@example.com", email_normalized="dana@example.com")
    Lead.objects.create(
        name="Sam", email="sam@example.com", email_normalized="sam@example.com", phone_e164="+14155550134"
    )
    merged_into = Lead.objects.create(name="Kept", email="kept@example.com", email_normalized="kept@example.com")
    Lead.objects.create(
        name="Gone", email="gone@example.com", email_normalized="gone@example.com", merged_into=merged_into
    )
    cases = [
        LeadData.build(email="dana@example.com", company="Northwind"),  # a field to fill
        LeadData.build(email="dana@example.com", name="Dana Whitfield"),  # another name to note
        LeadData.build(email="dana@example.com", phone="+1 415 555 0134"),  # the phone is Sam's
        LeadData.build(email="gone@example.com"),  # a merged lead: its survivor's
    ]
    for n, data in enumerate(cases):
        row = WebhookEvent(provider="leads:website", event_id=f"u-{n}", body="{}", status="processed")
        assert lead_intake_with_row(row, data=data, source="website") is None, data
    assert not WebhookEvent.objects.exists() and not LeadEvent.objects.exists()


@postgresql_only
@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_simultaneous_repeats_of_one_person_are_each_processed_once():
    """Eight repeats of one known person at once, each with its own payload id: every statement
    read the same lead; the first to lock it writes, and each later one finds the payload id
    changed, writes nothing and takes the usual way. Every event is processed, none twice."""
    Lead.objects.create(name="Racer", email="race@example.com", email_normalized="race@example.com")
    deliveries = [
        (
            f"again-{n}",
            {"id": f"again-{n}", "email": "RACE@example.com", "name": "Racer"},
            LeadData.build(email="RACE@example.com", name="Racer", external_id=f"again-{n}"),
        )
        for n in range(8)
    ]

    assert deliver_at_once(deliveries) == []
    lead = Lead.objects.get()
    repeats = LeadEvent.objects.filter(lead=lead, kind="duplicate_intake")
    assert repeats.count() == 8
    assert AuditEvent.objects.filter(verb="lead.duplicate_intake").count() == 8
    assert set(WebhookEvent.objects.values_list("status", flat=True)) == {"processed"}
    assert WebhookEvent.objects.count() == 8
    # The lead keeps the payload id of the repeat that wrote last: one of theirs, never a mix.
    last = repeats.order_by("-pk").first()
    assert lead.external_ids == {"website": last.data["changed"]["external_id"]["to"]}
