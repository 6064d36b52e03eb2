"""Vendor clients through their real libraries, HTTP answered by respx: dates, Notion limits and errors."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from calls.clients import fireflies, notion
from calls.models import Call
from calls.services.notion_sync import call_notion_sync, call_start_iso
from clientsflow.models import AuditEvent
from tests.calls.conftest import NOTION_PAGES, PAGE_ID, fixture_json, notion_body
from tests.calls.factories import CallFactory
from tests.leads.factories import LeadFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("epoch_ms", "zone", "expected"),
    [
        (1795525200000, "America/New_York", "2026-11-24T08:00:00-05:00"),  # EST
        (1784034000000, "America/New_York", "2026-07-14T09:00:00-04:00"),  # EDT
        (1795525200000, "Asia/Kolkata", "2026-11-24T18:30:00+05:30"),
        (1795525200000, "Pacific/Auckland", "2026-11-25T02:00:00+13:00"),  # NZDT, next calendar day
        (1795525200000, "UTC", "2026-11-24T13:00:00+00:00"),
        (1795525200123, "Europe/London", "2026-11-24T13:00:00.123000+00:00"),
    ],
)
def test_epoch_ms_dates_are_exact_instants_shown_in_each_zone(epoch_ms, zone, expected):
    started = fireflies.epoch_ms_to_datetime(epoch_ms)
    assert started.tzinfo is UTC
    call = CallFactory(started_at=started, timezone=zone)
    assert call_start_iso(call) == expected


def test_epoch_ms_garbage_is_none_not_a_crash():
    assert fireflies.epoch_ms_to_datetime(None) is None
    assert fireflies.epoch_ms_to_datetime("soon") is None


def test_transcript_parsing_of_the_documented_shape(vendors):
    vendors.fireflies.ready()
    transcript = fireflies.fetch_transcript("01KAB3XQ7TZ9N4D2W8R6M5C1PV")
    assert transcript.started_at == datetime(2026, 11, 24, 13, 0, tzinfo=UTC)
    assert transcript.duration_seconds == 1890
    assert transcript.calendar_event_ids == [
        "cf0a1b2c3d4e5f60718293a4b5c6d7e8f",
        "4nd9k2q1l0s8m7v6b5c4x3z2a1_20261124T130000Z",
    ]
    assert transcript.attendees[1] == fireflies.Attendee(
        name="Dana Whitfield", email="dana.whitfield@northwind.example"
    )
    assert transcript.action_items == ["Send proposal with two options", "Share case studies"]
    assert transcript.summary.startswith("Dana wants a new marketing site")


def test_fireflies_rate_limit_is_our_own_error_with_retry_after(vendors):
    vendors.fireflies.transcripts.append(httpx.Response(429, headers={"Retry-After": "120"}, json={"errors": []}))
    with pytest.raises(fireflies.FirefliesRateLimited) as caught:
        fireflies.fetch_transcript("x")
    assert caught.value.retry_after == 120.0


def test_fireflies_without_a_key_is_local_mode(settings):
    settings.FIREFLIES_API_KEY = ""
    assert not fireflies.enabled()
    with pytest.raises(fireflies.FirefliesNotConfigured):
        fireflies.fetch_transcript("x")


def test_long_summary_is_chunked_to_notion_rich_text_limit():
    chunks = notion.chunk_rich_text("x" * 4500)
    assert [len(c["text"]["content"]) for c in chunks] == [2000, 2000, 500]
    capped = notion.chunk_rich_text("y" * (2000 * 120))
    assert len(capped) == 100
    assert capped[-1]["text"]["content"].endswith("…")
    assert all(len(c["text"]["content"]) <= 2000 for c in capped)


def test_sync_creates_a_row_with_chunked_summary_and_stores_the_page_id(vendors):
    lead = LeadFactory(name="Dana Whitfield", email="dana@northwind.example")
    call = CallFactory(
        lead=lead, match_method="email", match_confidence=1.0, summary="s" * 5000, video_url="https://v.example/1.mp4"
    )

    call = call_notion_sync(call_id=call.pk)

    assert (call.notion_status, call.notion_page_id, call.notion_error) == ("synced", PAGE_ID, "")
    body = notion_body(vendors.notion_create)
    assert body["parent"] == {"type": "database_id", "database_id": "d9824bdc-8445-4327-be8b-5b47500af6ce"}
    summary = body["properties"]["Summary"]["rich_text"]
    assert [len(p["text"]["content"]) for p in summary] == [2000, 2000, 1000]
    assert body["properties"]["Lead"]["rich_text"][0]["text"]["content"] == "Dana Whitfield"
    assert body["properties"]["Recording"]["url"] == "https://v.example/1.mp4"
    assert body["properties"]["Fireflies"]["url"] == call.transcript_url
    assert vendors.notion_create.calls.last.request.headers["Authorization"] == "Bearer ntn_test_token"

    call_notion_sync(call_id=call.pk)  # a re-sync updates the same row
    assert vendors.notion_create.call_count == 1
    assert vendors.notion_update.call_count == 1


def test_notion_429_is_retried_after_retry_after_then_succeeds(vendors):
    vendors.notion_create.side_effect = [
        httpx.Response(429, headers={"Retry-After": "1"}, json=fixture_json("notion_rate_limited.json")),
        httpx.Response(200, json=fixture_json("notion_page_created.json")),
    ]
    call = call_notion_sync(call_id=CallFactory().pk)
    assert call.notion_status == "synced"
    assert vendors.notion_create.call_count == 2


def test_notion_429_that_persists_is_left_for_the_retry_job(vendors):
    vendors.notion_create.return_value = httpx.Response(
        429, headers={"Retry-After": "30"}, json=fixture_json("notion_rate_limited.json")
    )
    call = call_notion_sync(call_id=CallFactory().pk)
    assert call.notion_status == "retrying"
    assert "rate_limited" in call.notion_error
    assert call.notion_claimed_at is None
    assert vendors.notion_create.call_count == 3  # first try + NOTION_MAX_RETRIES (2)


def test_notion_400_validation_error_is_recorded_not_retried_and_shown(vendors):
    vendors.notion_create.return_value = httpx.Response(400, json=fixture_json("notion_validation_error.json"))
    lead = LeadFactory()
    call = CallFactory(lead=lead, match_method="email", match_confidence=1.0)

    call = call_notion_sync(call_id=call.pk)

    assert call.notion_status == Call.NotionStatus.FAILED
    assert "validation_error" in call.notion_error
    assert "Email is not a property that exists." in call.notion_error
    assert vendors.notion_create.call_count == 1
    assert AuditEvent.objects.filter(verb="call.notion_failed", object_id=str(call.pk)).exists()


def test_a_row_deleted_in_notion_is_written_again(vendors):
    vendors.notion_update.return_value = httpx.Response(
        404, json={"object": "error", "status": 404, "code": "object_not_found", "message": "Could not find page."}
    )
    call = CallFactory(notion_page_id="00000000-0000-0000-0000-000000000000", notion_status="synced")
    call = call_notion_sync(call_id=call.pk)
    assert (call.notion_status, call.notion_page_id) == ("synced", PAGE_ID)


def test_sync_of_a_claimed_call_waits_for_the_retry_job(vendors):
    from django.utils import timezone

    call = CallFactory(notion_claimed_at=timezone.now())
    assert call_notion_sync(call_id=call.pk).notion_status == "pending"
    assert vendors.notion_create.call_count == 0


def test_notion_not_configured_is_marked_not_failed(settings, vendors):
    settings.NOTION_TOKEN = ""
    call = call_notion_sync(call_id=CallFactory().pk)
    assert call.notion_status == "not_configured"
    assert vendors.notion_create.call_count == 0


def test_network_error_is_retryable(vendors):
    vendors.notion_create.side_effect = httpx.ConnectError("boom")
    call = call_notion_sync(call_id=CallFactory().pk)
    assert call.notion_status == "retrying"
    assert "Could not reach Notion" in call.notion_error
    assert NOTION_PAGES.startswith("https://api.notion.com")


def test_notion_outage_counts_toward_the_owner_alert_but_a_refused_row_does_not(vendors):
    from clientsflow.models import IntegrationStatus

    vendors.notion_create.return_value = httpx.Response(400, json=fixture_json("notion_validation_error.json"))
    call_notion_sync(call_id=CallFactory().pk)
    assert not IntegrationStatus.objects.filter(vendor="notion", consecutive_failures__gt=0).exists()

    vendors.notion_create.return_value = httpx.Response(
        429, headers={"Retry-After": "30"}, json=fixture_json("notion_rate_limited.json")
    )
    for _ in range(3):
        call_notion_sync(call_id=CallFactory().pk)
    status = IntegrationStatus.objects.get(vendor="notion")
    assert status.consecutive_failures == 3
    assert status.alerted_at is not None

    vendors.notion_create.return_value = httpx.Response(200, json=fixture_json("notion_page_created.json"))
    call_notion_sync(call_id=CallFactory().pk)
    status.refresh_from_db()
    assert (status.consecutive_failures, status.alerted_at) == (0, None)
