"""The CI-sized soak: the same code as `make soak` (tools/soak/), 15 s of load
(longer on a loaded machine, until 300 requests were answered), invariants asserted.

It starts gunicorn (2 workers), a Celery worker and Beat on 127.0.0.1 against a private database
(`soak_<pid>` on the test PostgreSQL server, dropped afterwards) and a private Redis db (never 0).
The one Beat's dispatcher sends the seeded approved emails to a loopback SMTP sink during the load.
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

import pytest
from django.conf import settings
from django.db import connection

from tools import soak


def server_url() -> str:
    db = connection.settings_dict
    auth = db["USER"] or "postgres"
    if db["PASSWORD"]:
        auth += f":{db['PASSWORD']}"
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/postgres"


def private_redis() -> str:
    parts = urlsplit(settings.REDIS_URL)
    if parts.path.strip("/") in ("", "0"):
        parts = parts._replace(path="/11")
    return urlunsplit(parts)


@pytest.mark.services
def test_ci_soak_keeps_the_books(django_db_setup, django_db_blocker):
    # The soak's database is a copy of this worker's test database (migrated, and as empty as
    # every test leaves it) instead of a second run of every migration: ~20 s less.
    with django_db_blocker.unblock():
        template = connection.creation._get_test_db_name()  # this worker's (settings name the other)
        connection.close()  # PostgreSQL copies a database only while nobody is connected to it
    result = soak.soak(
        seconds=15,
        min_requests=300,
        max_requests=20000,
        database_url=server_url(),
        redis_url=private_redis(),
        template_database=template,
    )
    failed = [name for name, ok in result["invariants"].items() if not ok]
    assert failed == [], result
    assert result["requests"] > 200, result
    assert result["accepted"]["leads:website"] > 50
    assert result["replays_answered_duplicate"].get("leads:website", 0) > 0
    assert result["bad_signatures_sent"] > 0
    assert (
        result["endpoints"]["POST /webhooks/leads/<source>/"]["status"].get("401", 0) == result["bad_signatures_sent"]
    )
    assert 0 < result["bookings"]["succeeded"] <= result["bookings"]["race_slots"]
    assert result["payments_paid"] == soak.PROPOSALS  # every seeded proposal paid exactly once
    # The dispatcher sent every approved email exactly once to the loopback SMTP sink, nothing else.
    mail = result["outbound"]
    assert mail["approved"] == soak.OUTBOUND_APPROVED
    assert mail["received_once"] == soak.OUTBOUND_APPROVED, mail
    assert mail["approved_marked_sent"] == soak.OUTBOUND_APPROVED, mail
    assert mail["received_twice_or_more"] == 0 and mail["approved_not_received"] == 0, mail
    assert mail["unapproved_received"] == 0, mail
    assert mail["unapproved_status_kept"] == soak.OUTBOUND_DRAFTS + soak.OUTBOUND_REJECTED, mail
    assert result["messages_sent"] == soak.OUTBOUND_APPROVED
