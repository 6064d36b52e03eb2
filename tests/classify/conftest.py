from __future__ import annotations

import json
from pathlib import Path

import httpx2
import pytest

FIXTURES = Path(__file__).parent / "fixtures"
MESSAGES_URL = "https://api.anthropic.com/v1/messages"


def fixture_json(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())


def tool_use_answer(**tool_input) -> dict:
    """The real Messages API shape, with the tool input replaced."""
    body = fixture_json("anthropic_tool_use.json")
    body["content"][0]["input"] = {**body["content"][0]["input"], **tool_input}
    return body


@pytest.fixture
def anthropic_on(settings):
    settings.ANTHROPIC_API_KEY = "sk-ant-api03-test-key"
    settings.ANTHROPIC_MAX_RETRIES = 1  # the SDK retries once; retry-after-ms keeps it fast
    return settings


@pytest.fixture
def anthropic_off(settings):
    settings.ANTHROPIC_API_KEY = ""
    return settings


class AnthropicTransport:
    """Answers the SDK's HTTP requests at the transport (anthropic 2.x uses httpx2, which respx
    cannot intercept), recording each request so tests can check what was sent and how often."""

    def __init__(self) -> None:
        self.responses: list[httpx2.Response] = []
        self.requests: list[httpx2.Request] = []

    def queue(self, status: int, body: dict, headers: dict | None = None) -> None:
        self.responses.append(httpx2.Response(status, json=body, headers=headers or {}))

    def handler(self, request: httpx2.Request) -> httpx2.Response:
        assert request.url == MESSAGES_URL
        self.requests.append(request)
        if not self.responses:
            raise AssertionError("The test queued no answer for this request.")
        return self.responses.pop(0)

    def client(self, **kwargs):
        from classify.clients.anthropic import make_client

        return make_client(http_client=httpx2.Client(transport=httpx2.MockTransport(self.handler)), **kwargs)

    def sent_json(self, index: int = 0) -> dict:
        return json.loads(self.requests[index].content)


@pytest.fixture
def anthropic_transport(anthropic_on) -> AnthropicTransport:
    return AnthropicTransport()


@pytest.fixture
def anthropic_http(anthropic_on, monkeypatch):
    """For code that builds its own SDK client (management commands): answer at httpx2's
    transport, the layer respx patches for httpx. `answer(system, reply_text) -> (status, body)`."""

    calls: list[dict] = []

    def install(answer):
        def handle_request(self, request: httpx2.Request) -> httpx2.Response:
            assert request.url == MESSAGES_URL
            sent = json.loads(request.content)
            calls.append(sent)
            text = sent["messages"][0]["content"].removeprefix("<reply>\n").removesuffix("\n</reply>")
            status, body = answer(sent["system"][0]["text"], text)
            return httpx2.Response(status, json=body, request=request)

        monkeypatch.setattr(httpx2.HTTPTransport, "handle_request", handle_request)
        return calls

    return install
