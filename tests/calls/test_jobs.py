"""Dispatcher jobs, the Slack digest, needs-you counts, card badges and the fetch task's backoff."""

from __future__ import annotations

import json
from unittest import mock

import httpx
import pytest
from celery.exceptions import Retry

from board.selectors import needs_you
from calls.jobs import calls_alert_digest_job, notion_calls_sync_retry
from calls.models import Call
from calls.selectors import failed_sync_badges
from calls.tasks import fetch_backoff_seconds, fetch_call_transcript
from clientsflow.dispatcher import registry
from tests.calls.conftest import SLACK_URL
from tests.calls.factories import CallFactory
from tests.leads.factories import LeadFactory

pytestmark = pytest.mark.django_db


def test_jobs_are_registered_with_their_schedules():
    jobs = registry()
    assert jobs["fireflies_backup_poll"].schedule.describe() == "every 3 min"
    assert "notion_calls_sync_retry" in jobs and "calls_alert_digest" in jobs


def test_digest_posts_once_per_problem_to_slack(settings, vendors):
    settings.SLACK_WEBHOOK_URL = SLACK_URL
    unmatched = CallFactory(title="Mystery call")
    failed = CallFactory(
        lead=LeadFactory(),
        match_method="email",
        match_confidence=1.0,
        notion_status="failed",
        notion_error="Notion refused the row (400 validation_error)",
    )

    assert calls_alert_digest_job() == {"unmatched": 1, "failed": 1}
    text = json.loads(vendors.slack.calls.last.request.content)["text"]
    assert "Mystery call" in text and "validation_error" in text
    assert "match_method__exact=unmatched" in text
    assert calls_alert_digest_job() == {"unmatched": 0, "failed": 0}
    assert vendors.slack.call_count == 1
    assert Call.objects.get(pk=unmatched.pk).unmatched_alerted_at is not None
    assert Call.objects.get(pk=failed.pk).sync_failure_alerted_at is not None


def test_digest_without_slack_keeps_alerts_for_later_and_slack_errors_fail_the_job(settings, vendors):
    CallFactory()
    assert calls_alert_digest_job()["skipped"] == 1
    assert vendors.slack.call_count == 0
    settings.SLACK_WEBHOOK_URL = SLACK_URL
    vendors.slack.return_value = httpx.Response(429, headers={"Retry-After": "5"}, text="rate_limited")
    from clientsflow.clients.slack import SlackError

    with pytest.raises(SlackError, match="rate limit"):
        calls_alert_digest_job()
    assert Call.objects.get().unmatched_alerted_at is None


def test_notion_retry_job_syncs_waiting_calls(vendors):
    CallFactory(notion_status="retrying")
    CallFactory(notion_status="pending")
    CallFactory(notion_status="failed")  # a 400 waits for a person, not the job
    assert notion_calls_sync_retry() == {"synced": 2, "failed": 0, "waiting": 0}
    assert vendors.notion_create.call_count == 2


def test_needs_you_counts_unmatched_and_failed(vendors):
    CallFactory()
    CallFactory(status=Call.Status.PENDING)  # not fetched yet: nothing to match
    CallFactory(lead=LeadFactory(), match_method="email", match_confidence=1.0, notion_status="failed")
    counts = {c.key: c.count for c in needs_you()}
    assert counts["calls_unmatched"] == 1
    assert counts["calls_notion_failed"] == 1


def test_card_badge_for_a_failed_call_sync_uses_one_query(django_assert_num_queries):
    bad, good = LeadFactory(), LeadFactory()
    CallFactory(lead=bad, match_method="email", match_confidence=1.0, notion_status="failed")
    CallFactory(lead=good, match_method="email", match_confidence=1.0, notion_status="synced")
    with django_assert_num_queries(1):
        badges = failed_sync_badges([bad.pk, good.pk])
    assert list(badges) == [bad.pk]
    assert badges[bad.pk][0].label == "Call not in Notion"


def test_fetch_backoff_grows_and_honours_retry_after():
    assert [fetch_backoff_seconds(n) for n in range(7)] == [60, 120, 240, 480, 960, 1800, 1800]
    assert fetch_backoff_seconds(0, retry_after=300) == 300


def test_not_ready_transcript_is_retried_with_backoff_by_a_worker(vendors):
    vendors.fireflies.not_ready()
    call = CallFactory(status=Call.Status.PENDING)
    fetch_call_transcript.push_request(is_eager=False, retries=2, called_directly=False)
    try:
        with (
            mock.patch.object(fetch_call_transcript, "retry", side_effect=Retry("later")) as retry,
            pytest.raises(Retry),
        ):
            fetch_call_transcript.run(call.pk)
    finally:
        fetch_call_transcript.pop_request()
    assert retry.call_args.kwargs["countdown"] == 240
    call.refresh_from_db()
    assert (call.status, call.fetch_attempts) == (Call.Status.PENDING, 1)
