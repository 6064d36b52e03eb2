"""A vendor answering 500 and then 429 for a while: Fireflies' GraphQL API played by a real HTTP
server on 127.0.0.1 (the real httpx client, real sockets). The failure is recorded on the call
(admin list, not reported as success), a 429 stops the backup poll until its next run instead of
hammering, and once the vendor recovers the transcript is stored once; later polls change nothing.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from django.test import TestCase

from calls.clients.fireflies import FirefliesError
from calls.models import Call
from calls.services.ingest import calls_backup_poll
from clientsflow.models import WebhookEvent
from clientsflow.signatures import hmac_sha256_hex

pytestmark = [pytest.mark.services, pytest.mark.django_db]
FIXTURES = Path(__file__).resolve().parents[1] / "calls" / "fixtures"
MEETING = "01KAB3XQ7TZ9N4D2W8R6M5C1PV"


class Vendor:
    """Answers with the scripted statuses first, then like Fireflies does."""

    def __init__(self, script: list[int]) -> None:
        self.script = list(script)
        self.requests: list[tuple[str, int]] = []  # (query kind, status answered)
        self.lock = threading.Lock()
        vendor = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                query = json.loads(self.rfile.read(length) or b"{}").get("query", "")
                kind = "list" if "transcripts(" in query or "transcripts (" in query else "transcript"
                with vendor.lock:
                    status = vendor.script.pop(0) if vendor.script else 200
                    vendor.requests.append((kind, status))
                if status == 200:
                    name = "fireflies_transcripts_list.json" if kind == "list" else "fireflies_transcript.json"
                    body = (FIXTURES / name).read_bytes()
                elif status == 429:
                    body = json.dumps(
                        {"errors": [{"message": "Too many requests", "code": "too_many_requests"}]}
                    ).encode()
                else:
                    body = b"<html>upstream error</html>"
                self.send_response(status)
                self.send_header("Content-Type", "application/json" if status != 500 else "text/html")
                if status == 429:
                    self.send_header("Retry-After", "60")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/graphql"

    def __enter__(self) -> Vendor:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_vendor_500_then_429_is_recorded_backed_off_and_completed_once(client, settings):
    with Vendor([500, 500, 429, 429]) as vendor:
        settings.FIREFLIES_API_KEY = "ff-key"
        settings.FIREFLIES_API_URL = vendor.url
        settings.FIREFLIES_WEBHOOK_SECRET = "ff-secret"
        body = (FIXTURES / "fireflies_v2_meeting_transcribed.json").read_bytes()
        with TestCase.captureOnCommitCallbacks(execute=True):
            response = client.post(
                "/webhooks/fireflies/",
                data=body,
                content_type="application/json",
                headers={"X-Hub-Signature": "sha256=" + hmac_sha256_hex("ff-secret", body)},
            )
        assert response.status_code == 200
        assert WebhookEvent.objects.get().status == WebhookEvent.Status.PROCESSED  # stored and handled

        call = Call.objects.get(fireflies_id=MEETING)
        assert call.status == Call.Status.PENDING
        assert "HTTP 500" in call.fetch_error and call.fetch_attempts == 1  # recorded, visible in the admin

        # Three dispatcher runs of the backup poll while the vendor is down (500, then 429 twice):
        # each run asks once, fails (the job run is recorded as failed), and leaves the rest to
        # the next run: no tight retry loop against a vendor that said "slow down".
        for expected in (500, 429, 429):
            asked_before = len(vendor.requests)
            with pytest.raises(FirefliesError):
                calls_backup_poll()
            assert vendor.requests[asked_before:] == [("list", expected)]
        call.refresh_from_db()
        assert call.status == Call.Status.PENDING

        done = calls_backup_poll()  # the vendor is back
        call.refresh_from_db()
        assert call.status == Call.Status.FETCHED, done
        fetched_requests = len(vendor.requests)

        for _ in range(3):  # later polls see it fetched and do not fetch or store it again
            calls_backup_poll()
        assert Call.objects.filter(fireflies_id=MEETING).count() == 1
        transcript_fetches_after = [kind for kind, _ in vendor.requests[fetched_requests:] if kind == "transcript"]
        assert transcript_fetches_after == []
        assert sorted(status for _kind, status in vendor.requests[:4]) == [429, 429, 500, 500]


class SlackSink:
    """Slack's incoming webhook played on 127.0.0.1: keeps each posted text."""

    def __init__(self) -> None:
        self.texts: list[str] = []
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                sink.texts.append(json.loads(self.rfile.read(length))["text"])
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/services/T0/B0/sink"

    def __enter__(self) -> SlackSink:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_vendor_failing_for_a_while_raises_one_owner_alert_and_recovery_clears_it(settings):
    from board.selectors import needs_you as needs_you_items
    from clientsflow.models import AuditEvent, IntegrationStatus

    def needs_you() -> int:
        return next(c.count for c in needs_you_items() if c.key == "integration_fireflies")

    with Vendor([500, 500, 429, 429, 500]) as vendor, SlackSink() as slack:
        settings.FIREFLIES_API_KEY = "ff-key"
        settings.FIREFLIES_API_URL = vendor.url
        settings.SLACK_WEBHOOK_URL = slack.url
        settings.INTEGRATION_ALERT_AFTER_FAILURES = 3

        for run, status in enumerate([500, 500, 429, 429, 500], start=1):  # five dispatcher runs, all refused
            with pytest.raises(FirefliesError):
                calls_backup_poll()
            assert vendor.requests[-1] == ("list", status)
            assert needs_you() == (1 if run >= 3 else 0)
        row = IntegrationStatus.objects.get(vendor="fireflies")
        assert row.consecutive_failures == 5 and row.alerted_at is not None
        # One alert for the whole outage: one Slack post, one audit event, nothing stored meanwhile.
        assert len(slack.texts) == 1, slack.texts
        assert "Integration failing: Fireflies" in slack.texts[0] and "3 times in a row" in slack.texts[0]
        assert AuditEvent.objects.filter(verb="integration.failing").count() == 1
        assert not Call.objects.exists()

        done = calls_backup_poll()  # the vendor is back
        assert done["completed"] == 1, done
        assert Call.objects.get(fireflies_id=MEETING).status == Call.Status.FETCHED
        assert needs_you() == 0
        row.refresh_from_db()
        assert row.failing_since is None and row.alerted_at is None and row.last_ok_at is not None
        assert len(slack.texts) == 2 and "Fireflies is working again" in slack.texts[1]
        calls_backup_poll()  # still fine: no new post, no second call row
        assert len(slack.texts) == 2 and Call.objects.count() == 1
