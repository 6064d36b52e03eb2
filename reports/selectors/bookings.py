"""Bookings: calls that started in the range, what became of them, and when they are booked.

Held means a recorded call (calls.Call) with the same lead started within `MATCH_WINDOW` of the
booking; a past booking that was not cancelled and has no such call is a no-show (the call did
not happen, or was not recorded). Show rate = held / (held + no-show). Weekday and hour are the
owner's (`OWNER_TIMEZONE`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Count, Exists, IntegerField, OuterRef, Q
from django.db.models.expressions import RawSQL
from django.utils import timezone

from bookings.models import Booking
from calls.models import Call
from reports.periods import Period, owner_zone
from reports.selectors.sql import local_sql

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
    bookings = Booking.objects.filter(start_at__gte=period.start_at, start_at__lt=period.end_at)
    if period.source:
        bookings = bookings.filter(lead__source=period.source)
    call_held = Call.objects.filter(
        lead=OuterRef("lead"),
        started_at__gte=OuterRef("start_at") - MATCH_WINDOW,
        started_at__lte=OuterRef("end_at") + MATCH_WINDOW,
    )
    live = ~Q(status=Booking.Status.CANCELLED)
    past = Q(start_at__lt=now)
    column = f'"{Booking._meta.db_table}"."start_at"'
    weekday_sql, hour_sql, params = local_sql(column, start=period.start_at, end=period.end_at, zone=owner_zone())
    rows = list(
        bookings.annotate(
            held=Exists(call_held),
            weekday=RawSQL(weekday_sql, params, output_field=IntegerField()),  # noqa: S611 (constants; values are params)
            hour=RawSQL(hour_sql, params, output_field=IntegerField()),  # noqa: S611 (constants; values are params)
        )
        .values("weekday", "hour")
        .annotate(
            booked=Count("id"),
            n_held=Count("id", filter=live & past & Q(held=True)),
            cancelled=Count("id", filter=~live),
            rescheduled=Count("id", filter=Q(rescheduled_at__isnull=False)),
            no_show=Count("id", filter=live & past & Q(held=False)),
            upcoming=Count("id", filter=live & ~past),
        )
        .order_by()
    )
    by_weekday, by_hour = [0] * 7, [0] * 24
    for row in rows:  # at most 7 x 24 grouped rows
        by_weekday[row["weekday"] - 1] += row["booked"]
        by_hour[row["hour"]] += row["booked"]
    totals = BookingTotals(
        booked=sum(r["booked"] for r in rows),
        held=sum(r["n_held"] for r in rows),
        cancelled=sum(r["cancelled"] for r in rows),
        rescheduled=sum(r["rescheduled"] for r in rows),
        no_show=sum(r["no_show"] for r in rows),
        upcoming=sum(r["upcoming"] for r in rows),
    )
    return BookingsReport(totals=totals, by_weekday=by_weekday, by_hour=by_hour)
