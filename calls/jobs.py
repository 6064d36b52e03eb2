"""Periodic work for calls, run by the dispatcher."""

from __future__ import annotations

from datetime import time, timedelta

from django.conf import settings

from calls.models import Call
from calls.services.alerts import calls_alert_digest
from calls.services.ingest import calls_backup_poll
from calls.services.notion_sync import call_notion_sync, calls_needing_notion_sync
from calls.services.retention import call_transcripts_purge
from clientsflow.dispatcher import DailyAt, Every, job
from clientsflow.site import public_base_url

NOTION_RETRY_BATCH = 50


@job("fireflies_backup_poll", Every(minutes=3), "Fetch recent Fireflies transcripts a webhook missed or sent early.")
def fireflies_backup_poll() -> dict[str, int]:
    return calls_backup_poll()


@job("notion_calls_sync_retry", Every(minutes=10), "Write call rows to Notion that are waiting or were rate limited.")
def notion_calls_sync_retry() -> dict[str, int]:
    results = {"synced": 0, "failed": 0, "waiting": 0}
    for call_id in calls_needing_notion_sync(limit=NOTION_RETRY_BATCH):
        status = call_notion_sync(call_id=call_id).notion_status
        key = {Call.NotionStatus.SYNCED.value: "synced", Call.NotionStatus.FAILED.value: "failed"}.get(
            status, "waiting"
        )
        results[key] += 1
    return results


@job("calls_alert_digest", Every(minutes=15), "Slack digest of unmatched calls and failed Notion rows.")
def calls_alert_digest_job() -> dict[str, int]:
    return calls_alert_digest(admin_base_url=public_base_url())


@job(
    "call_transcript_purge", DailyAt(time(3, 30)), "Empty call transcripts older than RETENTION_DAYS (the calls stay)."
)
def call_transcript_purge() -> dict[str, int]:
    return {"purged": call_transcripts_purge(older_than=timedelta(days=settings.RETENTION_DAYS))}
