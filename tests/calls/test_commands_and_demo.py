"""backfill_transcripts, backfill_notion_calls and the demo seeder."""

from __future__ import annotations

import random
from datetime import UTC, datetime
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from calls.demo import seed_calls
from calls.models import Call
from clientsflow.demo import DemoContext
from leads.models import LeadEvent, Stage
from tests.calls.conftest import fixture_json
from tests.calls.factories import CallFactory
from tests.leads.factories import LeadFactory

pytestmark = pytest.mark.django_db


def _page(ids: list[str]) -> dict:
    return {"data": {"transcripts": [{"id": i, "title": i, "date": 1795525200000} for i in ids]}}


def _transcript(meeting_id: str, email: str) -> dict:
    data = fixture_json("fireflies_transcript.json")
    data["data"]["transcript"].update(id=meeting_id, participants=[email], meeting_attendees=[])
    return data


def test_backfill_transcripts_pages_matches_and_is_idempotent(vendors, django_capture_on_commit_callbacks):
    import httpx

    from calls.clients import fireflies

    first_page = [f"m-{n:02d}" for n in range(fireflies.PAGE_SIZE)]
    vendors.fireflies.lists = [_page(first_page), _page(["m-last"]), _page([])]
    lead = LeadFactory(email="x@acme.example", email_normalized="x@acme.example", stage=Stage.BOOKED)
    answers = [httpx.Response(200, json=_transcript(i, "x@acme.example")) for i in [*first_page, "m-last"]]
    vendors.fireflies.transcripts.extend(answers)
    out = StringIO()

    with django_capture_on_commit_callbacks(execute=True):
        call_command("backfill_transcripts", "--since", "2026-11-01", stdout=out)

    assert Call.objects.filter(status="fetched").count() == 51
    assert Call.objects.filter(lead=lead).count() == 51
    assert "51 listed, 51 fetched and matched" in out.getvalue()
    skips = [r["variables"]["skip"] for r in vendors.fireflies.requests if "transcripts(" in r["query"]]
    assert skips == [0, 50]
    assert vendors.fireflies.requests[0]["variables"]["fromDate"] == "2026-11-01T04:00:00+00:00"

    vendors.fireflies.lists = [_page(["m-last"])]
    before = vendors.fireflies.count("transcript(")
    call_command("backfill_transcripts", "--since", "2026-11-01", stdout=StringIO())
    assert vendors.fireflies.count("transcript(") == before  # already fetched: skipped
    assert Call.objects.count() == 51


def test_backfill_transcripts_needs_a_date_and_a_key(settings):
    with pytest.raises(CommandError, match="YYYY-MM-DD"):
        call_command("backfill_transcripts", "--since", "last week")
    settings.FIREFLIES_API_KEY = ""
    with pytest.raises(CommandError, match="FIREFLIES_API_KEY"):
        call_command("backfill_transcripts", "--since", "2026-11-01")


def test_backfill_notion_calls_writes_missing_and_failed_rows_with_a_progress_bar(vendors):
    CallFactory(notion_status="pending")
    CallFactory(notion_status="failed")
    CallFactory(notion_status="synced", notion_page_id="abc")
    CallFactory(notion_status="pending", started_at=datetime(2026, 10, 1, tzinfo=UTC))
    out = StringIO()

    call_command("backfill_notion_calls", "--since", "2026-11-01", stdout=out)

    assert "[" + "#" * 30 + "] 2/2" in out.getvalue()
    assert "2 call(s): 2 in Notion" in out.getvalue()
    assert vendors.notion_create.call_count == 2


def test_seed_demo_creates_matched_and_unmatched_calls():
    done = [LeadFactory(stage=s).pk for s in (Stage.CALL_DONE, Stage.PROPOSAL_SENT, Stage.PAID)]
    booked = LeadFactory(stage=Stage.BOOKED).pk
    LeadFactory(name="Jordan Vale", company="Vale Partners", stage=Stage.REPLIED)
    ctx = DemoContext(
        rng=random.Random(7),
        now=datetime(2026, 11, 24, 12, tzinfo=UTC),
        owner=None,
        leads_by_stage={"call_done": done[:1], "proposal_sent": done[1:2], "paid": done[2:], "booked": [booked]},
        log=lambda _m: None,
    )

    assert seed_calls(ctx) == {"calls_matched": 3, "calls_unmatched": 3}
    assert set(Call.objects.exclude(lead=None).values_list("lead_id", flat=True)) == set(done)
    assert LeadEvent.objects.filter(kind="call").count() == 3
    vale = Call.objects.get(title="Intro: Vale Partners")
    assert vale.lead is None
    assert vale.match_suggestions and vale.match_suggestions[0]["name"] == "Jordan Vale"
