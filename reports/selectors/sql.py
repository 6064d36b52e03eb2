"""Raw SQL pieces that read the same on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo

from django.db import connection, transaction


def days_between(start: str, end: str) -> str:
    """Fractional days from column `start` to column `end`."""
    if connection.vendor == "postgresql":
        return f"(EXTRACT(EPOCH FROM ({end} - {start})) / 86400.0)"
    return f"(julianday({end}) - julianday({start}))"


def within_sql(point: str, *, start: str, end: str, before: timedelta, after: timedelta) -> tuple[str, list[Any]]:
    """SQL for `start - before <= point <= end + after`, columns all; computed in the database.

    On SQLite through julianday() (Django's own datetime arithmetic there calls back into Python
    once per row, which made the bookings report slow at 100,000 leads).
    """
    if connection.vendor == "postgresql":
        return f"({point} >= {start} - %s AND {point} <= {end} + %s)", [before, after]
    day = 86400.0
    sql = f"(julianday({point}) >= julianday({start}) - %s AND julianday({point}) <= julianday({end}) + %s)"
    return sql, [before.total_seconds() / day, after.total_seconds() / day]


def dt_param(value: datetime) -> Any:
    """A datetime as the backend stores it (naive UTC text on SQLite)."""
    return connection.ops.adapt_datetimefield_value(value)


def fetch(sql: str, params: list[Any], *, indexes_only: bool = False) -> list[tuple[Any, ...]]:
    """Run one report query.

    On PostgreSQL without JIT compilation: a report's estimated cost (tens of thousands of index
    lookups) passes `jit_above_cost`, and compiling then took longer than running the query (at
    100,000 leads, outreach spent about 40% of its time compiling). `indexes_only` also turns
    sequential scans off for the query, for reports whose every big table has a covering index
    for it: over a long range PostgreSQL would otherwise read a whole table it could read from
    the narrower index (the funnel's moves over this year: 120 ms of server CPU by table, 90 by
    index, at 100,000 leads). A table with no usable index is still read whole.
    """
    if connection.vendor != "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchall()
    settings = ["jit", "enable_seqscan"] if indexes_only else ["jit"]
    nested = connection.in_atomic_block
    with transaction.atomic(savepoint=False), connection.cursor() as cursor:
        for setting in settings:
            cursor.execute(f"SET LOCAL {setting} = off")
        cursor.execute(sql, params)
        rows = cursor.fetchall()
        if nested:  # the caller's transaction goes on: its later queries plan as usual
            for setting in settings:
                cursor.execute(f"RESET {setting}")
        return rows


def _offsets(start: datetime, end: datetime, zone: ZoneInfo) -> list[tuple[datetime | None, timedelta]]:
    """The owner's UTC offset over [start, end): [(from, offset)], the first `from` being None."""
    step = timedelta(days=1)
    at = (start - step).astimezone(UTC)
    pieces: list[tuple[datetime | None, timedelta]] = [(None, at.astimezone(zone).utcoffset() or timedelta())]
    while at < end + step:
        nxt = at + step
        if (nxt.astimezone(zone).utcoffset() or timedelta()) != pieces[-1][1]:
            hour = at
            while (hour.astimezone(zone).utcoffset() or timedelta()) == pieces[-1][1]:
                hour += timedelta(hours=1)
            pieces.append((hour, hour.astimezone(zone).utcoffset() or timedelta()))
        at = nxt
    return pieces


def _sqlite_offset(column: str, *, start: datetime, end: datetime, zone: ZoneInfo) -> tuple[str, list[Any]]:
    """A strftime modifier ('-18000 seconds') picking the zone's offset for `column`'s instant."""
    pieces = _offsets(start, end, zone)
    params: list[Any] = []
    for (_, offset), (boundary, _next) in pairwise(pieces):
        assert boundary is not None  # only the first piece starts at None
        params += [dt_param(boundary), f"{int(offset.total_seconds())} seconds"]
    params.append(f"{int(pieces[-1][1].total_seconds())} seconds")
    if len(pieces) == 1:
        return "%s", params
    return "CASE " + " ".join(f"WHEN {column} < %s THEN %s" for _ in pieces[1:]) + " ELSE %s END", params


def local_sql(column: str, *, start: datetime, end: datetime, zone: ZoneInfo) -> tuple[str, str, list[Any]]:
    """SQL for the ISO weekday (1 = Monday) and hour of `column` in `zone`, for rows in [start, end).

    PostgreSQL converts natively. SQLite has no time zones, so the offset is applied piecewise
    between the zone's transitions in the range: Django's own tz-aware Extract on SQLite calls
    back into Python once per row, which is what made this report slow at 100,000 leads.
    """
    if connection.vendor == "postgresql":
        weekday = f"CAST(EXTRACT(ISODOW FROM {column} AT TIME ZONE %s) AS integer)"
        hour = f"CAST(EXTRACT(HOUR FROM {column} AT TIME ZONE %s) AS integer)"
        return weekday, hour, [zone.key]
    case, params = _sqlite_offset(column, start=start, end=end, zone=zone)
    weekday = f"((CAST(strftime('%%w', {column}, {case}) AS integer) + 6) %% 7 + 1)"
    hour = f"CAST(strftime('%%H', {column}, {case}) AS integer)"
    return weekday, hour, params


def local_week_sql(column: str, *, start: datetime, end: datetime, zone: ZoneInfo) -> tuple[str, list[Any]]:
    """SQL for the Monday (a date) starting the week of `column` in `zone` (see `local_sql`)."""
    if connection.vendor == "postgresql":
        return f"CAST(date_trunc('week', {column} AT TIME ZONE %s) AS date)", [zone.key]
    case, params = _sqlite_offset(column, start=start, end=end, zone=zone)
    # 'weekday 0' moves forward to the Sunday closing the week; six days back is its Monday.
    return f"date({column}, {case}, 'weekday 0', '-6 days')", params
