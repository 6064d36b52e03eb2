"""A call whose transcript never arrives is shown to the owner, not left "Waiting" for ever.

The backup poll only asks Fireflies for the last FIREFLIES_POLL_LOOKBACK_HOURS; once a pending
call is older than that, nothing fetches it again on its own.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from django.utils import timezone

from board.selectors import needs_you
from calls.models import Call
from calls.services.ingest import calls_backup_poll
from reports.digest import needs_you_items
from tests.calls.conftest import fixture_json
from tests.calls.factories import CallFactory

pytestmark = pytest.mark.django_db

LABEL = "Calls whose transcript never arrived"


def _pending(*, hours_ago: float, **fields) -> Call:
    call = CallFactory(status=Call.Status.PENDING, summary="", **fields)
    Call.objects.filter(pk=call.pk).update(created_at=timezone.now() - timedelta(hours=hours_ago))
    return call


def _count() -> int:
    return next(item.count for item in needs_you() if item.key == "calls_transcript_missing")


def test_a_pending_call_past_the_poll_window_needs_the_owner(settings):
    settings.FIREFLIES_POLL_LOOKBACK_HOURS = 24
    _pending(hours_ago=25, title="Kick-off with Acme", fetch_attempts=7, fetch_error="Fireflies: 500")
    _pending(hours_ago=2)  # the poll still looks for this one
    fetched = CallFactory()  # fetched long ago: fine
    Call.objects.filter(pk=fetched.pk).update(created_at=timezone.now() - timedelta(days=3))

    assert _count() == 1
    digest = {item.label: item for item in needs_you_items()}
    assert digest[LABEL].count == 1
    assert digest[LABEL].first == ["Kick-off with Acme (7 tries)"]
    assert digest[LABEL].url.endswith("/admin/calls/call/?transcript=missing")


def test_the_board_and_the_admin_list_show_them(admin_client, settings):
    settings.FIREFLIES_POLL_LOOKBACK_HOURS = 24
    stuck = _pending(hours_ago=30, title="Kick-off with Acme")
    recent = _pending(hours_ago=1, title="Intro with Globex")

    panel = admin_client.get("/board/needs-you/").content.decode()
    assert LABEL in panel
    assert "/admin/calls/call/?transcript=missing" in panel

    listing = admin_client.get("/admin/calls/call/?transcript=missing")
    assert listing.status_code == 200
    ids = [call.pk for call in listing.context["cl"].result_list]
    assert ids == [stuck.pk]
    assert recent.pk not in ids


def test_fetching_again_from_the_admin_clears_it(admin_client, settings, vendors):
    settings.FIREFLIES_POLL_LOOKBACK_HOURS = 24
    stuck = _pending(hours_ago=30, fireflies_id=fixture_json("fireflies_transcript.json")["data"]["transcript"]["id"])
    vendors.fireflies.not_ready()
    admin_client.post("/admin/calls/call/", {"action": "fetch_again", "_selected_action": [stuck.pk]})
    assert _count() == 1  # still not there: still shown

    vendors.fireflies.transcripts.clear()
    vendors.fireflies.ready()
    response = admin_client.post(
        "/admin/calls/call/", {"action": "fetch_again", "_selected_action": [stuck.pk]}, follow=True
    )
    assert b"Fetched 1 transcript" in response.content
    assert Call.objects.get(pk=stuck.pk).status == Call.Status.FETCHED
    assert _count() == 0


def test_the_cut_off_is_the_window_the_backup_poll_asks_fireflies_for(settings, vendors):
    """A call inside the poll's look-back is still the poll's job; past it, the owner's."""
    settings.FIREFLIES_POLL_LOOKBACK_HOURS = 6
    call = _pending(hours_ago=5)
    assert _count() == 0
    vendors.fireflies.lists = [{"data": {"transcripts": []}}]
    before = timezone.now()
    calls_backup_poll()
    asked = next(r for r in vendors.fireflies.requests if "transcripts(" in r["query"])
    since = datetime.fromisoformat(asked["variables"]["fromDate"])
    assert abs(since - (before - timedelta(hours=6))) < timedelta(minutes=1)
    Call.objects.filter(pk=call.pk).update(created_at=before - timedelta(hours=6, minutes=1))
    assert _count() == 1
