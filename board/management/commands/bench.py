"""`manage.py bench` (make bench): speed figures, one JSON object on the last line.

Each section runs on its own scratch database, created from the migrations and dropped afterwards
(`clientsflow.benchdb.scratch_database`), so one section's rows never inflate another's figures
and the real data is never touched. The board section makes a fresh database per size itself.
SQLite by default; PostgreSQL when DATABASE_URL points at one. BENCH_FULL=1 adds the board at
1,000,000 leads.
"""

from __future__ import annotations

import json
import os
import platform
import time
from collections.abc import Callable
from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from board.bench import board_bench
from bookings.bench import bookings_bench
from classify.bench import classify_bench
from clientsflow.benchdb import peak_rss_mb, scratch_database
from leads.bench import import_bench, intake_bench
from privacy.bench import export_bench
from reports.bench import bench_reports

# Section name -> the app's bench function `func(quick=..., log=...)`, run in this order.
SECTIONS: dict[str, Callable[..., dict[str, Any]]] = {
    "intake": intake_bench,
    "import": import_bench,
    "board": board_bench,
    "classify": classify_bench,
    "bookings": bookings_bench,
    "reports": bench_reports,
    "export": export_bench,
}
# Sections that make their own scratch databases (one per size).
OWN_DATABASES = {"board"}


class Command(BaseCommand):
    help = "Measure intake, import, board and other figures; print one JSON object on the last line."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--only", action="append", default=[], help="Run only these sections.")
        parser.add_argument("--quick", action="store_true", help="Smaller sizes (for a smoke test).")
        parser.add_argument(
            "--sizes", default="", help="The board's sizes, comma-separated (e.g. 10000,100000); overrides --quick."
        )

    def handle(self, *args, only: list[str], quick: bool, sizes: str, **options) -> None:
        try:
            board_sizes = [int(size) for size in sizes.split(",") if size.strip()]
        except ValueError:
            raise CommandError("--sizes takes whole numbers separated by commas, e.g. --sizes 10000,100000") from None
        unknown = set(only) - set(SECTIONS)
        if unknown:
            raise CommandError(f"No such section: {', '.join(sorted(unknown))}. Choose from {', '.join(SECTIONS)}.")
        figures: dict[str, object] = {
            "database": connection.vendor,
            "machine": {"cores": os.cpu_count(), "python": platform.python_version()},
            "quick": quick,
            "full": os.environ.get("BENCH_FULL") == "1",
        }
        started = time.perf_counter()
        for name, func in SECTIONS.items():
            if only and name not in only:
                continue
            self.stderr.write(f"bench: {name}…")
            section_started = time.perf_counter()
            kwargs: dict[str, Any] = {"quick": quick, "log": self.stderr.write}
            if name == "board" and board_sizes:
                kwargs["sizes"] = board_sizes
            if name in OWN_DATABASES:
                figures[name] = func(**kwargs)
            else:
                with scratch_database():
                    figures[name] = func(**kwargs)
            self.stderr.write(f"bench: {name} done in {time.perf_counter() - section_started:.1f}s")
        figures["peak_rss_mb"] = peak_rss_mb()
        figures["total_seconds"] = round(time.perf_counter() - started, 1)
        self.stdout.write(json.dumps(figures, sort_keys=True))
