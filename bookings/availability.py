"""Slot generation: pure functions over plain data, so DST and zone cases are easy to test.

Weekly hours and date overrides are wall-clock times in the host's zone. Each offered start is a
wall-clock time stepped through a window and converted to UTC with `zoneinfo`; a wall time that
does not exist (the spring-forward gap) is skipped and a repeated one (the autumn fold) is offered
once (its first occurrence). A slot must end, in wall-clock terms, inside its window.

A candidate is refused when its buffered range `[start - before, end + after)` overlaps a busy
interval: other bookings' buffered ranges, live holds, and the host's Google busy times. The same
rule is enforced by the database (see `bookings.models`).
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

Interval = tuple[datetime, datetime]


@dataclass(frozen=True)
class Rules:
    host_timezone: str
    duration: timedelta
    interval: timedelta
    buffer_before: timedelta = timedelta()
    buffer_after: timedelta = timedelta()
    min_notice: timedelta = timedelta()
    days_ahead: int = 30
    # weekday (0 = Monday) -> windows; date -> windows (an empty list is a day off)
    weekly: dict[int, list[tuple[time, time]]] = field(default_factory=dict)
    overrides: dict[date, list[tuple[time, time]]] = field(default_factory=dict)


@dataclass(frozen=True)
class Slot:
    start: datetime  # UTC
    end: datetime  # UTC

    def buffered(self, rules: Rules) -> Interval:
        return self.start - rules.buffer_before, self.end + rules.buffer_after


def local_to_utc(day: date, at: time, zone: ZoneInfo) -> datetime | None:
    """The UTC instant of a wall-clock time, or None when that time does not exist (DST gap)."""
    local = datetime.combine(day, at).replace(tzinfo=zone, fold=0)
    as_utc = local.astimezone(UTC)
    if as_utc.astimezone(zone).replace(tzinfo=None) != local.replace(tzinfo=None):
        return None
    return as_utc


def merge_busy(intervals: Iterable[Interval]) -> list[Interval]:
    """Sorted, non-overlapping intervals (touching ones merged)."""
    merged: list[list[datetime]] = []
    for start, end in sorted(intervals):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return [(s, e) for s, e in merged]


class BusyIndex:
    """Half-open overlap tests against merged busy intervals in O(log n)."""

    def __init__(self, intervals: Iterable[Interval]):
        self.intervals = merge_busy(intervals)
        self.starts = [s for s, _ in self.intervals]

    def overlaps(self, start: datetime, end: datetime) -> bool:
        # The last busy interval starting before `end` is the only one that can overlap.
        i = bisect.bisect_left(self.starts, end) - 1
        return i >= 0 and self.intervals[i][1] > start


def windows_for(rules: Rules, day: date) -> list[tuple[time, time]]:
    if day in rules.overrides:
        return rules.overrides[day]
    return rules.weekly.get(day.weekday(), [])


def candidate_slots(rules: Rules, day: date) -> list[Slot]:
    """Every slot the hours allow on one local date of the host, before busy times and notice."""
    return [Slot(start=start, end=end) for start, end in _candidate_times(rules, day)]


def _candidate_times(rules: Rules, day: date) -> list[Interval]:
    slots: list[Interval] = []
    for window_start, window_end in windows_for(rules, day):
        slots += _candidate_times_in(rules, day, window_start, window_end)
    return slots


def _candidate_times_in(rules: Rules, day: date, window_start: time, window_end: time) -> list[Interval]:
    zone = ZoneInfo(rules.host_timezone)
    slots: list[Interval] = []
    wall = datetime.combine(day, window_start)
    wall_end = datetime.combine(day, window_end)
    first, last = local_to_utc(day, window_start, zone), local_to_utc(day, window_end, zone)
    if first is not None and last is not None and last - first == wall_end - wall:
        # No clock change inside the window (nearly every day): wall-clock steps are UTC steps.
        instant = first
        while instant + rules.duration <= last:
            slots.append((instant, instant + rules.duration))
            instant += rules.interval
        return slots
    while wall < wall_end:
        start = local_to_utc(day, wall.time(), zone)
        if wall.date() != day:
            break
        if start is not None:
            end = start + rules.duration
            end_wall = end.astimezone(zone).replace(tzinfo=None)
            if end_wall > wall_end:
                break
            slots.append((start, end))
        wall += rules.interval
    return slots


def _seconds(value: datetime) -> int:
    """Whole seconds since the epoch (slots and busy times are on whole seconds or finer: a busy
    end is rounded up and a busy start down, so rounding only ever widens what is busy)."""
    return int(value.timestamp() // 1)


def _busy_seconds(busy: Iterable[Interval]) -> tuple[list[int], list[int]]:
    """Merged busy intervals as sorted epoch-second starts and ends."""
    starts: list[int] = []
    ends: list[int] = []
    for start, end in merge_busy(busy):
        end_s = -(-end.timestamp() // 1)  # ceil
        starts.append(_seconds(start))
        ends.append(int(end_s))
    return starts, ends


def available_slots(
    rules: Rules,
    *,
    now: datetime,
    busy: Iterable[Interval] = (),
    start_day: date | None = None,
    days: int | None = None,
) -> list[Slot]:
    """Bookable slots from `start_day` (the host's today by default) for `days` days, in UTC order.

    Interval arithmetic on epoch seconds: the candidates of a window ascend, so one pointer walks
    the sorted busy list alongside them (placed by bisect at each window's start), and a datetime
    is made only for the slots offered.
    """
    zone = ZoneInfo(rules.host_timezone)
    today = now.astimezone(zone).date()
    first = max(start_day or today, today)
    last = today + timedelta(days=rules.days_ahead)
    if days is not None:
        last = min(last, first + timedelta(days=days - 1))
    earliest = _seconds(now + rules.min_notice) + (1 if (now + rules.min_notice).microsecond else 0)
    busy_starts, busy_ends = _busy_seconds(busy)
    n_busy = len(busy_starts)
    duration = int(rules.duration.total_seconds())
    before = int(rules.buffer_before.total_seconds())
    after = int(rules.buffer_after.total_seconds())
    offered: set[int] = set()
    day = first
    while day <= last:
        for window in _candidate_windows(rules, day, zone):
            if not window:
                continue
            # The first busy interval that could touch the window's first candidate.
            j = bisect.bisect_right(busy_ends, window[0] - before)
            for start in window:
                if start < earliest:
                    continue
                low, high = start - before, start + duration + after
                while j < n_busy and busy_ends[j] <= low:
                    j += 1
                if j < n_busy and busy_starts[j] < high:
                    continue
                offered.add(start)
        day += timedelta(days=1)
    length = timedelta(seconds=duration)
    result = []
    for start in sorted(offered):
        at = datetime.fromtimestamp(start, UTC)
        result.append(Slot(start=at, end=at + length))
    return result


def _candidate_windows(rules: Rules, day: date, zone: ZoneInfo) -> list[list[int]]:
    """Each window's candidate starts on `day`, ascending epoch seconds."""
    windows: list[list[int]] = []
    duration = int(rules.duration.total_seconds())
    step = int(rules.interval.total_seconds())
    for window_start, window_end in windows_for(rules, day):
        first, last = local_to_utc(day, window_start, zone), local_to_utc(day, window_end, zone)
        wall_span = datetime.combine(day, window_end) - datetime.combine(day, window_start)
        if first is not None and last is not None and last - first == wall_span and step > 0:
            # No clock change inside the window (nearly every day): wall-clock steps are UTC steps.
            windows.append(list(range(_seconds(first), _seconds(last) - duration + 1, step)))
            continue
        windows.append([_seconds(start) for start, _ in _candidate_times_in(rules, day, window_start, window_end)])
    return windows


def slot_is_offered(rules: Rules, *, start: datetime, now: datetime) -> bool:
    """Whether `start` is one of the starts the hours allow (ignoring busy times)."""
    zone = ZoneInfo(rules.host_timezone)
    day = start.astimezone(zone).date()
    if start < now + rules.min_notice:
        return False
    today = now.astimezone(zone).date()
    if not today <= day <= today + timedelta(days=rules.days_ahead):
        return False
    return any(slot.start == start for slot in candidate_slots(rules, day))


def group_by_local_day(slots: Iterable[Slot], zone_name: str) -> list[tuple[date, list[tuple[Slot, datetime]]]]:
    """Slots grouped by the visitor's local date, each with its local start time."""
    zone = ZoneInfo(zone_name)
    groups: dict[date, list[tuple[Slot, datetime]]] = {}
    for slot in slots:
        local = slot.start.astimezone(zone)
        groups.setdefault(local.date(), []).append((slot, local))
    return sorted(groups.items())
