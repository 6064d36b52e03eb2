"""Rows gathered for the caller (`pending_rows`) and written together are the rows the services
write themselves: the same timeline events and audit rows, in the same order."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from clientsflow.audit import audit_event
from clientsflow.models import AuditEvent
from clientsflow.prepared import insert_rows, insert_rows_together
from leads.models import Lead, LeadEvent, Stage
from leads.services.intake import LeadData, lead_intake
from leads.services.stages import lead_advance_stage
from leads.services.timeline import timeline_event

pytestmark = pytest.mark.django_db


def _book(details: dict[str, str], *, gathered: bool) -> Lead:
    """An intake and the move it leads to, as a booking makes them, in one transaction."""
    pending: list[Any] | None = [] if gathered else None
    with transaction.atomic():
        intake = lead_intake(
            data=LeadData.build(**details), source="booking", actor_label="booking page", via="intro",
            pending_rows=pending,
        )  # fmt: skip
        lead_advance_stage(
            lead=intake.lead, to_stage=Stage.BOOKED, actor_label="booking page", reason="Booked Intro",
            held=True, created=intake.created, pending_rows=pending,
        )  # fmt: skip
        if pending is not None:
            insert_rows_together(pending)
    return intake.lead


def _rows(lead: Lead) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The lead's timeline and audit rows in id order, without ids, times and the lead's own id."""
    events = list(LeadEvent.objects.filter(lead=lead).order_by("id").values("kind", "label", "summary", "data"))
    audits = list(
        AuditEvent.objects.filter(object_type="leads.lead", object_id=str(lead.pk))
        .order_by("id")
        .values("actor_user_id", "actor_label", "verb", "object_type", "object_repr", "details")
    )
    return events, audits


def test_a_new_lead_and_its_move_write_the_same_rows_gathered():
    alone = _book({"name": "Kim Park", "email": "kim@one.example"}, gathered=False)
    gathered = _book({"name": "Kim Park", "email": "kim@two.example"}, gathered=True)

    assert _rows(gathered) == _rows(alone)
    events, audits = _rows(gathered)
    assert [e["kind"] for e in events] == ["created"]
    assert [a["verb"] for a in audits] == ["lead.created", "lead.stage_changed"]


def test_a_known_lead_and_its_move_write_the_same_rows_gathered():
    for email in ("ana@one.example", "ana@two.example"):
        lead_intake(data=LeadData.build(name="Ana", email=email), source="website")
    # Arriving again with a new company (filled in) and another name (noted as "also seen").
    alone = _book({"name": "Ana Silva", "email": "ana@one.example", "company": "Silva Ltd"}, gathered=False)
    gathered = _book({"name": "Ana Silva", "email": "ana@two.example", "company": "Silva Ltd"}, gathered=True)

    assert _rows(gathered) == _rows(alone)
    events, audits = _rows(gathered)
    assert [e["kind"] for e in events] == ["created", "also_seen", "duplicate_intake"]
    assert [a["verb"] for a in audits] == ["lead.created", "lead.duplicate_intake", "lead.stage_changed"]
    assert Lead.objects.get(pk=gathered.pk).company == "Silva Ltd"
    assert Lead.objects.get(pk=gathered.pk).stage == Stage.BOOKED


def test_rows_written_together_are_the_rows_written_one_by_one_in_order():
    lead = lead_intake(data=LeadData.build(email="lee@example.com"), source="website").lead

    def made(tag: str) -> list[Any]:
        rows: list[Any] = []
        for n in range(3):
            rows.append(timeline_event(lead=lead, kind=LeadEvent.Kind.NOTE, summary=f"{tag} {n}", data={"n": n}))
            rows.append(audit_event(verb=f"test.{tag}", obj=lead, actor_label="test", details={"n": n}))
        return rows

    insert_rows(made("alone"))
    with CaptureQueriesContext(connection) as ctx:
        insert_rows_together(made("together"))
    # One INSERT per table (one round trip on PostgreSQL).
    assert len(ctx.captured_queries) == (1 if connection.vendor == "postgresql" else 2)

    def written(tag: str) -> tuple[list[Any], list[Any]]:
        events = LeadEvent.objects.filter(summary__startswith=tag).order_by("id").values_list("summary", "data", "kind")
        audits = AuditEvent.objects.filter(verb=f"test.{tag}").order_by("id").values_list("details", "object_id")
        return [(s.split()[1], d, k) for s, d, k in events], list(audits)

    assert written("together") == written("alone")
    assert [d["n"] for d, _object_id in written("together")[1]] == [0, 1, 2]


def test_more_rows_than_one_statement_takes_are_all_written_in_order():
    count = 1000  # SQLite takes 999 parameters per statement by default: several statements
    insert_rows_together([audit_event(verb="test.many", actor_label="test", details={"n": n}) for n in range(count)])
    assert [
        d["n"] for d in AuditEvent.objects.filter(verb="test.many").order_by("id").values_list("details", flat=True)
    ] == list(range(count))
