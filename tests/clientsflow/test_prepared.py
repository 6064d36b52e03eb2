"""`clientsflow.prepared`: the compiled inserts write what the ORM would, and skip only unique conflicts."""

from __future__ import annotations

import sys
from datetime import timedelta

import pytest
from django.db import IntegrityError, connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from clientsflow.models import AuditEvent
from clientsflow.prepared import insert_row, insert_row_with_children, insert_rows
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
