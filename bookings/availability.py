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
from typing import NamedTuple
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


class Slot(NamedTuple):
    """A bookable time. A named tuple, not a dataclass: a page of slots builds about a thousand,
    and a frozen dataclass's `__init__` cost more than the arithmetic that found them."""

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
    """Whole seconds since the epoch, rounded down."""
    return int(value.timestamp() // 1)


def _seconds_up(value: datetime) -> int:
    """Whole seconds since the epoch, rounded up."""
    return int(-(-value.timestamp() // 1))


def busy_in_seconds(busy: Iterable[Interval]) -> list[tuple[int, int]]:
    """Busy intervals as epoch seconds: a start rounded down and an end rounded up, so rounding
    only ever widens what is busy (slots are on whole seconds)."""
    return [(_seconds(start), _seconds_up(end)) for start, end in busy]


def merge_seconds(busy: Iterable[tuple[int, int]]) -> tuple[list[int], list[int]]:
    """Merged busy intervals (touching ones joined) as two ascending lists: starts and ends."""
    starts: list[int] = []
    ends: list[int] = []
    for start, end in sorted(busy):
        if ends and start <= ends[-1]:
            if end > ends[-1]:
                ends[-1] = end
        else:
            starts.append(start)
            ends.append(end)
    return starts, ends


def available_slots(
    rules: Rules,
    *,
    now: datetime,
    busy: Iterable[Interval] = (),
    start_day: date | None = None,
    days: int | None = None,
) -> list[Slot]:
    """Bookable slots from `start_day` (the host's today by default) for `days` days, in UTC order."""
    starts = free_starts(rules, now=now, busy=busy_in_seconds(busy), start_day=start_day, days=days)
    return slots_from_starts(starts, rules.duration)


def slots_from_starts(starts: Iterable[int], duration: timedelta) -> list[Slot]:
    """Slots (UTC datetimes) from epoch-second starts."""
    # What `Slot(at, end)` does, without its argument handling (it runs once per slot of the page).
    from_timestamp, new = datetime.fromtimestamp, tuple.__new__
    return [new(Slot, (at, at + duration)) for at in [from_timestamp(start, UTC) for start in starts]]


def free_starts(
    rules: Rules,
    *,
    now: datetime,
    busy: Iterable[tuple[int, int]] = (),
    start_day: date | None = None,
    days: int | None = None,
) -> list[int]:
    """The bookable starts (epoch seconds, ascending) given busy intervals in epoch seconds.

    Interval arithmetic: a busy interval `[b0, b1)` rules out the starts strictly between
    `b0 - duration - buffer_after` and `b1 + buffer_before`, so each window's free starts are the
    grid points in the gaps between those, one `range` per gap. The busy intervals are merged and
    sorted once and walked with one pointer per window (placed by bisect), so the work grows with
    the busy intervals and windows, not with the candidate slots. A window with a clock change
    inside (a few nights a year) has an irregular grid and is checked start by start.
    """
    zone = ZoneInfo(rules.host_timezone)
    today = now.astimezone(zone).date()
    first = max(start_day or today, today)
    last = today + timedelta(days=rules.days_ahead)
    if days is not None:
        last = min(last, first + timedelta(days=days - 1))
    notice_at = now + rules.min_notice
    earliest = _seconds(notice_at) + (1 if notice_at.microsecond else 0)
    busy_starts, busy_ends = merge_seconds(busy)
    n_busy = len(busy_starts)
    duration = int(rules.duration.total_seconds())
    before = int(rules.buffer_before.total_seconds())
    after = int(rules.buffer_after.total_seconds())
    # A start s is ruled out by busy [b0, b1) when b0 - reach_back < s < b1 + before.
    reach_back = duration + after
    offered: list[int] = []
    ascending = True  # each start later than the one before: no sort needed at the end
    day = first
    while day <= last:
        for window in _day_windows(rules, day, zone):
            if isinstance(window, range):
                grid_first, step = window.start, window.step
                grid_last = window[-1] if window else grid_first - 1
                low = max(grid_first, earliest)
                j = bisect.bisect_right(busy_ends, grid_first - before)
                while low <= grid_last:
                    if j < n_busy and busy_starts[j] - reach_back < grid_last:
                        gap_end = min(busy_starts[j] - reach_back, grid_last)
                        next_low = busy_ends[j] + before
                        j += 1
                    else:
                        gap_end, next_low = grid_last, grid_last + 1
                    if gap_end >= low:
                        aligned = grid_first + -(-(low - grid_first) // step) * step
                        if offered and aligned <= offered[-1]:
                            ascending = False
                        offered.extend(range(aligned, gap_end + 1, step))
                    low = max(low, next_low)
                continue
            # An irregular grid: each start against the busy pointer.
            j = bisect.bisect_right(busy_ends, window[0] - before) if window else 0
            for start in window:
                if start < earliest:
                    continue
                while j < n_busy and busy_ends[j] <= start - before:
                    j += 1
                if j < n_busy and busy_starts[j] < start + reach_back:
                    continue
                if offered and start <= offered[-1]:
                    ascending = False
                offered.append(start)
        day += timedelta(days=1)
    # Windows come in time order, so this is already sorted unless a day's windows overlap or a
    # clock change repeats a time; then sort and keep each start once.
    if not ascending:
        offered = sorted(set(offered))
    return offered


def _day_windows(rules: Rules, day: date, zone: ZoneInfo) -> list[range | list[int]]:
    """Each window's candidate starts on `day`, ascending epoch seconds: a `range` when no clock
    change falls inside the window (wall-clock steps are then UTC steps), else a list."""
    windows: list[range | list[int]] = []
    duration = int(rules.duration.total_seconds())
    step = int(rules.interval.total_seconds())
    for window_start, window_end in windows_for(rules, day):
        first, last = local_to_utc(day, window_start, zone), local_to_utc(day, window_end, zone)
        wall_span = datetime.combine(day, window_end) - datetime.combine(day, window_start)
        if first is not None and last is not None and last - first == wall_span and step > 0:
            windows.append(range(_seconds(first), _seconds(last) - duration + 1, step))
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
