"""`make bench` figures for exports: the board's CSV export at 100,000 leads (2,000 with `quick`),
streamed through the view, in rows per second, and the memory the process holds meanwhile.

Called by the bench command as its "export" section. Memory is the resident set sampled after
every chunk the response yields (Linux `/proc/self/statm`), so the figure is the export's own
growth, not the peak of whatever ran earlier in the same process.
"""

from __future__ import annotations

import resource
import time
from collections.abc import Callable
from typing import Any

from django.contrib.auth import get_user_model
from django.test import RequestFactory

from clientsflow.cache import board_version_bump
from leads.models import Lead
from privacy import views

PREFIX = "benchexport"
SOURCES = ("website", "ghl", "referral", "import")
_PAGE_KIB = resource.getpagesize() // 1024


def _rss_kib() -> int:
    """The resident set now, in KiB (the process peak where /proc is not there)."""
    try:
        with open("/proc/self/statm") as handle:
            return int(handle.read().split()[1]) * _PAGE_KIB
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def _seed(total: int) -> None:
    have = Lead.objects.filter(email_normalized__startswith=PREFIX).count()
    batch = []
    for i in range(have, total):
        email = f"{PREFIX}{i}@example.com"
        batch.append(
            Lead(
                name=f"Export Lead {i}",
                email=email,
                email_normalized=email,
                phone=f"+1415555{i % 10000:04d}",
                company=f"=Company {i % 997}",  # formula-looking: every cell goes through the guard
                source=SOURCES[i % len(SOURCES)],
            )
        )
        if len(batch) == 5000:
            Lead.objects.bulk_create(batch)
            batch = []
    if batch:
        Lead.objects.bulk_create(batch)


def export_bench(*, quick: bool, log: Callable[[str], Any]) -> dict[str, Any]:
    leads = 2_000 if quick else 100_000
    _seed(leads)
    total = Lead.objects.filter(merged_into__isnull=True).count()
    user, _ = get_user_model().objects.get_or_create(
        username="bench-export", defaults={"is_staff": True, "is_superuser": True}
    )
    # Cold: right after a write, as a real export usually is.
    Lead.objects.filter(email_normalized=f"{PREFIX}0@example.com").update(company="Company 0")
    board_version_bump()
    request = RequestFactory().get("/board/export.csv")
    request.user = user
    rss_start = _rss_kib()
    rss_peak = rss_start
    size = lines = 0
    started, cpu_started = time.perf_counter(), time.process_time()
    response = views.board_export_csv(request)
    for chunk in response.streaming_content:  # type: ignore[attr-defined]
        size += len(chunk)
        lines += chunk.count(b"\n")
        rss_peak = max(rss_peak, _rss_kib())
    seconds = time.perf_counter() - started
    # This process's CPU time too: on a shared machine wall time also counts waiting for a core.
    cpu_seconds = time.process_time() - cpu_started
    rows = lines - 1  # the header
    if rows != total:
        raise RuntimeError(f"export bench: {rows} rows exported, {total} leads on the board")
    figures = {
        "leads": total,
        "rows": rows,
        "seconds": round(seconds, 2),
        "rows_per_second": round(rows / seconds),
        "cpu_seconds": round(cpu_seconds, 2),
        "rows_per_cpu_second": round(rows / cpu_seconds) if cpu_seconds else None,
        "megabytes": round(size / 1_048_576, 1),
        "rss_start_mb": round(rss_start / 1024, 1),
        "rss_peak_mb": round(rss_peak / 1024, 1),
        "rss_growth_mb": round((rss_peak - rss_start) / 1024, 1),
        "streamed": bool(getattr(response, "streaming", False)),
    }
    log(f"export: {figures}")
    return figures
