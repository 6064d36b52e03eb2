"""Calls test setup: vendor settings, Fireflies/Notion/Slack answered at the transport by respx."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
import respx

FIXTURES = Path(__file__).parent / "fixtures"
FIREFLIES_SECRET = "test-fireflies-webhook-secret-0123456789"
LEAD_SECRET = "test-lead-webhook-secret-0123456789"
FIREFLIES_URL = "https://api.fireflies.ai/graphql"
NOTION_PAGES = "https://api.notion.com/v1/pages"
SLACK_URL = "https://hooks.slack.com/services/T000/B000/XXXXXXXX"
MEETING_ID = "01KAB3XQ7TZ9N4D2W8R6M5C1PV"
PAGE_ID = "59833787-2cf9-4fdf-8782-e53db20768a5"


def fixture_bytes(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def fixture_json(name: str) -> Any:
    return json.loads(fixture_bytes(name))


@pytest.fixture(autouse=True)
def _vendor_settings(settings):
    settings.FIREFLIES_API_KEY = "ff-test-key"
    settings.FIREFLIES_WEBHOOK_SECRET = FIREFLIES_SECRET
    settings.LEAD_WEBHOOK_SECRET = LEAD_SECRET
    settings.NOTION_TOKEN = "ntn_test_token"
    settings.NOTION_CALLS_DATABASE_ID = "d9824bdc-8445-4327-be8b-5b47500af6ce"
    settings.NOTION_MAX_RETRIES = 2
    settings.NOTION_MAX_RETRY_WAIT_SECONDS = 0.01  # Retry-After is honoured, capped tiny in tests
    settings.SLACK_WEBHOOK_URL = ""
    settings.OWNER_TIMEZONE = "America/New_York"
    settings.MEETING_ROUTING_RULE = "record_all"
    settings.MEETING_INTERNAL_DOMAINS = ["agency.example"]


class FirefliesFake:
    """Answers Fireflies GraphQL by operation, recording what was asked."""

    def __init__(self) -> None:
        self.transcripts: list[httpx.Response] = []  # answers to transcript(id:), in order (last repeats)
        self.lists: list[dict[str, Any]] = [fixture_json("fireflies_transcripts_list.json")]
        self.add_to_live: httpx.Response = httpx.Response(200, json=fixture_json("fireflies_add_to_live.json"))
        self.requests: list[dict[str, Any]] = []

    def ready(self, data: dict[str, Any] | None = None) -> None:
        self.transcripts.append(httpx.Response(200, json=data or fixture_json("fireflies_transcript.json")))

    def not_ready(self) -> None:
        self.transcripts.append(httpx.Response(200, json=fixture_json("fireflies_transcript_not_found.json")))

    def __call__(self, request: httpx.Request) -> httpx.Response:
        assert request.headers["Authorization"] == "Bearer ff-test-key"
        body = json.loads(request.content)
        self.requests.append(body)
        query = body["query"]
        if "addToLiveMeeting" in query:
            return self.add_to_live
        if "transcripts(" in query:
            answer = self.lists.pop(0) if len(self.lists) > 1 else self.lists[0]
            return httpx.Response(200, json=answer)
        if "transcript(" in query:
            if not self.transcripts:
                return httpx.Response(200, json=fixture_json("fireflies_transcript_not_found.json"))
            return self.transcripts.pop(0) if len(self.transcripts) > 1 else self.transcripts[0]
        raise AssertionError(f"unexpected query {query[:60]}")

    def count(self, operation: str) -> int:
        return sum(1 for r in self.requests if operation in r["query"])


@pytest.fixture
def vendors():
    """respx at the transport for Fireflies, Notion and Slack (anything else fails the test)."""
    with respx.mock(assert_all_called=False) as router:
        fake = FirefliesFake()
        router.post(FIREFLIES_URL).mock(side_effect=fake)
        router.fireflies = fake
        router.notion_create = router.post(NOTION_PAGES).mock(
            return_value=httpx.Response(200, json=fixture_json("notion_page_created.json"))
        )
        router.notion_update = router.patch(url__regex=rf"{NOTION_PAGES}/[0-9a-f-]+").mock(
            return_value=httpx.Response(200, json=fixture_json("notion_page_created.json"))
        )
        router.slack = router.post(SLACK_URL).mock(return_value=httpx.Response(200, text="ok"))
        yield router


def notion_body(route) -> dict[str, Any]:
    return json.loads(route.calls.last.request.content)


@pytest.fixture
def owner_user(django_user_model):
    return django_user_model.objects.create_superuser("owner", "owner@agency.example", "pw-for-tests-only")
