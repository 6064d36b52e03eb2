"""Slots come from a fixed number of queries however many bookings and holds the host has, and
match a slot-by-slot check against the same busy times."""

from __future__ import annotations

import math
from datetime import UTC, datetime, time, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from bookings.bench import _event_type
from bookings.models import Booking, DateOverride, EventType, Hold, WeeklyHours
from bookings.selectors import (
    busy_seconds,
    event_type_get_public,
    overlapping_bookings,
    overlapping_holds,
    rules_for,
    slots_for,
)
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


def test_busy_seconds_are_the_overlapping_bookings_and_holds_of_the_orm():
    """`busy_seconds` runs SQL of its own: it must return exactly what the querysets
    `overlapping_bookings` and `overlapping_holds` select, buffered start rounded down and end up."""
    event_type = _event_type("busy-sql", days_ahead=60)
    other = _event_type("busy-sql-other", days_ahead=60)
    lead = Lead.objects.create(name="Busy", email="busy@example.com", email_normalized="busy@example.com")
    base = NOW + timedelta(days=1)

    def booking(host_type, hours: float, *, status=Booking.Status.CONFIRMED, fraction: int = 0) -> Booking:  # type: ignore[no-untyped-def]
        start = base + timedelta(hours=hours, microseconds=fraction)
        return Booking.objects.create(
            host=host_type.host, event_type=host_type, lead=lead, start_at=start, end_at=start + timedelta(minutes=30),
            buffered_start=start - timedelta(minutes=5), buffered_end=start + timedelta(minutes=45, microseconds=fraction),
            timezone="UTC", name="Busy", email="busy@example.com", status=status,
        )  # fmt: skip

    kept = booking(event_type, 0)
    booking(event_type, 2, fraction=250_000)  # fractions of a second: start down, end up
    booking(event_type, 4, status=Booking.Status.RESCHEDULED, fraction=999_999)
    booking(event_type, 6, status=Booking.Status.CANCELLED)
    booking(event_type, 24 * 70)  # after the range
    booking(other, 0)  # another host
    for token, hours, expires in (("live", 8, 1), ("lapsed", 10, -1), ("others", 12, 1)):
        host_type = other if token == "others" else event_type
        start = base + timedelta(hours=hours, microseconds=500)
        Hold.objects.create(
            host=host_type.host, event_type=host_type, token=token, start_at=start, end_at=start + timedelta(minutes=30),
            buffered_start=start, buffered_end=start + timedelta(minutes=30, microseconds=1),
            expires_at=NOW + timedelta(hours=expires),
        )  # fmt: skip

    time_min, time_max = NOW - timedelta(days=1), NOW + timedelta(days=62)
    for exclude_pk in (None, kept.pk):
        for token in ("", "live"):
            got = busy_seconds(
                host=event_type.host, time_min=time_min, time_max=time_max, now=NOW,
                exclude_booking_pk=exclude_pk, exclude_hold_token=token, include_google=False,
            )  # fmt: skip
            rows = list(
                overlapping_bookings(
                    host=event_type.host, buffered_start=time_min, buffered_end=time_max, exclude_pk=exclude_pk
                ).values_list("buffered_start", "buffered_end")
            )
            rows += overlapping_holds(
                host=event_type.host, buffered_start=time_min, buffered_end=time_max, now=NOW, exclude_token=token
            ).values_list("buffered_start", "buffered_end")
            expected = [(math.floor(s.timestamp()), math.ceil(e.timestamp())) for s, e in rows]
            assert sorted(got) == sorted(expected)
            assert len(got) == 4 - (exclude_pk is not None) - bool(token)


def test_the_public_event_type_carries_the_rules_the_orm_reads():
    """`event_type_get_public` reads the event type, its host and its rules in one query of its
    own: the rules must be those `rules_for` reads through the ORM, and no other event type's."""
    event_type = _event_type("public-rules", days_ahead=60)
    other = _event_type("public-rules-other", days_ahead=60)
    bare = _event_type("public-rules-bare", days_ahead=60)
    WeeklyHours.objects.filter(event_type=bare).delete()
    day = NOW.date() + timedelta(days=3)
    DateOverride.objects.create(event_type=event_type, date=day, start_time=time(10), end_time=time(12))
    DateOverride.objects.create(event_type=event_type, date=day, start_time=time(14), end_time=time(15))
    DateOverride.objects.create(event_type=event_type, date=day + timedelta(days=1))  # a day off
    DateOverride.objects.create(event_type=other, date=day + timedelta(days=2))
    WeeklyHours.objects.filter(event_type=event_type, weekday=6).delete()

    with CaptureQueriesContext(connection) as ctx:
        public = event_type_get_public(slug=event_type.slug)
    assert len(ctx.captured_queries) == 1
    assert public is not None and public.pk == event_type.pk and public.host.email == event_type.host.email
    assert rules_for(public) == rules_for(EventType.objects.select_related("host").get(pk=event_type.pk))
    assert rules_for(public).overrides[day + timedelta(days=1)] == []
    assert 6 not in rules_for(public).weekly

    public_bare = event_type_get_public(slug=bare.slug)
    assert public_bare is not None and rules_for(public_bare).weekly == {} and rules_for(public_bare).overrides == {}
    EventType.objects.filter(pk=other.pk).update(is_active=False)
    assert event_type_get_public(slug=other.slug) is None
    assert event_type_get_public(slug="no-such-page") is None
