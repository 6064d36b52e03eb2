"""The daily retention purge of call transcripts: old transcripts go, the calls stay."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from calls.models import Call
from clientsflow.dispatcher import dispatch_tick, registry
from clientsflow.models import JobRun
from tests.calls.factories import CallFactory
from tests.leads.factories import LeadFactory

pytestmark = pytest.mark.django_db

TRANSCRIPT = "Owner: What is your budget?\nLead: About ten thousand."


def call(*, age_days: int, **fields) -> Call:
    row = CallFactory(transcript_text=TRANSCRIPT, **fields)
    Call.objects.filter(pk=row.pk).update(created_at=timezone.now() - timedelta(days=age_days))
    return row


def run_daily_purge(now: datetime, capture) -> list[str]:
    jobs = {"call_transcript_purge": registry()["call_transcript_purge"]}
    with capture(execute=True):
        return dispatch_tick(now=now, jobs=jobs)


def test_old_transcripts_are_purged_recent_ones_and_the_calls_stay(settings, django_capture_on_commit_callbacks):
    settings.RETENTION_DAYS = 60
    lead = LeadFactory()
    old = call(age_days=61, lead=lead, match_method="email", match_confidence=1.0, summary="Budget agreed.")
    recent = call(age_days=59)
    morning = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)  # 07:00 in New York, after the 03:30 slot

    assert run_daily_purge(morning, django_capture_on_commit_callbacks) == ["call_transcript_purge"]

    old.refresh_from_db()
    assert old.transcript_text == ""
    # The processed record stays: the call, its summary, its match to the lead.
    assert (old.lead_id, old.match_method, old.summary, old.status) == (lead.pk, "email", "Budget agreed.", "fetched")
    recent.refresh_from_db()
    assert recent.transcript_text == TRANSCRIPT
    assert JobRun.objects.get(job="call_transcript_purge").result == {"purged": 1}


def test_a_rerun_on_the_same_day_does_nothing(settings, django_capture_on_commit_callbacks):
    settings.RETENTION_DAYS = 60
    call(age_days=61)
    morning = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
    run_daily_purge(morning, django_capture_on_commit_callbacks)

    assert run_daily_purge(morning + timedelta(hours=8), django_capture_on_commit_callbacks) == []
    assert JobRun.objects.filter(job="call_transcript_purge").count() == 1
    assert registry()["call_transcript_purge"].func() == {"purged": 0}
