"""Write calls to the Notion calls database (creates missing rows, updates existing ones)."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError, CommandParser

from calls.clients import notion
from calls.management.commands.backfill_transcripts import parse_since
from calls.models import Call
from calls.services.notion_sync import call_notion_sync, calls_needing_notion_sync

BAR_WIDTH = 30


class Command(BaseCommand):
    help = (
        "Write every call that is not in Notion yet (or failed) to the Notion calls database. "
        "Rows already written are updated, never duplicated."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--since", help="Only calls on or after this day (YYYY-MM-DD, the owner's zone).")
        parser.add_argument("--all", action="store_true", help="Also rewrite calls already in Notion.")

    def handle(self, *args, **options) -> None:
        if not notion.enabled():
            raise CommandError("Notion is not configured: set NOTION_TOKEN and NOTION_CALLS_DATABASE_ID.")
        since = parse_since(options["since"]) if options["since"] else None
        if options["all"]:
            queryset = Call.objects.filter(status=Call.Status.FETCHED)
            if since is not None:
                queryset = queryset.filter(started_at__gte=since)
            ids = list(queryset.order_by("started_at", "id").values_list("pk", flat=True))
        else:
            ids = calls_needing_notion_sync(since=since, include_failed=True)
        total = len(ids)
        counts = {"synced": 0, "failed": 0, "waiting": 0}
        for done, call_id in enumerate(ids, start=1):
            status = call_notion_sync(call_id=call_id).notion_status
            key = {Call.NotionStatus.SYNCED.value: "synced", Call.NotionStatus.FAILED.value: "failed"}.get(
                status, "waiting"
            )
            counts[key] += 1
            filled = BAR_WIDTH * done // total
            self.stdout.write(f"\r[{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {done}/{total}", ending="")
        if total:
            self.stdout.write("")
        message = (
            f"{total} call(s): {counts['synced']} in Notion, {counts['failed']} failed, {counts['waiting']} to retry."
        )
        if counts["failed"]:
            message += " See the Notion error on each failed call in the admin (Calls, filter Notion status: Failed)."
        self.stdout.write(self.style.SUCCESS(message) if not counts["failed"] else self.style.WARNING(message))
