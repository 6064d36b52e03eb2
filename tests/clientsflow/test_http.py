"""The shared view helpers: JSON for the board's script, and `next` that never leaves the site."""

from __future__ import annotations

import pytest
from django.test import RequestFactory

from clientsflow.http import safe_next, wants_json


@pytest.fixture
def rf() -> RequestFactory:
    return RequestFactory()


def test_json_is_wanted_only_when_the_accept_header_asks(rf):
    assert wants_json(rf.post("/", HTTP_ACCEPT="application/json"))
    assert wants_json(rf.post("/", HTTP_ACCEPT="text/html, application/json;q=0.9"))
    assert not wants_json(rf.post("/", HTTP_ACCEPT="text/html"))
    assert not wants_json(rf.post("/"))


@pytest.mark.parametrize(
    ("candidate", "expected"),
    [
        ("/board/?stage=new", "/board/?stage=new"),
        ("http://testserver/board/", "http://testserver/board/"),
        ("https://evil.example/board/", "/fallback/"),
        ("//evil.example/board/", "/fallback/"),
        ("javascript:alert(1)", "/fallback/"),
        ("", "/fallback/"),
    ],
)
def test_next_stays_on_this_site(rf, candidate, expected):
    assert safe_next(rf.get("/"), candidate, default="/fallback/") == expected


def test_a_plain_http_next_is_refused_on_a_secure_request(rf):
    request = rf.get("/", secure=True)
    assert safe_next(request, "http://testserver/board/", default="") == ""
    assert safe_next(request, "https://testserver/board/", default="") == "https://testserver/board/"
