"""A booking POST and the public page cost the same number of queries however many bookings and
holds the host already has (the invite and the owner's notice included, as the embedded default
runs them in the request)."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from bookings.models import Booking, Hold
from bookings.selectors import slots_for
from clientsflow.models import Notification, SiteSettings
from clientsflow.site import site_settings_update
from leads.models import Lead

# Real commits, so the after-commit invite and notice run (and are counted) as in the embedded default.
pytestmark = pytest.mark.django_db(transaction=True)

LONDON = "Europe/London"


def _post(client: Client, event_type, start, n: int):  # type: ignore[no-untyped-def]
    with CaptureQueriesContext(connection) as ctx:
        response = client.post(
            f"/book/{event_type.slug}/",
            {
                "start": start.astimezone(ZoneInfo(LONDON)).isoformat(),
                "timezone": LONDON,
                "name": f"Visitor {n}",
                "email": f"visitor{n}@example.com",
            },
        )
    assert response.status_code == 302, response.content[:500]
    return len(ctx.captured_queries)


def _page(client: Client, event_type) -> tuple[int, str]:  # type: ignore[no-untyped-def]
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(f"/book/{event_type.slug}/?tz={LONDON}")
    assert response.status_code == 200
    return len(ctx.captured_queries), response.content.decode()


def _fill(event_type, starts) -> None:  # type: ignore[no-untyped-def]
    lead = Lead.objects.create(name="Busy", email="busy@example.com", email_normalized="busy@example.com")
    Booking.objects.bulk_create(
        Booking(
            host=event_type.host, event_type=event_type, lead=lead, start_at=start,
            end_at=start + event_type.duration, buffered_start=start,
            buffered_end=start + event_type.duration + timedelta(minutes=event_type.buffer_after_minutes),
            timezone="UTC", name="Busy", email="busy@example.com",
        )
        for start in starts
    )  # fmt: skip


def test_queries_per_booking_post_and_page_do_not_grow_with_bookings(event_type, settings):
    settings.BOOKING_RATE_LIMIT = "1000/m"
    event_type.days_ahead = 60
    event_type.save()
    free = slots_for(event_type=event_type)
    client = Client()
    _post(client, event_type, free[0].start, 0)  # first use: the site settings row, the session
    _page(client, event_type)
    first_post = _post(client, event_type, free[1].start, 1)
    first_page, _ = _page(client, event_type)

    # Hundreds of bookings and a live hold later (none on the times booked below).
    filled = [slot.start for slot in free[10::3]][:300]
    _fill(event_type, filled)
    Hold.objects.create(
        host=event_type.host, event_type=event_type, token="held", start_at=free[5].start, end_at=free[5].end,
        buffered_start=free[5].start, buffered_end=free[5].end, expires_at=timezone.now() + timedelta(minutes=5),
    )  # fmt: skip
    later_post = _post(client, event_type, free[3].start, 2)
    later_page, html = _page(client, event_type)

    assert later_post == first_post
    assert later_page == first_page
    assert len(filled) > 100
    assert Booking.objects.count() == 3 + len(filled)
    # Each POST sent its invite (the ICS email) in the request, after its commit.
    assert Booking.objects.filter(invite_status=Booking.InviteStatus.FALLBACK_SENT).count() == 3
    # The page really left the busy and held times out.
    assert free[5].start.astimezone(ZoneInfo(LONDON)).isoformat() not in html


def _statements(client: Client, event_type, start, n: int) -> list[str]:  # type: ignore[no-untyped-def]
    with CaptureQueriesContext(connection) as ctx:
        response = client.post(
            f"/book/{event_type.slug}/",
            {"start": start.astimezone(ZoneInfo(LONDON)).isoformat(), "timezone": LONDON, "name": f"V {n}",
             "email": f"v{n}@example.com"},
        )  # fmt: skip
    assert response.status_code == 302, response.content[:500]
    return [query["sql"] for query in ctx.captured_queries]


# A new visitor's booking POST, invite and owner's notice included (the embedded default runs
# them in the request). Before commit: the event type with its host and hours (1), BEGIN, the
# overlap check for bookings and holds (1), the host's row lock (PostgreSQL only), the lead:
# dedup look-up and lead (2; on PostgreSQL in a savepoint, 2 more), the booking (1), the stage
# move: change and lead (2), the timeline events (the lead's arrival, the booking) in one INSERT
# and the audit rows (the lead's creation, its move, the booking) in another (2; on PostgreSQL
# the two in one round trip, 1), the owner's notice (1: the booking is new, so no savepoint),
# COMMIT. After: the suppression check, the outcome's BEGIN, update, the email's and the
# outcome's audit rows (one INSERT), COMMIT (5), the board's card cache reading where the lead's
# card is now after the outcome's commit (1: `board_cards_changed`), the notice's claim, outcome
# and audit (3). The booking itself reads no column after its commit: it holds the lead's row
# lock, so the card's column is the one in hand (`board_card_changed_held`).
BOOKING_POST_QUERIES = {"sqlite": 21, "postgresql": 23}
BOARD_CARD_LOOKUP = 'SELECT "stage" FROM "leads_lead"'


def test_a_booking_post_costs_a_fixed_small_number_of_queries(event_type, settings):
    settings.BOOKING_RATE_LIMIT = "1000/m"
    site_settings_update(notify_via=SiteSettings.NotifyVia.EMAIL)  # the owner is told of each booking
    free = slots_for(event_type=event_type)
    client = Client()
    _post(client, event_type, free[0].start, 0)  # first use: the site settings row
    statements = _statements(client, event_type, free[2].start, 1)
    assert len(statements) == BOOKING_POST_QUERIES[connection.vendor], "\n".join(statements)
    # Before the commit, one statement writes every timeline event and one every audit row.
    before_commit = statements[: next(i for i, sql in enumerate(statements) if sql.startswith("COMMIT"))]
    assert sum('INSERT INTO "leads_leadevent"' in sql for sql in before_commit) == 1
    assert sum('INSERT INTO "clientsflow_auditevent"' in sql for sql in before_commit) == 1
    # Nothing is read back that the request already holds: the lead and the event type once each,
    # no booking or notification re-read after the commit, and the lead's stage not re-read.
    selects = [sql for sql in statements if sql.lstrip().upper().startswith("SELECT")]
    assert sum(sql.startswith(BOARD_CARD_LOOKUP) for sql in selects) == 1
    selects = [sql for sql in selects if not sql.startswith(BOARD_CARD_LOOKUP)]
    assert sum('"leads_lead"' in sql for sql in selects) == 1
    assert not [sql for sql in selects if 'FROM "bookings_booking"' in sql and "EXISTS" not in sql]
    assert not [sql for sql in selects if 'FROM "clientsflow_notification"' in sql]
    assert Booking.objects.filter(invite_status=Booking.InviteStatus.FALLBACK_SENT).count() == 2
    assert Notification.objects.filter(status=Notification.Status.SENT).count() == 2
