"""Pull past Fireflies transcripts through the same matching as the webhook (idempotent, resumable)."""

from __future__ import annotations

from datetime import datetime, time
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.dateparse import parse_date

from calls.clients import fireflies
from calls.services.ingest import calls_backfill


def parse_since(value: str) -> datetime:
    day = parse_date(value or "")
    if day is None:
        raise CommandError(f"{value!r} is not a date: use YYYY-MM-DD.")
    return datetime.combine(day, time(0, 0), tzinfo=ZoneInfo(settings.OWNER_TIMEZONE))


class Command(BaseCommand):
    help = (
        "Fetch every Fireflies transcript since --since (YYYY-MM-DD, the owner's zone) and match it to a lead. "
        "Transcripts already fetched are skipped, so an interrupted run can simply be started again."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--since", required=True, help="First day to import (YYYY-MM-DD).")
        parser.add_argument("--refresh", action="store_true", help="Fetch transcripts we already have again.")

    def handle(self, *args, **options) -> None:
        since = parse_since(options["since"])
        if not fireflies.enabled():
            raise CommandError("Fireflies is not configured: set FIREFLIES_API_KEY and run again.")

        def progress(seen: int, last_date: str) -> None:
            self.stdout.write(f"  {seen} transcripts listed (up to {last_date or 'unknown date'})")

        try:
            result = calls_backfill(since=since, refresh=options["refresh"], progress=progress)
        except fireflies.FirefliesError as exc:
            raise CommandError(f"{exc} Run the command again to continue where it stopped.") from exc
        if result.get("rate_limited"):
            self.stdout.write(
                self.style.WARNING("Fireflies rate limit reached: run the command again later to continue.")
            )
        self.stdout.write(
            self.style.SUCCESS(
                f"Done: {result['listed']} listed, {result['completed']} fetched and matched, "
                f"{result['not_ready']} not ready yet, {result['failed']} failed."
            )
        )
