"""Slot generation across DST changes and far-apart zones (pure functions, no database)."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from bookings.availability import Rules, available_slots, candidate_slots, group_by_local_day, slot_is_offered

WEEKDAYS_9_TO_17 = {day: [(time(9), time(17))] for day in range(5)}


def rules(zone: str, **overrides) -> Rules:
    values = {
        "host_timezone": zone,
        "duration": timedelta(minutes=30),
        "interval": timedelta(minutes=30),
        "days_ahead": 60,
        "weekly": WEEKDAYS_9_TO_17,
    }
    values.update(overrides)
    return Rules(**values)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def starts_on(slots, day: date, zone: str) -> list[str]:
    tz = ZoneInfo(zone)
    return [s.start.astimezone(tz).strftime("%H:%M") for s in slots if s.start.astimezone(tz).date() == day]


def first_utc_on(slots, day: date, zone: str) -> datetime:
    tz = ZoneInfo(zone)
    return next(s.start for s in slots if s.start.astimezone(tz).date() == day)


def test_weekday_hours_give_sixteen_half_hour_slots_and_none_at_weekends():
    slots = available_slots(rules("America/New_York"), now=utc(2026, 12, 1, 0, 0), days=7)
    assert starts_on(slots, date(2026, 12, 1), "America/New_York")[:3] == ["09:00", "09:30", "10:00"]
    assert len(starts_on(slots, date(2026, 12, 1), "America/New_York")) == 16
    assert starts_on(slots, date(2026, 12, 5), "America/New_York") == []  # Saturday


def test_new_york_march_change_keeps_wall_clock_hours_and_moves_utc():
    slots = available_slots(rules("America/New_York"), now=utc(2026, 3, 5, 0, 0), days=6)
    # Friday before the change (EST, UTC-5) and Monday after (EDT, UTC-4).
    assert first_utc_on(slots, date(2026, 3, 6), "America/New_York") == utc(2026, 3, 6, 14, 0)
    assert first_utc_on(slots, date(2026, 3, 9), "America/New_York") == utc(2026, 3, 9, 13, 0)
    assert len(starts_on(slots, date(2026, 3, 9), "America/New_York")) == 16


def test_new_york_march_gap_skips_the_hour_that_does_not_exist():
    night = rules("America/New_York", weekly={6: [(time(0), time(4))]})  # Sundays 00:00-04:00
    slots = available_slots(night, now=utc(2026, 3, 7, 0, 0), days=3)
    # 02:00 and 02:30 do not exist on 8 March 2026; 01:30 ends at 03:00 EDT.
    assert starts_on(slots, date(2026, 3, 8), "America/New_York") == [
        "00:00",
        "00:30",
        "01:00",
        "01:30",
        "03:00",
        "03:30",
    ]
    assert len({s.start for s in slots}) == len(slots)


def test_new_york_november_fold_offers_the_repeated_hour_once():
    night = rules("America/New_York", weekly={6: [(time(0), time(3))]})
    slots = available_slots(night, now=utc(2026, 10, 31, 0, 0), days=3)
    day_slots = [s for s in slots if s.start.astimezone(ZoneInfo("America/New_York")).date() == date(2026, 11, 1)]
    assert [s.start for s in day_slots] == [
        utc(2026, 11, 1, 4, 0),  # 00:00 EDT
        utc(2026, 11, 1, 4, 30),
        utc(2026, 11, 1, 5, 0),  # 01:00 EDT (the first 01:00)
        utc(2026, 11, 1, 5, 30),
        utc(2026, 11, 1, 7, 0),  # 02:00 EST
        utc(2026, 11, 1, 7, 30),
    ]
    # Weekday hours after the change start at 14:00 UTC (EST).
    week = available_slots(rules("America/New_York"), now=utc(2026, 10, 29, 0, 0), days=6)
    assert first_utc_on(week, date(2026, 10, 30), "America/New_York") == utc(2026, 10, 30, 13, 0)
    assert first_utc_on(week, date(2026, 11, 2), "America/New_York") == utc(2026, 11, 2, 14, 0)


def test_london_march_change_and_gap():
    week = available_slots(rules("Europe/London"), now=utc(2026, 3, 26, 0, 0), days=6)
    assert first_utc_on(week, date(2026, 3, 27), "Europe/London") == utc(2026, 3, 27, 9, 0)  # GMT
    assert first_utc_on(week, date(2026, 3, 30), "Europe/London") == utc(2026, 3, 30, 8, 0)  # BST
    night = rules("Europe/London", weekly={6: [(time(0), time(3))]})
    slots = available_slots(night, now=utc(2026, 3, 28, 0, 0), days=2)
    assert starts_on(slots, date(2026, 3, 29), "Europe/London") == ["00:00", "00:30", "02:00", "02:30"]


def test_london_autumn_change_and_fold():
    # The UK changes on the last Sunday of October (25 Oct 2026), a week before New York.
    week = available_slots(rules("Europe/London"), now=utc(2026, 10, 22, 0, 0), days=6)
    assert first_utc_on(week, date(2026, 10, 23), "Europe/London") == utc(2026, 10, 23, 8, 0)  # BST
    assert first_utc_on(week, date(2026, 10, 26), "Europe/London") == utc(2026, 10, 26, 9, 0)  # GMT
    night = rules("Europe/London", weekly={6: [(time(0, 30), time(2, 0))]})
    slots = available_slots(night, now=utc(2026, 10, 24, 0, 0), days=2)
    assert [s.start for s in slots] == [utc(2026, 10, 24, 23, 30), utc(2026, 10, 25, 0, 0), utc(2026, 10, 25, 0, 30)]


def test_auckland_host_seen_from_los_angeles_lands_on_the_previous_day():
    auckland = rules("Pacific/Auckland")
    slots = available_slots(auckland, now=utc(2026, 12, 1, 0, 0), days=10)
    groups = dict(group_by_local_day(slots, "America/Los_Angeles"))
    # Monday 7 Dec 09:00 NZDT (UTC+13) is Sunday 6 Dec 12:00 PST (UTC-8).
    sunday = groups[date(2026, 12, 6)]
    assert sunday[0][1].strftime("%H:%M") == "12:00"
    assert sunday[0][0].start == utc(2026, 12, 6, 20, 0)
    assert date(2026, 12, 4) not in groups  # Friday in LA is Saturday in Auckland: no hours
    assert len(sunday) == 16


def test_auckland_host_from_los_angeles_across_the_november_change():
    # LA leaves daylight time on 1 Nov 2026; Auckland is in daylight time throughout.
    slots = available_slots(rules("Pacific/Auckland"), now=utc(2026, 10, 28, 0, 0), days=8)
    groups = dict(group_by_local_day(slots, "America/Los_Angeles"))
    assert groups[date(2026, 10, 29)][0][1].strftime("%H:%M %Z") == "13:00 PDT"  # Fri 30 Oct Auckland
    assert groups[date(2026, 11, 1)][0][1].strftime("%H:%M %Z") == "12:00 PST"  # Mon 2 Nov Auckland


def test_busy_times_buffers_and_min_notice():
    r = rules(
        "America/New_York",
        buffer_before=timedelta(minutes=15),
        buffer_after=timedelta(minutes=15),
        min_notice=timedelta(hours=2),
    )
    now = utc(2026, 12, 1, 14, 0)  # 09:00 in New York
    busy = [(utc(2026, 12, 1, 16, 45), utc(2026, 12, 1, 17, 45))]  # an existing booking 12:00-12:30 buffered
    slots = available_slots(r, now=now, busy=busy, days=1)
    ny = starts_on(slots, date(2026, 12, 1), "America/New_York")
    assert ny[0] == "11:00"  # two hours' notice
    assert "11:30" not in ny and "12:00" not in ny and "12:30" not in ny
    assert "11:00" in ny and "13:00" in ny


def test_date_override_day_off_and_special_hours_and_days_ahead():
    r = rules(
        "America/New_York",
        days_ahead=3,
        overrides={date(2026, 12, 2): [], date(2026, 12, 3): [(time(13), time(14))]},
    )
    slots = available_slots(r, now=utc(2026, 12, 1, 0, 0))
    assert starts_on(slots, date(2026, 12, 2), "America/New_York") == []
    assert starts_on(slots, date(2026, 12, 3), "America/New_York") == ["13:00", "13:30"]
    assert starts_on(slots, date(2026, 12, 7), "America/New_York") == []  # beyond days_ahead
    assert slot_is_offered(r, start=utc(2026, 12, 3, 18, 0), now=utc(2026, 12, 1, 0, 0))
    assert not slot_is_offered(r, start=utc(2026, 12, 3, 18, 15), now=utc(2026, 12, 1, 0, 0))


def _slot_by_slot(r: Rules, *, now: datetime, busy: list[tuple[datetime, datetime]]) -> list[datetime]:
    """The definition, checked one candidate at a time: inside the hours, after the notice, and its
    buffered range clear of every busy interval."""
    zone = ZoneInfo(r.host_timezone)
    today = now.astimezone(zone).date()
    starts: set[datetime] = set()
    for offset in range(r.days_ahead + 1):
        for slot in candidate_slots(r, today + timedelta(days=offset)):
            low, high = slot.buffered(r)
            if slot.start >= now + r.min_notice and not any(s < high and e > low for s, e in busy):
                starts.add(slot.start)
    return sorted(starts)


# Nights when the clocks change in 2026 (zone, local date).
CLOCK_CHANGES = [
    ("America/New_York", date(2026, 3, 8)),
    ("America/New_York", date(2026, 11, 1)),
    ("Europe/London", date(2026, 3, 29)),
    ("Europe/London", date(2026, 10, 25)),
    ("Pacific/Auckland", date(2026, 4, 5)),
    ("Pacific/Auckland", date(2026, 9, 27)),
    ("Australia/Lord_Howe", date(2026, 4, 5)),
    ("Australia/Lord_Howe", date(2026, 10, 4)),
]


def test_interval_arithmetic_matches_the_slot_by_slot_definition():
    """Random hours (split and overlapping windows, overrides), buffers, steps and notice, in zones
    with half-hour offsets and around clock changes (every third case spans one, with night hours
    that cross it), and busy times on and off the grid."""
    rng = random.Random(20261201)
    zones = ["America/New_York", "Europe/London", "Pacific/Auckland", "Asia/Kolkata", "Australia/Lord_Howe"]
    for case in range(180):
        step = rng.choice([5, 10, 15, 20, 30, 45, 60])
        weekly: dict[int, list[tuple[time, time]]] = {}
        for day in range(7):
            for _ in range(rng.choice([0, 1, 1, 2])):
                begin = rng.randrange(0, 22 * 60, 15)
                end = min(begin + rng.randrange(30, 10 * 60, 15), 24 * 60 - 1)
                weekly.setdefault(day, []).append((time(begin // 60, begin % 60), time(end // 60, end % 60)))
        if case % 3 == 0:
            zone, change = rng.choice(CLOCK_CHANGES)
            for day in range(7):
                weekly.setdefault(day, []).append((time(0, rng.choice([0, 30])), time(rng.choice([3, 4]))))
            now = datetime.combine(change - timedelta(days=1), time(rng.randrange(24), rng.randrange(0, 60, 5)), UTC)
            days_ahead = 3
        else:
            zone = rng.choice(zones)
            now = utc(2026, rng.choice([3, 10, 11]), rng.randrange(1, 28), rng.randrange(24), rng.randrange(60))
            days_ahead = rng.choice([3, 10, 20])
        r = Rules(
            host_timezone=zone,
            duration=timedelta(minutes=rng.choice([15, 30, 45, 60, 90])),
            interval=timedelta(minutes=step),
            buffer_before=timedelta(minutes=rng.choice([0, 0, 5, 15])),
            buffer_after=timedelta(minutes=rng.choice([0, 10, 15, 30])),
            min_notice=timedelta(minutes=rng.choice([0, 0, 60, 240]), microseconds=rng.choice([0, 0, 1])),
            days_ahead=days_ahead,
            weekly={day: sorted(windows) for day, windows in weekly.items()},
            overrides={now.date() + timedelta(days=2): [(time(10), time(12, 30))], now.date() + timedelta(days=9): []},
        )
        # Busy times near the candidates, mostly on the five-minute grid, so their edges meet slots.
        days = [change] if case % 3 == 0 else [now.date() + timedelta(days=n) for n in range(-1, r.days_ahead + 1)]
        grid = [slot.start for day in days for slot in candidate_slots(r, day)]
        if case % 6 == 0 and grid:  # the notice ends on a start
            now = rng.choice(grid) - r.min_notice
        busy = []
        for _ in range((20 if case % 3 == 0 else rng.choice([0, 5, 40])) if grid else 0):
            start = rng.choice(grid) + timedelta(
                minutes=rng.randrange(-60, 60, 5), seconds=rng.choice([0, 0, 0, 1, -1, 7])
            )
            length = timedelta(minutes=rng.randrange(5, 180, 5), microseconds=rng.choice([0, 0, 0, 1]))
            busy.append((start, start + length))
        expected = _slot_by_slot(r, now=now, busy=busy)
        assert [s.start for s in available_slots(r, now=now, busy=busy)] == expected, f"case {case}"
