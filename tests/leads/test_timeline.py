"""The one timeline service: any app records on a lead through it, with kinds of its own."""

from __future__ import annotations

import ast
from datetime import timedelta
from io import StringIO
from pathlib import Path

import pytest
from django.apps import apps
from django.core.management import call_command
from django.utils import timezone

from board.selectors import lead_timeline
from leads.models import LeadEvent, TimelineKind
from leads.services.timeline import timeline_record
from tests.leads.factories import LeadFactory, staff_user

pytestmark = pytest.mark.django_db

REPO = Path(__file__).resolve().parents[2]


class ProbeEventKind(TimelineKind):
    """A kind leads has never heard of, declared the way any app declares its own."""

    PROBED = "probed", "Probed by a test"


def test_an_event_stores_its_kind_and_label_and_shows_on_the_lead_page(client):
    lead = LeadFactory()
    owner = staff_user("owner", role="Owner")
    client.force_login(owner)

    event = timeline_record(lead=lead, kind=ProbeEventKind.PROBED, summary="Looked at closely", data={"probe_id": 7})

    assert event is not None
    assert (event.kind, event.label, event.data) == ("probed", "Probed by a test", {"probe_id": 7})
    (entry,) = [e for e in lead_timeline(lead) if e.kind == "probed"]
    assert (entry.title, entry.detail) == ("Probed by a test", "Looked at closely")
    html = client.get(f"/board/lead/{lead.public_id}/").content.decode()
    assert "Probed by a test" in html and "Looked at closely" in html


def test_a_new_kind_in_any_app_needs_no_leads_migration():
    # ProbeEventKind above is a kind declared after the last migration; the models still match them.
    out = StringIO()
    call_command("makemigrations", "--check", "--dry-run", stdout=out)
    assert "No changes detected" in out.getvalue()


def test_long_summaries_are_cut_to_fit_and_a_past_time_can_be_given():
    lead = LeadFactory()
    earlier = timezone.now() - timedelta(days=3)

    event = timeline_record(lead=lead, kind=LeadEvent.Kind.NOTE, summary="x" * 400, occurred_at=earlier)

    assert event is not None
    event.refresh_from_db()
    assert len(event.summary) == 255
    assert event.at == earlier


def test_once_per_records_a_thing_only_once_per_lead():
    lead, other = LeadFactory(), LeadFactory()
    first = timeline_record(
        lead=lead, kind=ProbeEventKind.PROBED, summary="One", data={"probe_id": 1}, once_per="probe_id"
    )
    again = timeline_record(
        lead=lead, kind=ProbeEventKind.PROBED, summary="One", data={"probe_id": 1}, once_per="probe_id"
    )
    elsewhere = timeline_record(
        lead=other, kind=ProbeEventKind.PROBED, summary="One", data={"probe_id": 1}, once_per="probe_id"
    )

    assert first is not None and again is None and elsewhere is not None
    assert LeadEvent.objects.filter(kind="probed").count() == 2
    with pytest.raises(ValueError, match="names no key"):
        timeline_record(lead=lead, kind=ProbeEventKind.PROBED, summary="Two", once_per="probe_id")


def test_an_event_without_a_label_still_reads_as_words():
    event = LeadEvent.objects.create(lead=LeadFactory(), kind="legacy_thing", summary="From before labels")
    assert event.title == "Legacy thing"


def _names_lead_event(path: Path) -> bool:
    tree = ast.parse(path.read_text(), filename=str(path))
    return any(
        isinstance(node, ast.Name | ast.alias)
        and "LeadEvent" in {getattr(node, "id", None), getattr(node, "name", None)}
        for node in ast.walk(tree)
    )


def test_no_app_but_leads_touches_lead_event_rows():
    # Other apps record through `timeline_record`; none imports the model to write rows itself.
    offenders = []
    for config in apps.get_app_configs():
        root = Path(config.path)
        # reports only reads the timeline (and its bench seed bulk-writes synthetic rows).
        if config.label in ("leads", "reports") or REPO not in root.parents:
            continue
        offenders += [
            str(path.relative_to(REPO))
            for path in root.rglob("*.py")
            if "migrations" not in path.parts and _names_lead_event(path)
        ]
    assert offenders == []
