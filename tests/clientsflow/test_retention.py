"""The daily retention purge of webhook bodies: old processed bodies go, the event rows stay."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from clientsflow.dispatcher import dispatch_tick, registry
from clientsflow.models import JobRun, WebhookEvent

pytestmark = pytest.mark.django_db


def event(event_id: str, *, age_days: int, status: str = WebhookEvent.Status.PROCESSED) -> WebhookEvent:
    row = WebhookEvent.objects.create(
        provider="leads:form",
        event_id=event_id,
        event_type="lead.created",
        headers={"Content-Type": "application/json"},
        body='{"email": "ada@example.com"}',
        status=status,
        processed_at=timezone.now() if status == WebhookEvent.Status.PROCESSED else None,
    )
    WebhookEvent.objects.filter(pk=row.pk).update(received_at=timezone.now() - timedelta(days=age_days))
    return row


def run_daily_purge(now: datetime, capture) -> list[str]:
    jobs = {"webhook_body_purge": registry()["webhook_body_purge"]}
    with capture(execute=True):
        return dispatch_tick(now=now, jobs=jobs)


def test_old_processed_bodies_are_purged_and_everything_else_stays(settings, django_capture_on_commit_callbacks):
    settings.RETENTION_DAYS = 30
    old = event("old", age_days=31)
    recent = event("recent", age_days=29)
    old_failed = event("old-failed", age_days=31, status=WebhookEvent.Status.FAILED)
    old_received = event("old-received", age_days=31, status=WebhookEvent.Status.RECEIVED)
    morning = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)  # 07:00 in New York, after the 03:15 slot

    assert run_daily_purge(morning, django_capture_on_commit_callbacks) == ["webhook_body_purge"]

    old.refresh_from_db()
    assert (old.body, old.headers) == ("", {})
    # The processed record itself stays: provider, id, type, status and times.
    assert (old.provider, old.event_id, old.event_type, old.status) == (
        "leads:form",
        "old",
        "lead.created",
        "processed",
    )
    assert old.processed_at is not None
    for kept in (recent, old_failed, old_received):
        kept.refresh_from_db()
        assert kept.body == '{"email": "ada@example.com"}', kept.event_id
    run = JobRun.objects.get(job="webhook_body_purge")
    assert (run.status, run.result) == (JobRun.Status.SUCCEEDED, {"purged": 1})


def test_a_rerun_on_the_same_day_does_nothing(settings, django_capture_on_commit_callbacks):
    settings.RETENTION_DAYS = 30
    event("old", age_days=31)
    morning = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)
    run_daily_purge(morning, django_capture_on_commit_callbacks)
    event("old-2", age_days=40)

    later_same_day = run_daily_purge(morning + timedelta(hours=6), django_capture_on_commit_callbacks)

    assert later_same_day == []
    assert JobRun.objects.filter(job="webhook_body_purge").count() == 1
    assert WebhookEvent.objects.get(event_id="old-2").body != ""  # left for tomorrow's run
    # Run by hand anyway, the purge is idempotent: the already-emptied body is not counted again.
    assert registry()["webhook_body_purge"].func() == {"purged": 1}
    assert registry()["webhook_body_purge"].func() == {"purged": 0}
