"""`manage.py bench` (make bench): speed figures, one JSON object on the last line.

Runs each app's bench section (listed in SECTIONS) against a scratch copy of the configured
database (created and dropped here), so the real data is never touched.
"""

from __future__ import annotations

import json
import os
import platform
import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import connection

from board.bench import board_bench
from bookings.bench import bookings_bench
from classify.bench import classify_bench
from leads.bench import import_bench, intake_bench
from privacy.bench import export_bench
from reports.bench import bench_reports

# Section name -> the app's bench function, run in this order.
SECTIONS: dict[str, Callable[..., dict[str, Any]]] = {
    "intake": intake_bench,
    "import": import_bench,
    "board": board_bench,
    "classify": classify_bench,
    "bookings": bookings_bench,
    "reports": bench_reports,
    "export": export_bench,
}


class Command(BaseCommand):
    help = "Measure intake, import, board and other figures; print one JSON object on the last line."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--only", action="append", default=[], help="Run only these sections.")
        parser.add_argument("--quick", action="store_true", help="Smaller sizes (for a smoke test).")

    def handle(self, *args, only: list[str], quick: bool, **options) -> None:
        if connection.vendor == "sqlite":
            settings.DATABASES["default"].setdefault("TEST", {})["NAME"] = str(
                settings.VAR_DIR / f"bench-{os.getpid()}.sqlite3"
            )
        old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
        figures: dict[str, object] = {
            "database": connection.vendor,
            "machine": {"cores": os.cpu_count(), "python": platform.python_version()},
            "quick": quick,
        }
        started = time.perf_counter()
        try:
            for name, func in SECTIONS.items():
                if only and name not in only:
                    continue
                self.stderr.write(f"bench: {name}…")
                section_started = time.perf_counter()
                figures[name] = func(quick=quick, log=self.stderr.write)
                self.stderr.write(f"bench: {name} done in {time.perf_counter() - section_started:.1f}s")
        finally:
            connection.creation.destroy_test_db(old_name, verbosity=0)
        figures["total_seconds"] = round(time.perf_counter() - started, 1)
        self.stdout.write(json.dumps(figures, sort_keys=True))
