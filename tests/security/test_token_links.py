"""Link tokens (proposal, booking management, unsubscribe) never reach a log line, and the pages
they open are never stored by a browser or a shared cache."""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Iterator

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from clientsflow.logging import RedactSecretsFilter, redact_path_tokens

pytestmark = pytest.mark.django_db

TOKEN = "Tk9_secretLinkToken-0123456789abcdef"
TOKEN_PATHS = [
    f"/p/{TOKEN}/",
    f"/p/{TOKEN}/signed/",
    f"/book/manage/{TOKEN}/",
    f"/u/{TOKEN}/",
]


@pytest.fixture
def log_output() -> Iterator[io.StringIO]:
    """What the configured root handler (the one production writes through) prints."""
    stream = io.StringIO()
    (handler,) = [h for h in logging.getLogger().handlers if any(isinstance(f, RedactSecretsFilter) for f in h.filters)]
    previous = handler.setStream(stream)
    try:
        yield stream
    finally:
        handler.setStream(previous)


def _token_routes() -> list[str]:
    """Every URL in the map that carries a link token, with a sample token in it."""
    found: list[str] = []

    def walk(patterns, prefix: str) -> None:
        for entry in patterns:
            if isinstance(entry, URLResolver):
                walk(entry.url_patterns, prefix + str(entry.pattern))
            elif isinstance(entry, URLPattern) and "token>" in str(entry.pattern):
                route = prefix + str(entry.pattern)
                found.append("/" + re.sub(r"<(?:\w+:)?token>", TOKEN, route))

    walk(get_resolver().url_patterns, "")
    return found


def test_every_token_route_in_the_url_map_is_redacted():
    routes = _token_routes()
    assert len(routes) >= 8, routes  # proposal (6 routes), booking management, unsubscribe
    for path in routes:
        redacted = redact_path_tokens(f"GET {path}?x=1 HTTP/1.1")
        assert TOKEN not in redacted, path
        assert "[redacted]" in redacted


@pytest.mark.parametrize("path", TOKEN_PATHS)
def test_a_4xx_on_a_token_url_logs_the_path_without_the_token(path, log_output):
    response = Client().get(path)

    assert 400 <= response.status_code < 500
    output = log_output.getvalue()
    assert output, "nothing was logged for a 4xx"
    assert TOKEN not in output
    assert "[redacted]" in output


def test_the_development_server_access_line_is_redacted_too(log_output):
    # What django.core.servers.basehttp.WSGIRequestHandler.log_message logs for each request.
    logging.getLogger("django.server").warning(
        '"%s" %s %s', f"GET /book/manage/{TOKEN}/ HTTP/1.1", "404", "1234", extra={"status_code": 404}
    )

    output = log_output.getvalue()
    assert "/book/manage/[redacted]/" in output
    assert TOKEN not in output


def test_a_token_in_any_field_of_any_record_is_redacted(log_output):
    logging.getLogger("clientsflow.test").info(
        "visited %s", f"https://crm.example/u/{TOKEN}/", extra={"url": f"/p/{TOKEN}/pay/"}
    )

    output = log_output.getvalue()
    assert TOKEN not in output
    assert output.count("[redacted]") == 2


def test_paths_without_a_token_are_left_alone():
    line = "GET /board/lead/1/ /book/intro-call/ /p/ /webhooks/leads/website/"
    assert redact_path_tokens(line) == line


@pytest.mark.parametrize("path", TOKEN_PATHS)
def test_token_pages_are_never_stored(path):
    response = Client().get(path)

    assert "no-store" in response["Cache-Control"]
