"""`make bench` figures for bookings: slot computation and booking POSTs per second."""

from __future__ import annotations

import statistics
import time as clock
from datetime import time, timedelta
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from celery import current_app
from django.conf import settings
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext, override_settings
from django.utils import timezone

from bookings.models import Booking, EventType, Host, WeeklyHours
from bookings.selectors import event_type_get_public, slots_for
from leads.models import Lead


def _event_type(slug: str, *, days_ahead: int) -> EventType:
    host = Host.objects.create(name=f"Bench host {slug}", email=f"{slug}@bench.example", timezone="America/New_York")
    event_type = EventType.objects.create(
        host=host, slug=slug, title="Bench call", duration_minutes=30, slot_interval_minutes=15,
        buffer_after_minutes=15, min_notice_minutes=0, days_ahead=days_ahead,
    )  # fmt: skip
    WeeklyHours.objects.bulk_create(
        WeeklyHours(event_type=event_type, weekday=day, start_time=time(7), end_time=time(21)) for day in range(7)
    )
    return event_type


def bookings_bench(quick: bool, log: Any = print) -> dict[str, Any]:
    figures: dict[str, Any] = {}
    existing = 100 if quick else 500
    event_type = _event_type("bench-slots", days_ahead=60)
    slots = slots_for(event_type=event_type)
    step = max(1, len(slots) // existing)
    chosen = slots[::step][:existing]
    lead = Lead.objects.create(name="Bench", email="bench@bench.example", email_normalized="bench@bench.example")
    Booking.objects.bulk_create(
        Booking(
            host=event_type.host, event_type=event_type, lead=lead, start_at=s.start, end_at=s.end,
            buffered_start=s.start, buffered_end=s.end + timedelta(minutes=15), timezone="UTC",
            name="Bench", email="bench@bench.example",
        )
        for s in chosen
    )  # fmt: skip
    runs = 3 if quick else 10
    # As the public page has it: the event type with its hours, loaded once per request.
    page_event_type = event_type_get_public(slug=event_type.slug)
    assert page_event_type is not None
    slots_for(event_type=page_event_type)  # warm: imports and zone data, not the measured work
    timings, cpu_timings = [], []
    for _ in range(runs):
        with CaptureQueriesContext(connection) as ctx:
            started, cpu_started = clock.perf_counter(), clock.process_time()
            remaining = slots_for(event_type=page_event_type)
            timings.append(clock.perf_counter() - started)
            cpu_timings.append(clock.process_time() - cpu_started)
    elapsed = statistics.median(timings)
    figures["slots_60_days_ms"] = round(elapsed * 1000, 1)
    figures["slots_60_days_cpu_ms"] = round(statistics.median(cpu_timings) * 1000, 1)
    figures["slots_60_days_queries"] = len(ctx.captured_queries)
    figures["slots_60_days_existing_bookings"] = len(chosen)
    figures["slots_60_days_offered"] = len(remaining)
    log(
        f"bookings: {len(remaining)} slots over 60 days around {len(chosen)} bookings in {elapsed * 1000:.1f} ms"
        f" (median of {runs}, {figures['slots_60_days_queries']} queries)"
    )

    # Booking POSTs through the whole stack (form, lead intake, overlap check, ICS email to locmem).
    post_type = _event_type("bench-posts", days_ahead=30)
    free = slots_for(event_type=post_type)[::4][: (20 if quick else 100) + 4]  # an hour apart: no overlaps
    client = Client()
    zone = ZoneInfo("Europe/London")
    # As in the embedded default: the invite and the owner's notice run in-process after each
    # commit, inside the request, so the figure includes them.
    was_eager = current_app.conf.task_always_eager
    current_app.conf.task_always_eager = True

    def post(i: int, slot: Any) -> bool:
        # As a browser sends the page's form: urlencoded (the form has no file field).
        body = urlencode(
            {
                "start": slot.start.astimezone(zone).isoformat(),
                "timezone": "Europe/London",
                "name": f"Bench {i}",
                "email": f"bench{i}@bench.example",
            }
        )
        response = client.post(f"/book/{post_type.slug}/", body, content_type="application/x-www-form-urlencoded")
        return response.status_code == 302

    # The queries are counted on POSTs of their own, after a first one (the site settings row):
    # capturing them costs CPU that the timed POSTs should not carry.
    warm, counted, free = free[-4], free[-3:], free[:-4]
    with override_settings(
        BOOKING_RATE_LIMIT="100000/m", EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend"
    ):
        counted_ok = int(post(len(free) + 3, warm))
        with CaptureQueriesContext(connection) as post_queries:
            counted_ok += sum(post(len(free) + i, slot) for i, slot in enumerate(counted))
        # Read now: every request after this one clears the connection's query log.
        queries_per_post = len(post_queries.captured_queries) / len(counted)
        started, cpu_started = clock.perf_counter(), clock.process_time()
        ok = 0
        for i, slot in enumerate(free):
            ok += post(i, slot)
        elapsed, cpu = clock.perf_counter() - started, clock.process_time() - cpu_started
    current_app.conf.task_always_eager = was_eager
    figures["booking_posts_per_second"] = round(ok / elapsed, 1) if elapsed else None
    # CPU time per POST: steadier than the rate on a machine shared with other work.
    figures["booking_post_cpu_ms"] = round(cpu / len(free) * 1000, 2) if free else None
    figures["booking_post_queries"] = round(queries_per_post, 1)
    figures["booking_posts"] = ok + counted_ok
    log(
        f"bookings: {ok} booking POSTs at {figures['booking_posts_per_second']}/s "
        f"({figures['booking_post_cpu_ms']} ms CPU and {figures['booking_post_queries']} queries each)"
    )
    figures["measured_at"] = timezone.now().isoformat()
    figures["owner_timezone"] = settings.OWNER_TIMEZONE
    return figures
