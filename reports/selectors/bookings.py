"""Bookings: calls that started in the range, what became of them, and when they are booked.

Held means a recorded call (calls.Call) with the same lead started within `MATCH_WINDOW` of the
booking; a past booking that was not cancelled and has no such call is a no-show (the call did
not happen, or was not recorded). Show rate = held / (held + no-show). Weekday and hour are the
owner's (`OWNER_TIMEZONE`). One grouped query; the call check is an index lookup on the lead.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.utils import timezone

from bookings.models import Booking
from calls.models import Call
from reports.periods import Period, owner_zone
from reports.selectors.sql import dt_param, fetch, local_sql, within_sql

MATCH_WINDOW = timedelta(hours=2)


@dataclass(frozen=True)
class BookingTotals:
    booked: int
    held: int
    cancelled: int
    rescheduled: int
    no_show: int
    upcoming: int

    @property
    def show_rate(self) -> float | None:
        done = self.held + self.no_show
        return self.held / done if done else None


@dataclass(frozen=True)
class BookingsReport:
    totals: BookingTotals
    by_weekday: list[int]  # Monday first
    by_hour: list[int]  # 0..23


def bookings_report(*, period: Period, now: datetime | None = None) -> BookingsReport:
    now = now or timezone.now()
    bookings, calls = Booking._meta.db_table, Call._meta.db_table
    weekday_sql, hour_sql, zone_params = local_sql(
        "b.start_at", start=period.start_at, end=period.end_at, zone=owner_zone()
    )
    window_sql, window_params = within_sql(
        "c.started_at", start="b.start_at", end="b.end_at", before=MATCH_WINDOW, after=MATCH_WINDOW
    )
    source_join = "JOIN leads_lead l ON l.id = b.lead_id AND l.source = %s" if period.source else ""
    # MATERIALIZED: each booking's call check runs once, not once per column that reads it.
    sql = f"""
        WITH per_booking AS MATERIALIZED (
            SELECT {weekday_sql} AS weekday, {hour_sql} AS hour,
                   CASE WHEN b.status = %s THEN 0 ELSE 1 END AS live,
                   CASE WHEN b.start_at < %s THEN 1 ELSE 0 END AS past,
                   CASE WHEN b.rescheduled_at IS NULL THEN 0 ELSE 1 END AS rescheduled,
                   CASE WHEN EXISTS (
                       SELECT 1 FROM {calls} c WHERE c.lead_id = b.lead_id AND {window_sql}
                   ) THEN 1 ELSE 0 END AS held
            FROM {bookings} b {source_join}
            WHERE b.start_at >= %s AND b.start_at < %s
        )
        SELECT weekday, hour, COUNT(*),
               SUM(CASE WHEN live = 1 AND past = 1 AND held = 1 THEN 1 ELSE 0 END),
               SUM(1 - live),
               SUM(rescheduled),
               SUM(CASE WHEN live = 1 AND past = 1 AND held = 0 THEN 1 ELSE 0 END),
               SUM(CASE WHEN live = 1 AND past = 0 THEN 1 ELSE 0 END)
        FROM per_booking
        GROUP BY weekday, hour
    """  # noqa: S608 (only table names and constants are interpolated; values are parameters)
    params = [*zone_params, *zone_params, Booking.Status.CANCELLED, dt_param(now), *window_params]
    if period.source:
        params.append(period.source)
    params += [dt_param(period.start_at), dt_param(period.end_at)]
    rows = fetch(sql, params)
    by_weekday, by_hour = [0] * 7, [0] * 24
    sums = [0] * 6
    for weekday, hour, *counts in rows:  # at most 7 x 24 grouped rows
        by_weekday[int(weekday) - 1] += int(counts[0])
        by_hour[int(hour)] += int(counts[0])
        sums = [total + int(count or 0) for total, count in zip(sums, counts, strict=True)]
    totals = BookingTotals(
        booked=sums[0], held=sums[1], cancelled=sums[2], rescheduled=sums[3], no_show=sums[4], upcoming=sums[5]
    )
    return BookingsReport(totals=totals, by_weekday=by_weekday, by_hour=by_hour)
