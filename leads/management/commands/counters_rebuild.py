"""`manage.py counters_rebuild`: recompute the board's per-stage/per-source counts from the leads."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from leads.db_triggers import counter_triggers_present
from leads.services.counters import lead_counts_rebuild


class Command(BaseCommand):
    help = "Recompute the board's lead counts from the leads table (they are kept by database triggers)."

    def handle(self, *args: Any, **options: Any) -> None:
        if not counter_triggers_present(connection):
            raise CommandError(
                "The triggers that keep the counts are missing, so a rebuild would drift again. "
                "Run `manage.py migrate`; if it reports nothing to do, see leads/db_triggers.py."
            )
        rows = lead_counts_rebuild()
        self.stdout.write(f"Rebuilt the board's lead counts: {rows} counter rows.")
