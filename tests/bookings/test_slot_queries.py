"""Slots come from a fixed number of queries however many bookings and holds the host has, and
match a slot-by-slot check against the same busy times."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from bookings.bench import _event_type
from bookings.models import Booking, Hold
from bookings.selectors import event_type_get_public, slots_for
from leads.models import Lead

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def _book(event_type, starts):  # type: ignore[no-untyped-def]
    lead, _ = Lead.objects.get_or_create(
        email_normalized="busy@example.com", defaults={"name": "Busy", "email": "busy@example.com"}
    )
    Booking.objects.bulk_create(
        Booking(
            host=event_type.host, event_type=event_type, lead=lead, start_at=start, end_at=start + timedelta(minutes=30),
            buffered_start=start, buffered_end=start + timedelta(minutes=45), timezone="UTC", name="Busy",
            email="busy@example.com",
        )
        for start in starts
    )  # fmt: skip


def _queries(event_type) -> tuple[int, list]:  # type: ignore[no-untyped-def]
    fresh = event_type_get_public(slug=event_type.slug)
    with CaptureQueriesContext(connection) as ctx:
        slots = slots_for(event_type=fresh, now=NOW)
    return len(ctx.captured_queries), slots


def test_slot_queries_do_not_grow_with_bookings():
    event_type = _event_type("constant-queries", days_ahead=60)
    empty_count, all_slots = _queries(event_type)
    _book(event_type, [s.start for s in all_slots[::300]][:10])
    few_count, _ = _queries(event_type)
    _book(event_type, [s.start for s in all_slots[3::6]][:500])  # 45 minutes from the first ones: no overlap
    Hold.objects.create(
        host=event_type.host, event_type=event_type, token="t1", start_at=all_slots[1].start,
        end_at=all_slots[1].end, buffered_start=all_slots[1].start, buffered_end=all_slots[1].end,
        expires_at=NOW + timedelta(hours=1),
    )  # fmt: skip
    many_count, slots = _queries(event_type)
    assert empty_count == few_count == many_count <= 2
    assert Booking.objects.count() == 510

    busy = list(Booking.objects.values_list("buffered_start", "buffered_end"))
    busy += list(Hold.objects.values_list("buffered_start", "buffered_end"))
    expected = [
        s for s in all_slots
        if not any(start < s.end + timedelta(minutes=15) and end > s.start for start, end in busy)
    ]  # fmt: skip
    assert [s.start for s in slots] == [s.start for s in expected]
    assert 0 < len(slots) < len(all_slots) - 500
