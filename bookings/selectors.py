"""Reads: event types with their rules, busy intervals and the slots a visitor may pick."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.cache import cache
from django.db import connections, models, router
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.urls import reverse
from django.utils import timezone

from bookings.availability import Interval, Rules, Slot, busy_in_seconds, free_starts, slots_from_starts
from bookings.clients import google_calendar
from bookings.models import Booking, DateOverride, EventType, Hold, Host, WeeklyHours
from clientsflow.prepared import column_plan, convert_row, instance_from
from leads.cards import Badge, CardAction, CardConfirm

logger = logging.getLogger(__name__)


def event_type_get_public(*, slug: str) -> EventType | None:
    """The active event type with its host and its availability rules: one query.

    Asked on every hit of the booking page, so it is SQL written once per database (building the
    equivalent querysets cost several times what running them does): the event type and its host
    joined to its weekly hours and date overrides, one row per rule (or one row with no rule);
    the values go through the same converters the ORM would apply.
    """
    alias = router.db_for_read(EventType)
    sql = _public_sql(alias)
    with connections[alias].cursor() as cursor:
        cursor.execute(sql["event_type"], [slug, slug, slug, True])
        rows = cursor.fetchall()
    if not rows:
        return None
    split = len(EventType._meta.concrete_fields)
    rules_at = split + len(Host._meta.concrete_fields)
    values = convert_row(rows[0][:rules_at], sql["event_type_plan"], alias)
    event_type = instance_from(EventType, values[:split], alias)
    host = instance_from(Host, values[split:], alias)
    EventType._meta.get_field("host").set_cached_value(event_type, host)
    # A weekday marks a weekly window, a date an override; neither, the row of an event type
    # without rules.
    rules = [
        convert_row(row[rules_at:], sql["rules_plan"], alias)
        for row in rows
        if row[rules_at : rules_at + 2] != (None, None)
    ]
    setattr(event_type, _RULES_ATTRIBUTE, _rules_from_rows(event_type, rules))  # type: ignore[arg-type]
    return event_type


_PUBLIC_SQL: dict[str, dict[str, Any]] = {}


def _concrete(model: type[models.Model], name: str) -> models.Field:
    """The model's concrete field called `name` (a column of its table)."""
    return next(f for f in model._meta.concrete_fields if name in (f.name, f.attname))


def _public_sql(alias: str) -> dict[str, Any]:
    if alias in _PUBLIC_SQL:
        return _PUBLIC_SQL[alias]
    qn = connections[alias].ops.quote_name

    def columns(model: type[models.Model], table: str) -> list[str]:
        return [f"{table}.{qn(f.column)}" for f in model._meta.concrete_fields]

    def column(model: type[models.Model], name: str) -> str:
        return qn(_concrete(model, name).column)

    et, host, weekly, override = (qn(m._meta.db_table) for m in (EventType, Host, WeeklyHours, DateOverride))
    # The event type's weekly hours and date overrides as one relation (event type, weekday, date,
    # start, end), each part read by its event type index.
    this_event_type = f"IN (SELECT {column(EventType, 'id')} FROM {et} WHERE {column(EventType, 'slug')} = %s)"  # noqa: S608
    rules = (
        f"SELECT {column(WeeklyHours, 'event_type')} AS {qn('event_type')}, {column(WeeklyHours, 'weekday')} "  # noqa: S608
        f"AS {qn('weekday')}, NULL AS {qn('date')}, {column(WeeklyHours, 'start_time')} AS {qn('start_time')}, "
        f"{column(WeeklyHours, 'end_time')} AS {qn('end_time')} FROM {weekly} "
        f"WHERE {column(WeeklyHours, 'event_type')} {this_event_type} "
        f"UNION ALL SELECT {column(DateOverride, 'event_type')}, NULL, {column(DateOverride, 'date')}, "
        f"{column(DateOverride, 'start_time')}, {column(DateOverride, 'end_time')} FROM {override} "
        f"WHERE {column(DateOverride, 'event_type')} {this_event_type}"
    )
    rule_columns = ", ".join(f"{qn('rule')}.{qn(name)}" for name in ("weekday", "date", "start_time", "end_time"))
    _PUBLIC_SQL[alias] = {
        "event_type": (
            f"SELECT {', '.join(columns(EventType, et) + columns(Host, host))}, {rule_columns} FROM {et} "  # noqa: S608
            f"INNER JOIN {host} ON {et}.{column(EventType, 'host')} = {host}.{column(Host, 'id')} "
            f"LEFT OUTER JOIN ({rules}) {qn('rule')} ON {qn('rule')}.{qn('event_type')} = {et}.{column(EventType, 'id')} "
            f"WHERE {et}.{column(EventType, 'slug')} = %s AND {et}.{column(EventType, 'is_active')} = %s"
        ),
        "event_type_plan": column_plan([*EventType._meta.concrete_fields, *Host._meta.concrete_fields], alias),
        "rules_plan": column_plan(
            [
                _concrete(WeeklyHours, "weekday"),
                _concrete(DateOverride, "date"),
                _concrete(WeeklyHours, "start_time"),
                _concrete(WeeklyHours, "end_time"),
            ],
            alias,
        ),
    }
    return _PUBLIC_SQL[alias]


# The rules an event type was loaded with, kept on that instance (one request's, never shared).
_RULES_ATTRIBUTE = "_availability_rules"


def _rules_from_rows(event_type: EventType, rows: list[tuple[Any, Any, Any, Any]]) -> Rules:
    weekly: dict[int, list] = {}
    overrides: dict[date, list] = {}
    for weekday, day, start_time, end_time in rows:
        if weekday is not None:
            weekly.setdefault(weekday, []).append((start_time, end_time))
        else:
            windows = overrides.setdefault(day, [])
            if start_time is not None:
                windows.append((start_time, end_time))
    return Rules(
        host_timezone=event_type.host.timezone,
        duration=timedelta(minutes=event_type.duration_minutes),
        interval=timedelta(minutes=event_type.slot_interval_minutes),
        buffer_before=timedelta(minutes=event_type.buffer_before_minutes),
        buffer_after=timedelta(minutes=event_type.buffer_after_minutes),
        min_notice=timedelta(minutes=event_type.min_notice_minutes),
        days_ahead=event_type.days_ahead,
        weekly={k: sorted(v) for k, v in weekly.items()},
        overrides={k: sorted(v) for k, v in overrides.items()},
    )


def rules_for(event_type: EventType) -> Rules:
    """The event type's availability rules: those it was loaded with by `event_type_get_public`
    (read once per request), else read now."""
    remembered = getattr(event_type, _RULES_ATTRIBUTE, None)
    if remembered is not None:
        return remembered
    rows: list[tuple[Any, Any, Any, Any]] = [
        (h.weekday, None, h.start_time, h.end_time) for h in event_type.weekly_hours.all()
    ]
    rows += [(None, o.date, o.start_time, o.end_time) for o in event_type.date_overrides.all()]
    return _rules_from_rows(event_type, rows)


def active_bookings(*, host: Host) -> QuerySet[Booking]:
    return Booking.objects.filter(host=host, status__in=Booking.ACTIVE_STATUSES)


def overlapping_bookings(
    *, host: Host, buffered_start: datetime, buffered_end: datetime, exclude_pk: int | None = None
) -> QuerySet[Booking]:
    """Active bookings whose buffered range overlaps `[buffered_start, buffered_end)`."""
    qs = active_bookings(host=host).filter(buffered_start__lt=buffered_end, buffered_end__gt=buffered_start)
    return qs.exclude(pk=exclude_pk) if exclude_pk else qs


def overlapping_holds(
    *, host: Host, buffered_start: datetime, buffered_end: datetime, now: datetime, exclude_token: str = ""
) -> QuerySet[Hold]:
    qs = Hold.objects.filter(
        host=host, expires_at__gt=now, buffered_start__lt=buffered_end, buffered_end__gt=buffered_start
    )
    return qs.exclude(token=exclude_token) if exclude_token else qs


def slot_conflicts(
    *,
    host_id: int,
    buffered_start: datetime,
    buffered_end: datetime,
    now: datetime,
    exclude_booking_pk: int | None = None,
    exclude_hold_token: str = "",
) -> tuple[bool, bool]:
    """Whether an active booking, and whether a live hold, overlaps `[buffered_start,
    buffered_end)`: `overlapping_bookings(...).exists()` and `overlapping_holds(...).exists()` in one
    query, its SQL written once per database (every hold and booking write asks, inside its
    transaction)."""
    alias = router.db_for_write(Booking)
    connection = connections[alias]
    key = (alias, exclude_booking_pk is not None, bool(exclude_hold_token))
    if key not in _CONFLICT_SQL:
        qn = connection.ops.quote_name

        def column(model: type[models.Model], name: str) -> str:
            return qn(_concrete(model, name).column)

        booking = (
            f"SELECT 1 FROM {qn(Booking._meta.db_table)} WHERE {column(Booking, 'host')} = %s "  # noqa: S608
            f"AND {column(Booking, 'status')} IN (%s, %s) AND {column(Booking, 'buffered_start')} < %s "
            f"AND {column(Booking, 'buffered_end')} > %s"
            + (f" AND NOT ({column(Booking, 'id')} = %s)" if key[1] else "")
        )
        hold = (
            f"SELECT 1 FROM {qn(Hold._meta.db_table)} WHERE {column(Hold, 'host')} = %s "  # noqa: S608
            f"AND {column(Hold, 'expires_at')} > %s AND {column(Hold, 'buffered_start')} < %s "
            f"AND {column(Hold, 'buffered_end')} > %s" + (f" AND NOT ({column(Hold, 'token')} = %s)" if key[2] else "")
        )
        _CONFLICT_SQL[key] = f"SELECT EXISTS({booking}), EXISTS({hold})"
    adapt = connection.ops.adapt_datetimefield_value
    start, end = adapt(buffered_start), adapt(buffered_end)
    params: list[Any] = [host_id, *Booking.ACTIVE_STATUSES, end, start]
    if exclude_booking_pk is not None:
        params.append(exclude_booking_pk)
    params += [host_id, adapt(now), end, start]
    if exclude_hold_token:
        params.append(exclude_hold_token)
    with connection.cursor() as cursor:
        cursor.execute(_CONFLICT_SQL[key], params)
        booked, held = cursor.fetchone()
    return bool(booked), bool(held)


_CONFLICT_SQL: dict[tuple[str, bool, bool], str] = {}


FREEBUSY_WINDOW_DAYS = 62


def google_busy(*, host: Host) -> list[Interval]:
    """The host's Google busy times from yesterday to ~2 months ahead; [] when Google is off.

    One query per host per day window, cached briefly in the shared cache so a page of slots and
    the booking check that follows cost one call. A failing query is logged and treated as no
    extra busy time: our own bookings are still excluded by the database, and Google's errors
    show up on the invites.
    """
    if not google_calendar.enabled():
        return []
    today = timezone.now().astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    time_min, time_max = today - timedelta(days=1), today + timedelta(days=FREEBUSY_WINDOW_DAYS)
    key = f"bookings:freebusy:{host.pk}:{host.google_calendar_id}:{today:%Y%m%d}"
    cached = cache.get(key)
    if cached is not None:
        return [(datetime.fromisoformat(s), datetime.fromisoformat(e)) for s, e in cached]
    try:
        busy = google_calendar.GoogleCalendarClient.from_settings().busy_times(
            calendar_id=host.google_calendar_id, time_min=time_min, time_max=time_max
        )
    except google_calendar.CalendarError as exc:
        logger.warning("bookings.freebusy_failed", extra={"host_id": host.pk, "code": exc.code})
        return []
    cache.set(key, [(s.isoformat(), e.isoformat()) for s, e in busy], settings.BOOKING_FREEBUSY_CACHE_SECONDS)
    return busy


def _epoch_seconds_sql(vendor: str, column: str, *, ceiling: bool = False) -> str:
    """A datetime column as whole seconds since the epoch, rounded down (or up with `ceiling`),
    as SQL text to be run with parameters (so `%` is doubled)."""
    if vendor == "sqlite":
        # Stored as "YYYY-MM-DD HH:MM:SS[.ffffff]" (UTC). The fraction is cut off before strftime,
        # which reads it to the millisecond and rounds (".9999" would count as the next second);
        # the text is longer than its whole seconds exactly when there is a fraction.
        whole = f"substr({column}, 1, 19)"
        seconds = f"CAST(strftime('%%s', {whole}) AS INTEGER)"
        return f"({seconds} + ({column} > {whole}))" if ceiling else seconds
    if vendor == "postgresql":
        return f"{'CEIL' if ceiling else 'FLOOR'}(EXTRACT(EPOCH FROM {column}))::bigint"
    raise NotImplementedError(f"busy_seconds has no SQL for {vendor}")


_BUSY_SQL: dict[tuple[str, bool, bool], str] = {}


def _busy_sql(alias: str, *, exclude_booking: bool, exclude_hold: bool) -> str:
    """The SQL of `busy_seconds`: `overlapping_bookings(...)` and `overlapping_holds(...)` as
    buffered epoch-second pairs, written once per database (the slots page asks on every hit, and
    building the equivalent querysets cost more than running them)."""
    key = (alias, exclude_booking, exclude_hold)
    if key in _BUSY_SQL:
        return _BUSY_SQL[key]
    connection = connections[alias]
    qn = connection.ops.quote_name

    def column(model: type[models.Model], name: str) -> str:
        return qn(_concrete(model, name).column)

    def pair(model: type[models.Model]) -> str:
        start, end = column(model, "buffered_start"), column(model, "buffered_end")
        vendor = connection.vendor
        return f"{_epoch_seconds_sql(vendor, start)}, {_epoch_seconds_sql(vendor, end, ceiling=True)}"

    bookings = (
        f"SELECT {pair(Booking)} FROM {qn(Booking._meta.db_table)} "  # noqa: S608
        f"WHERE {column(Booking, 'host')} = %s AND {column(Booking, 'status')} IN (%s, %s) "
        f"AND {column(Booking, 'buffered_start')} < %s AND {column(Booking, 'buffered_end')} > %s"
        + (f" AND NOT ({column(Booking, 'id')} = %s)" if exclude_booking else "")
    )
    holds = (
        f"SELECT {pair(Hold)} FROM {qn(Hold._meta.db_table)} "  # noqa: S608
        f"WHERE {column(Hold, 'host')} = %s AND {column(Hold, 'expires_at')} > %s "
        f"AND {column(Hold, 'buffered_start')} < %s AND {column(Hold, 'buffered_end')} > %s"
        + (f" AND NOT ({column(Hold, 'token')} = %s)" if exclude_hold else "")
    )
    _BUSY_SQL[key] = f"{bookings} UNION ALL {holds}"
    return _BUSY_SQL[key]


def busy_seconds(
    *,
    host: Host,
    time_min: datetime,
    time_max: datetime,
    now: datetime,
    exclude_booking_pk: int | None = None,
    exclude_hold_token: str = "",
    include_google: bool = True,
) -> list[tuple[int, int]]:
    """Everything that blocks the host in a range, as epoch seconds (start rounded down, end up):
    bookings (`overlapping_bookings`) and live holds (`overlapping_holds`), buffered, in one query
    that returns plain integers (no datetime is parsed per row), then Google's busy times."""
    alias = router.db_for_read(Booking)
    sql = _busy_sql(alias, exclude_booking=exclude_booking_pk is not None, exclude_hold=bool(exclude_hold_token))
    adapt = connections[alias].ops.adapt_datetimefield_value
    start, end = adapt(time_min), adapt(time_max)
    params: list[Any] = [host.pk, *Booking.ACTIVE_STATUSES, end, start]
    if exclude_booking_pk is not None:
        params.append(exclude_booking_pk)
    params += [host.pk, adapt(now), end, start]
    if exclude_hold_token:
        params.append(exclude_hold_token)
    with connections[alias].cursor() as cursor:
        cursor.execute(sql, params)
        intervals: list[tuple[int, int]] = cursor.fetchall()
    if include_google:
        intervals += busy_in_seconds(google_busy(host=host))
    return intervals


def busy_intervals(
    *,
    host: Host,
    time_min: datetime,
    time_max: datetime,
    now: datetime,
    exclude_booking_pk: int | None = None,
    exclude_hold_token: str = "",
    include_google: bool = True,
) -> list[Interval]:
    """`busy_seconds` as UTC datetimes."""
    return [
        (datetime.fromtimestamp(start, UTC), datetime.fromtimestamp(end, UTC))
        for start, end in busy_seconds(
            host=host,
            time_min=time_min,
            time_max=time_max,
            now=now,
            exclude_booking_pk=exclude_booking_pk,
            exclude_hold_token=exclude_hold_token,
            include_google=include_google,
        )
    ]


def slots_for(
    *,
    event_type: EventType,
    now: datetime | None = None,
    start_day: date | None = None,
    days: int | None = None,
    exclude_booking_pk: int | None = None,
    exclude_hold_token: str = "",
) -> list[Slot]:
    """The slots a visitor may pick: one query for the busy times, then interval arithmetic."""
    now = now or timezone.now()
    rules = rules_for(event_type)
    busy = busy_seconds(
        host=event_type.host,
        time_min=now - timedelta(days=1),
        time_max=now + timedelta(days=rules.days_ahead + 2),
        now=now,
        exclude_booking_pk=exclude_booking_pk,
        exclude_hold_token=exclude_hold_token,
    )
    starts = free_starts(rules, now=now, busy=busy, start_day=start_day, days=days)
    return slots_from_starts(starts, rules.duration)


def booking_latest_by_lead(*, lead_ids: list[int]) -> dict[int, Booking]:
    """Each lead's most relevant booking (the next active one, else the latest), in one query."""
    now = timezone.now()
    result: dict[int, Booking] = {}
    rows = (
        Booking.objects.filter(lead_id__in=lead_ids)
        .filter(Q(status__in=Booking.ACTIVE_STATUSES) | Q(start_at__gt=now - timedelta(days=30)))
        .only("id", "lead_id", "start_at", "end_at", "status", "invite_status", "invite_error", "timezone")
        .order_by("lead_id", "-start_at")
    )
    for booking in rows:
        current = result.get(booking.lead_id)
        if current is None or (booking.is_active and not current.is_active):
            result[booking.lead_id] = booking
    return result


# --- For the owner's board: the "needs you" count, card badges and the card action ------------


def blocked_invites_count() -> int:
    return Booking.objects.filter(
        invite_status=Booking.InviteStatus.BLOCKED, status__in=Booking.ACTIVE_STATUSES
    ).count()


def cancellations_untold() -> QuerySet[Booking]:
    """Cancelled calls not over yet whose cancellation notice never reached the lead (blocked or
    failed): the call is still in their calendar, so they may turn up."""
    return Booking.objects.filter(
        status=Booking.Status.CANCELLED, invite_status=Booking.InviteStatus.BLOCKED, end_at__gt=timezone.now()
    )


def cancellations_untold_count() -> int:
    return cancellations_untold().count()


REBOOK_WITHIN = timedelta(days=30)
# Stages a lead is moved back to when its call is cancelled: still open, no call on the calendar.
REBOOK_STAGES = ("new", "contacted", "replied")


def bookings_to_rebook(*, now: datetime | None = None) -> QuerySet[Booking]:
    """Calls cancelled in the last 30 days whose lead booked nothing since and is still open:
    each is a lead to offer another time. One row per lead (its latest booking)."""
    now = now or timezone.now()
    later = Booking.objects.filter(lead=OuterRef("lead"), created_at__gt=OuterRef("created_at"))
    return (
        Booking.objects.filter(
            status=Booking.Status.CANCELLED,
            cancelled_at__gte=now - REBOOK_WITHIN,
            lead__stage__in=REBOOK_STAGES,
            lead__merged_into__isnull=True,
        )
        .exclude(Exists(later))
        .select_related("lead", "event_type")
        .order_by("-cancelled_at", "-id")
    )


def rebook_count() -> int:
    return bookings_to_rebook().count()


def _call_label(booking: Booking, zone: ZoneInfo) -> str:
    return f"Call {booking.start_at.astimezone(zone):%a %-d %b %H:%M}"


def booking_badges(lead_ids: list[int]) -> dict[int, list[Badge]]:
    zone = ZoneInfo(settings.OWNER_TIMEZONE)
    result: dict[int, list[Badge]] = {}
    for lead_id, booking in booking_latest_by_lead(lead_ids=lead_ids).items():
        when = booking.start_at.astimezone(zone)
        label = _call_label(booking, zone)
        if not booking.is_active:
            if booking.invite_status == Booking.InviteStatus.BLOCKED and booking.end_at > timezone.now():
                result[lead_id] = [
                    Badge(f"Cancelled {when:%-d %b %H:%M}: lead not told", "danger", booking.invite_error[:300])
                ]
            else:
                result[lead_id] = [Badge(f"Cancelled: {when:%-d %b %H:%M}", "warn", "The booking was cancelled.")]
            continue
        badges = [Badge(label, "good", f"Booked for {when:%Y-%m-%d %H:%M} ({settings.OWNER_TIMEZONE})")]
        if booking.invite_status == Booking.InviteStatus.BLOCKED:
            badges.append(Badge("Invite blocked", "danger", booking.invite_error[:300]))
        elif booking.invite_status == Booking.InviteStatus.PENDING:
            badges.append(Badge("Invite pending", "warn", "The invite has not gone out yet."))
        elif booking.invite_status == Booking.InviteStatus.FALLBACK_SENT:
            badges.append(Badge("Invite: ICS email", "info", "Sent as an ICS email (Google Calendar is off)."))
        else:
            badges.append(Badge("Invite sent", "info", "Google Calendar sent the invite."))
        result[lead_id] = badges
    return result


def booking_card_actions(lead_ids: list[int]) -> dict[int, list[CardAction]]:
    """A "Cancel call" pill on cards with an upcoming booking. On the board it asks for a reason in
    a dialog and cancels in place (the call badge reads "Cancelling…" meanwhile); without
    JavaScript it opens the confirmation page, which comes back to the board."""
    result: dict[int, list[CardAction]] = {}
    now = timezone.now()
    zone = ZoneInfo(settings.OWNER_TIMEZONE)
    for lead_id, booking in booking_latest_by_lead(lead_ids=lead_ids).items():
        if booking.is_active and booking.end_at > now:
            url = reverse("bookings:staff-cancel", args=[booking.pk]) + "?next=/board/"
            confirm = CardConfirm(
                prompt=f"Cancel the call on {booking.start_at.astimezone(zone):%a %-d %b at %H:%M}?",
                detail="The lead is told the call is off. The reason stays in the booking's history.",
                reason_label="Reason for cancelling",
                confirm_label="Cancel the call",
                keep_label="Keep it",
                busy_label="Cancelling…",
                badge=_call_label(booking, zone),
            )
            result[lead_id] = [
                CardAction(
                    "Cancel call",
                    url,
                    method="get",
                    tone="danger",
                    title="Cancel with a reason",
                    confirm=confirm,
                    permission="bookings.change_booking",
                )
            ]
    return result
