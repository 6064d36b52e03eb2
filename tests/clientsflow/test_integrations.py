"""Vendor health (clientsflow.integrations): a run of failures becomes one owner alert; a success clears it."""

from __future__ import annotations

import json
from datetime import timedelta

import httpx
import pytest
import respx
from django.utils import timezone

from board.selectors import needs_you as needs_you_items
from clientsflow.integrations import integration_failed, integration_ok
from clientsflow.models import AuditEvent, IntegrationStatus

pytestmark = pytest.mark.django_db
SLACK_URL = "https://hooks.slack.com/services/T000/B000/INTEGRATIONS"


@pytest.fixture
def slack(settings):
    settings.SLACK_WEBHOOK_URL = SLACK_URL
    settings.INTEGRATION_ALERT_AFTER_FAILURES = 3
    settings.INTEGRATION_ALERT_AFTER_SECONDS = 60
    with respx.mock(assert_all_mocked=True) as mock:
        route = mock.post(SLACK_URL).mock(return_value=httpx.Response(200, text="ok"))
        yield route


def needs_you(key: str = "integration_fireflies") -> tuple[str, int, str]:
    item = next(c for c in needs_you_items() if c.key == key)
    return item.label, item.count, item.url


def posted_texts(route) -> list[str]:
    return [json.loads(call.request.content)["text"] for call in route.calls]


def test_failures_in_a_row_raise_one_alert_and_a_success_clears_it(slack):
    error = RuntimeError("Fireflies answered HTTP 500.")
    integration_failed("fireflies", error=error)
    integration_failed("fireflies", error=error)
    assert needs_you()[1] == 0 and slack.call_count == 0

    row = integration_failed("fireflies", error=error)  # the third in a row
    assert row.alerted_at is not None and row.consecutive_failures == 3
    assert needs_you() == ("Integration failing: Fireflies", 1, "/admin/calls/call/?status__exact=pending")
    assert slack.call_count == 1
    text = posted_texts(slack)[0]
    assert "Integration failing: Fireflies" in text and "3 times in a row" in text and "HTTP 500" in text
    assert "/admin/calls/call/?status__exact=pending" in text

    for _ in range(5):  # the outage goes on: no more posts, no more alerts
        integration_failed("fireflies", error=RuntimeError("Fireflies rate limit reached."))
    assert slack.call_count == 1
    assert AuditEvent.objects.filter(verb="integration.failing").count() == 1
    assert IntegrationStatus.objects.get(vendor="fireflies").consecutive_failures == 8

    integration_ok("fireflies")
    row = IntegrationStatus.objects.get(vendor="fireflies")
    assert (row.failing_since, row.alerted_at, row.slack_posted_at, row.consecutive_failures) == (None, None, None, 0)
    assert row.last_ok_at is not None and "rate limit" in row.last_error  # the last error stays for reference
    assert needs_you()[1] == 0
    assert slack.call_count == 2 and "Fireflies is working again" in posted_texts(slack)[1]
    assert AuditEvent.objects.filter(verb="integration.recovered").count() == 1

    integration_ok("fireflies")  # fine and still fine: nothing new
    integration_failed("fireflies", error=error)  # a new outage starts from one
    assert slack.call_count == 2 and needs_you()[1] == 0


def test_two_failures_a_minute_apart_are_an_outage(slack):
    start = timezone.now()
    integration_failed("notion", error="HTTP 502", now=start)
    assert needs_you("integration_notion")[1] == 0
    integration_failed("notion", error="HTTP 502", now=start + timedelta(seconds=61))
    assert needs_you("integration_notion")[1] == 1
    assert slack.call_count == 1 and "Notion has failed 2 times" in posted_texts(slack)[0]


def test_a_slack_post_that_fails_is_tried_again_on_the_next_failure_then_never_again(slack):
    slack.side_effect = [httpx.Response(500, text="no_service"), httpx.Response(200, text="ok")]
    for _ in range(3):
        integration_failed("stripe", error="HTTP 500")
    row = IntegrationStatus.objects.get(vendor="stripe")
    assert row.alerted_at is not None and row.slack_posted_at is None  # alerted; Slack not reached yet
    integration_failed("stripe", error="HTTP 500")
    assert IntegrationStatus.objects.get(vendor="stripe").slack_posted_at is not None
    integration_failed("stripe", error="HTTP 500")
    assert slack.call_count == 2  # one refused, one posted, none after


def test_local_mode_without_slack_still_shows_the_alert(settings):
    settings.SLACK_WEBHOOK_URL = ""
    with respx.mock(assert_all_mocked=True) as mock:  # no HTTP at all
        for _ in range(3):
            integration_failed("fireflies", error="HTTP 429")
        assert not mock.calls
    assert needs_you()[1] == 1
    assert IntegrationStatus.objects.get(vendor="fireflies").slack_posted_at is None
