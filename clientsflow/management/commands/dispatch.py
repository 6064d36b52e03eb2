"""`manage.py dispatch [--once]`: run the dispatcher tick now, or every minute until stopped."""

from __future__ import annotations

import time

from django.core.management.base import BaseCommand
from django.utils import timezone

from clientsflow.dispatcher import dispatch_tick, next_tick_delay, registry


class Command(BaseCommand):
    help = "Run due periodic jobs (the same tick Beat triggers every minute)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--once", action="store_true", help="Run one tick and exit.")
        parser.add_argument("--list", action="store_true", help="List the registered jobs and exit.")

    def handle(self, *args, once: bool = False, list: bool = False, **options) -> None:  # noqa: A002
        if list:
            for job in registry().values():
                self.stdout.write(f"{job.name:24} {job.schedule.describe():28} {job.description}")
            return
        while True:
            queued = dispatch_tick()
            self.stdout.write(f"{timezone.now():%Y-%m-%d %H:%M:%S}Z dispatched: {', '.join(queued) or 'nothing due'}")
            if once:
                return
            time.sleep(next_tick_delay(timezone.now()))
