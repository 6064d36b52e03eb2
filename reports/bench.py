"""`make bench` figures for the reports: each report's cold render time at 100,000 leads
(2,000 with `quick`), with its query count; the median of several cold renders, in wall and CPU time. Cold means right after a write, with nothing cached.

Called directly by the bench command: `figures["reports"] = bench_reports(quick=..., log=...)`.
Runs in the command's scratch database; the data comes from `reports.seed` (stage history,
outreach, bookings and calls, proposals and payments, classified replies).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any

from django.contrib.auth import get_user_model
from django.db import connection, reset_queries
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from clientsflow.cache import board_version_bump
from leads.models import Lead
from reports import views
from reports.pages import REPORTS
from reports.seed import seed_report_data

BUDGET_MS = 150
RANGES = ("this_year", "90d")
ATTEMPTS = 5


def bench_reports(*, quick: bool, log: Callable[[str], Any]) -> dict[str, Any]:
    leads = 2_000 if quick else 100_000
    started = time.perf_counter()
    seeded = seed_report_data(leads=leads, now=timezone.now(), prefix="benchreport")
    log(f"reports: seeded {seeded} in {time.perf_counter() - started:.0f}s")
    with connection.cursor() as cursor:
        # Planner statistics and (PostgreSQL) the visibility map that index-only scans need, as
        # autovacuum keeps them on a database in use; a fresh bulk load has neither.
        cursor.execute("VACUUM ANALYZE" if connection.vendor == "postgresql" else "ANALYZE")
    touched = Lead.objects.order_by("pk").values_list("pk", flat=True)[0]
    user, _ = get_user_model().objects.get_or_create(
        username="bench-reports", defaults={"is_staff": True, "is_superuser": True}
    )
    factory = RequestFactory()

    def render(slug: str, range_key: str) -> Any:
        request = factory.get(f"/reports/{slug}/", {"range": range_key})
        request.user = user
        return views.report_detail(request, slug=slug)

    figures: dict[str, Any] = {"leads": seeded.leads, "budget_ms": BUDGET_MS, "unit": "ms (server time)"}
    for slug in REPORTS:
        row: dict[str, Any] = {}
        # Load templates and code once on a range with no data, so "cold" measures the report
        # (nothing is cached between renders), not the process starting up.
        warm = factory.get(f"/reports/{slug}/", {"range": "custom", "start": "1990-01-01", "end": "1990-01-02"})
        warm.user = user
        views.report_detail(warm, slug=slug)
        for range_key in RANGES:
            reset_queries()
            timings, cpu = [], []
            queries = 0
            for attempt in range(ATTEMPTS):
                # Cold: right after a write (as with leads arriving every minute); nothing is
                # cached between renders, each reads the database afresh.
                Lead.objects.filter(pk=touched).update(updated_at=timezone.now())
                board_version_bump()
                with CaptureQueriesContext(connection) as ctx:
                    t0, c0 = time.perf_counter(), time.process_time()
                    response = render(slug, range_key)
                    timings.append((time.perf_counter() - t0) * 1000)
                    cpu.append((time.process_time() - c0) * 1000)
                if response.status_code != 200:
                    raise RuntimeError(f"reports bench: {slug} answered {response.status_code}")
                queries = len(ctx.captured_queries)
                if attempt == 0:
                    row[f"{range_key}_cold_ms"] = round(timings[0], 1)
            row[f"{range_key}_median_ms"] = round(statistics.median(timings), 1)
            # This process's CPU time: on a shared machine, wall time also counts waiting for a core
            # (and on PostgreSQL, the server's work is not in it).
            row[f"{range_key}_median_cpu_ms"] = round(statistics.median(cpu), 1)
            row["queries"] = queries
        row["within_budget"] = row[f"{RANGES[0]}_cold_ms"] <= BUDGET_MS
        figures[slug] = row
        log(f"reports: {slug} {row}")
    return figures
