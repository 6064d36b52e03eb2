"""`request_header` answers as `request.headers.get` does, from the one META key."""

from __future__ import annotations

from django.test import RequestFactory

from clientsflow.webhooks import KEPT_HEADERS, kept_headers, request_header


def test_request_header_answers_as_request_headers_does():
    request = RequestFactory().post(
        "/webhooks/leads/website/",
        data=b"{}",
        content_type="application/json",
        headers={"X-Signature": "sha256=ab", "X-Event-Id": "evt-1", "User-Agent": "Sender/1.0", "Cookie": "s=1"},
    )
    for name in ("X-Signature", "x-signature", "X-Event-Id", "Content-Type", "Content-Length", "User-Agent", "X-Nope"):
        assert request_header(request, name) == request.headers.get(name), name

    kept = kept_headers(request, ("X-Signature",))
    expected = {name: request.headers[name] for name in (*KEPT_HEADERS, "X-Signature") if name in request.headers}
    assert kept == expected
    assert kept["X-Event-Id"] == "evt-1" and kept["Content-Type"] == "application/json"
    assert "Cookie" not in kept
