"""`clientsflow.prepared`: the compiled and bulk inserts write what the ORM would, and skip only unique conflicts."""

from __future__ import annotations

import json
import sqlite3
import sys
import uuid
from datetime import timedelta
from typing import Any

import pytest
from django.db import IntegrityError, connection, models
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from clientsflow.models import AuditEvent
from clientsflow.prepared import (
    _prep_for,
    insert_columns,
    insert_linked_rows,
    insert_row,
    insert_row_with_children,
    insert_rows,
    update_row_and_insert_rows,
    update_row_if_unchanged_and_insert_rows,
)
from leads.models import Lead, LeadEvent

pytestmark = pytest.mark.django_db


def test_ignore_conflicts_skips_a_row_that_breaks_a_unique_constraint_and_leaves_pk_unset():
    kept = insert_row(Lead(email="one@example.com", email_normalized="one@example.com"), ignore_conflicts=True)
    again = insert_row(Lead(email="One@example.com", email_normalized="one@example.com"), ignore_conflicts=True)

    assert kept.pk is not None
    assert again.pk is None
    assert Lead.objects.filter(email_normalized="one@example.com").count() == 1


def test_ignore_conflicts_still_refuses_a_row_that_breaks_a_check_constraint():
    # SQLite's INSERT OR IGNORE would drop this row silently; ON CONFLICT DO NOTHING does not.
    with pytest.raises(IntegrityError):
        insert_row(
            Lead(email="odd@example.com", email_normalized="odd@example.com", stage="nowhere"), ignore_conflicts=True
        )


def test_insert_rows_writes_rows_of_several_models_in_order_and_in_one_round_trip_on_postgresql():
    lead = insert_row(Lead(email="two@example.com", email_normalized="two@example.com"))
    event = LeadEvent(lead=lead, kind="created", label="Created", summary="Arrived", data={"via": "a; b"})
    audit = AuditEvent(actor_label="test", verb="lead.created", object_type="leads.lead", object_id=str(lead.pk))

    with CaptureQueriesContext(connection) as captured:
        insert_rows([event, audit])

    assert len(captured.captured_queries) == (1 if connection.vendor == "postgresql" else 2)
    stored = LeadEvent.objects.get(lead=lead)
    assert (stored.summary, stored.data) == ("Arrived", {"via": "a; b"})
    assert AuditEvent.objects.get(object_id=str(lead.pk)).verb == "lead.created"


def test_an_update_and_new_rows_go_in_one_round_trip_on_postgresql_and_write_what_save_writes():
    lead = insert_row(Lead(name="Ann", email="three@example.com", email_normalized="three@example.com"))
    stamped = Lead.objects.values_list("updated_at", flat=True).get(pk=lead.pk)
    lead.company, lead.external_ids = "Acme; Co", {"website": "w-1"}
    event = LeadEvent(lead=lead, kind="duplicate_intake", label="Again", summary="Arrived again", data={"n": 1})
    audit = AuditEvent(
        actor_label="test", verb="lead.duplicate_intake", object_type="leads.lead", object_id=str(lead.pk)
    )

    with CaptureQueriesContext(connection) as captured:
        update_row_and_insert_rows(lead, fields=("company", "external_ids"), rows=[event, audit])

    assert len(captured.captured_queries) == (1 if connection.vendor == "postgresql" else 3)
    stored = Lead.objects.get(pk=lead.pk)
    assert (stored.name, stored.company, stored.external_ids) == ("Ann", "Acme; Co", {"website": "w-1"})
    assert stored.updated_at > stamped  # auto_now stamped, as save(update_fields=...) does
    assert LeadEvent.objects.get(lead=lead).data == {"n": 1}
    assert AuditEvent.objects.get(object_id=str(lead.pk)).verb == "lead.duplicate_intake"

    # Nothing filled: the rows alone.
    with CaptureQueriesContext(connection) as captured:
        update_row_and_insert_rows(lead, fields=(), rows=[LeadEvent(lead=lead, kind="note", label="N", summary="s")])
    assert [q["sql"].split()[0] for q in captured.captured_queries] == ["INSERT"]
    assert LeadEvent.objects.filter(lead=lead).count() == 2


def test_children_are_written_with_the_parent_linked_to_its_new_id_in_one_round_trip_on_postgresql():
    lead = Lead(email="three@example.com", email_normalized="three@example.com")
    event = LeadEvent(lead=lead, kind="created", label="Created", summary="Arrived", data={})
    audit = AuditEvent(actor_label="test", verb="lead.created", object_type="leads.lead", object_repr="three")

    with CaptureQueriesContext(connection) as captured:
        insert_row_with_children(lead, [(event, "lead_id"), (audit, "object_id")], ignore_conflicts=True)

    assert len(captured.captured_queries) == (1 if connection.vendor == "postgresql" else 3)
    assert lead.pk == Lead.objects.get(email_normalized="three@example.com").pk
    assert LeadEvent.objects.get(summary="Arrived").lead_id == lead.pk
    assert AuditEvent.objects.get(object_repr="three").object_id == str(lead.pk)
    assert (event.lead_id, audit.object_id) == (lead.pk, str(lead.pk))


def test_a_parent_skipped_on_a_conflict_writes_no_child():
    insert_row(Lead(email="four@example.com", email_normalized="four@example.com"))
    again = Lead(email="Four@example.com", email_normalized="four@example.com")
    event = LeadEvent(lead=again, kind="created", label="Created", summary="Never", data={})

    insert_row_with_children(again, [(event, "lead_id")], ignore_conflicts=True)

    assert again.pk is None
    assert not LeadEvent.objects.filter(summary="Never").exists()


def test_a_compiled_insert_keeps_no_value_it_wrote():
    """The compiled statements live as long as the process: a plan that remembered the times it
    adapted would grow by a few entries with every lead delivered, forever."""
    lead = insert_row(Lead(email="three@example.com", email_normalized="three@example.com"))
    insert_rows([LeadEvent(lead=lead, kind="created", label="Created", summary="warm", at=timezone.now())])
    when = timezone.now() - timedelta(days=3)
    before = sys.getrefcount(when)

    insert_rows([LeadEvent(lead=lead, kind="created", label="Created", summary="Arrived", at=when)])
    insert_row(LeadEvent(lead=lead, kind="created", label="Created", summary="Again", at=when))

    assert sys.getrefcount(when) == before
    assert LeadEvent.objects.filter(lead=lead, at=when).count() == 2


def _stored(model: type[models.Model], pks: list[int], skip: tuple[str, ...]) -> list[tuple]:
    """The rows as the database holds them (no field conversion), in the order of `pks`, less `skip`."""
    columns = [f.column for f in model._meta.concrete_fields if f.column not in skip]
    quoted = ", ".join(connection.ops.quote_name(c) for c in columns)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {connection.ops.quote_name('id')}, {quoted} FROM {model._meta.db_table}"  # noqa: S608
        )
        by_pk = {row[0]: row[1:] for row in cursor.fetchall()}
    return [by_pk[pk] for pk in pks]


@pytest.fixture
def few_parameters_per_statement():
    """SQLite: a limit of 40 parameters, so the rows below take several statements."""
    if connection.vendor != "sqlite":
        yield
        return
    connection.ensure_connection()
    raw = connection.connection
    was = raw.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)
    raw.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, 40)
    yield
    raw.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, was)


def test_insert_columns_writes_the_rows_create_writes_in_the_given_order(few_parameters_per_statement):
    """Per-row values, shared ones (bound once per statement on SQLite), defaults and JSON given
    encoded: each row as the database holds it is the row `create()` writes; ids follow the order."""
    now = timezone.now()
    people = [
        ("Ann", "ann@x.example", "+12125550100", {"csv": "a1"}),
        ("Bo Ö", "bo@x.example", "", {}),
        ("C'\"d", "", "+12125550102", {"csv": 'a"3\\'}),
        ("", "dee@x.example", "+12125550103", {"zoë": "☃"}),
        ("Eve", "eve@x.example", "", {}),
        ("Fay", "fay@x.example", "", {"x": "y"}),
        ("Gus", "gus@x.example", "", {}),
    ]
    skip = ("id", "public_id", "created_at", "updated_at")
    created = [
        Lead.objects.create(
            name=name, email=email, email_normalized=email, phone_e164=phone, source="csv", external_ids=ids
        ).pk
        for name, email, phone, ids in people
    ]
    expected = _stored(Lead, created, skip)
    Lead.objects.all().delete()

    public_ids = [uuid.uuid4() for _ in people]
    insert_columns(
        Lead,
        {
            "public_id": public_ids,
            "name": [p[0] for p in people],
            "email": [p[1] for p in people],
            "email_normalized": [p[1] for p in people],
            "phone_e164": [p[2] for p in people],
            "external_ids": [json.dumps(p[3]) for p in people],
        },
        same={"created_at": now, "updated_at": now, "source": "csv"},
        encoded=("external_ids",),
    )
    bulk = list(Lead.objects.order_by("id"))

    assert [lead.public_id for lead in bulk] == public_ids  # in the given order
    assert _stored(Lead, [lead.pk for lead in bulk], skip) == expected
    assert {lead.created_at for lead in bulk} == {now}


def test_insert_columns_takes_encoded_values_only_as_text_for_json_fields():
    lead = Lead.objects.create(email="a@x.example", email_normalized="a@x.example")
    columns = {"lead_id": [lead.pk], "summary": ["s"], "kind": ["note"]}

    with pytest.raises(TypeError, match="data is not a JSON field"):
        insert_columns(LeadEvent, {**columns, "data": [{"a": 1}]}, encoded=("data",))
    with pytest.raises(TypeError, match="summary is not a JSON field"):
        insert_columns(LeadEvent, {**columns, "data": ["{}"]}, encoded=("summary",))
    assert not LeadEvent.objects.exists()


def test_a_uuid_is_prepared_as_the_field_prepares_it():
    field = Lead._meta.get_field("public_id")
    value = uuid.uuid4()

    assert _prep_for(field, connection)(value) == field.get_db_prep_save(value, connection)
    assert _prep_for(field, connection)(str(value)) == field.get_db_prep_save(value, connection)


postgresql_only = pytest.mark.skipif(connection.vendor != "postgresql", reason="data-modifying WITH: PostgreSQL only")


def linked(email: str) -> tuple[Lead, LeadEvent, AuditEvent, list[Any]]:
    lead = Lead(email=email, email_normalized=email)
    event = LeadEvent(lead=lead, kind="created", label="Created", summary=f"Arrived {email}", data={"a": [1]})
    audit = AuditEvent(actor_label="test", verb="lead.created", object_type="leads.lead", object_repr=email)
    return lead, event, audit, [(lead, None), (event, (0, "lead_id")), (audit, (0, "object_id"))]


@postgresql_only
def test_linked_rows_are_written_in_one_statement_as_the_separate_inserts_write_them():
    lead, event, audit, rows = linked("five@example.com")
    twin = insert_row(Lead(email="six@example.com", email_normalized="six@example.com"))
    twin_event = insert_row(LeadEvent(lead=twin, kind="created", label="Created", summary="x", data={"a": [1]}))

    with CaptureQueriesContext(connection) as captured:
        assert insert_linked_rows(rows)

    # One statement (inside the test's transaction, in a savepoint of its own).
    assert len([q for q in captured.captured_queries if "SAVEPOINT" not in q["sql"]]) == 1
    assert (event.lead_id, audit.object_id) == (lead.pk, str(lead.pk))
    stored = LeadEvent.objects.get(pk=event.pk)
    assert (stored.lead_id, stored.summary, stored.data) == (lead.pk, "Arrived five@example.com", {"a": [1]})
    assert AuditEvent.objects.get(pk=audit.pk).object_id == str(lead.pk)
    # Each column as insert_row writes it (defaults, stamps and JSON included).
    ignored = {"id", "public_id", "email", "email_normalized", "created_at", "updated_at"}
    by_one = {k: v for k, v in Lead.objects.filter(pk=twin.pk).values().get().items() if k not in ignored}
    by_all = {k: v for k, v in Lead.objects.filter(pk=lead.pk).values().get().items() if k not in ignored}
    assert by_all == by_one
    assert LeadEvent.objects.get(pk=twin_event.pk).data == stored.data


@postgresql_only
def test_unless_finding_a_row_or_a_first_row_conflict_writes_nothing():
    insert_row(Lead(email="seven@example.com", email_normalized="seven@example.com"))
    found = ('SELECT 1 FROM "leads_lead" WHERE "email_normalized" = %s', ["seven@example.com"])
    lead, event, audit, rows = linked("eight@example.com")

    assert not insert_linked_rows(rows, unless=found)
    _lead, _event, _audit, conflicting = linked("seven@example.com")
    assert not insert_linked_rows(conflicting)

    assert (lead.pk, event.pk, audit.pk) == (None, None, None)
    assert Lead.objects.count() == 1
    assert not LeadEvent.objects.exists() and not AuditEvent.objects.exists()


@postgresql_only
def test_a_later_row_that_conflicts_raises_and_leaves_nothing_written_nor_the_transaction_broken():
    insert_row(Lead(email="nine@example.com", email_normalized="nine@example.com"))
    event = AuditEvent(actor_label="test", verb="first")
    lead = Lead(email="Nine@example.com", email_normalized="nine@example.com")

    with pytest.raises(IntegrityError):
        insert_linked_rows([(event, None), (lead, (0, None))])

    assert not AuditEvent.objects.filter(verb="first").exists()  # the transaction still answers
    assert Lead.objects.count() == 1


def test_linked_rows_need_postgresql():
    if connection.vendor == "postgresql":
        pytest.skip("PostgreSQL has them")
    with pytest.raises(NotImplementedError):
        insert_linked_rows(linked("ten@example.com")[3])


@postgresql_only
def test_the_linked_statement_is_prepared_on_the_server_once_and_runs_unprepared_when_turned_off():
    def prepared_withs() -> list[tuple[str, int]]:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT statement, generic_plans + custom_plans FROM pg_prepared_statements WHERE statement LIKE %s",
                ['WITH "r0" AS (INSERT INTO "leads_lead"%'],
            )
            return cursor.fetchall()

    for n in range(3):
        assert insert_linked_rows(linked(f"prep{n}@example.com")[3])
    [(_statement, runs)] = prepared_withs()
    assert runs == 2  # run once unprepared, then prepared (parsed and planned once) and run twice

    connection.connection.prepare_threshold = None  # as `?prepare_threshold=none` leaves it
    try:
        assert insert_linked_rows(linked("unprepared@example.com")[3])
    finally:
        connection.connection.prepare_threshold = connection.settings_dict["OPTIONS"]["prepare_threshold"]
    assert Lead.objects.filter(email_normalized="unprepared@example.com").exists()


# --- update_row_if_unchanged_and_insert_rows -----------------------------------------------------


def _guarded_rows(lead: Lead) -> tuple[LeadEvent, AuditEvent, list[Any]]:
    event = LeadEvent(lead_id=lead.pk, kind="duplicate_intake", label="Again", summary="again", data={"b": 2})
    audit = AuditEvent(actor_label="test", verb="lead.duplicate_intake", object_type="leads.lead", object_repr="x")
    return event, audit, [(event, None), (audit, "object_id")]


@postgresql_only
def test_a_guarded_update_writes_the_fields_its_stamps_and_the_rows_in_one_statement():
    lead = insert_row(Lead(name="Ann", email="g1@example.com", email_normalized="g1@example.com"))
    before = Lead.objects.get(pk=lead.pk).updated_at
    lead.external_ids = {"website": "w-2"}
    event, audit, rows = _guarded_rows(lead)

    with CaptureQueriesContext(connection) as captured:
        assert update_row_if_unchanged_and_insert_rows(
            lead, fields=("external_ids",), unchanged={"name": "Ann", "merged_into_id": None}, rows=rows
        )

    assert len([q for q in captured.captured_queries if "SAVEPOINT" not in q["sql"]]) == 1
    stored = Lead.objects.get(pk=lead.pk)
    assert stored.external_ids == {"website": "w-2"} and stored.updated_at > before
    assert LeadEvent.objects.get(pk=event.pk).data == {"b": 2}
    assert AuditEvent.objects.get(pk=audit.pk).object_id == str(lead.pk) == audit.object_id


@postgresql_only
def test_a_guard_that_no_longer_holds_writes_nothing_and_no_fields_only_locks():
    lead = insert_row(Lead(name="Bo", email="g2@example.com", email_normalized="g2@example.com"))
    Lead.objects.filter(pk=lead.pk).update(name="Bo (edited)")
    lead.external_ids = {"website": "w-3"}
    event, audit, rows = _guarded_rows(lead)

    assert not update_row_if_unchanged_and_insert_rows(
        lead, fields=("external_ids",), unchanged={"name": "Bo"}, rows=rows
    )
    assert (event.pk, audit.pk) == (None, None)
    assert Lead.objects.get(pk=lead.pk).external_ids == {}
    assert not LeadEvent.objects.exists() and not AuditEvent.objects.exists()

    # Merged meanwhile (a NULL guard), then with nothing to update: the row only locked.
    assert update_row_if_unchanged_and_insert_rows(
        lead, fields=(), unchanged={"name": "Bo (edited)", "merged_into_id": None}, rows=rows
    )
    assert Lead.objects.get(pk=lead.pk).external_ids == {}  # not written: no fields
    assert LeadEvent.objects.filter(pk=event.pk).exists()
    other = insert_row(Lead(email="g3@example.com", email_normalized="g3@example.com"))
    Lead.objects.filter(pk=lead.pk).update(merged_into=other)
    assert not update_row_if_unchanged_and_insert_rows(
        lead, fields=(), unchanged={"merged_into_id": None}, rows=_guarded_rows(lead)[2]
    )
    assert LeadEvent.objects.count() == 1
