"""Each call becomes one row in the Notion calls database; a re-sync updates that row.

Idempotent: the page id is stored on the call, so a second sync updates instead of creating.
Two syncs of one call never run at once (a claim on `notion_claimed_at`); a sync that finds the
call claimed leaves it `pending` for the retry job, so the newest data still reaches Notion.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from zoneinfo import ZoneInfo

from celery import shared_task
from celery.contrib.django.task import DjangoTask
from django.conf import settings
from django.db.models import F, Q
from django.utils import timezone

from calls.clients import notion
from calls.models import Call
from clientsflow.audit import audit_record
from clientsflow.cache import board_version_bump
from clientsflow.integrations import integration_failed, integration_ok

NOTION_VENDOR = "notion"

logger = logging.getLogger(__name__)

CLAIM_TIMEOUT = timedelta(minutes=10)
MAX_SYNC_ATTEMPTS = 8  # retryable failures (429 after the client's own retries, 5xx, network)


def call_start_iso(call: Call) -> str | None:
    """The start as ISO 8601 with the call's zone offset (e.g. `2026-11-20T10:00:00-05:00`)."""
    if call.started_at is None:
        return None
    zone = ZoneInfo(call.timezone or settings.OWNER_TIMEZONE)
    return call.started_at.astimezone(zone).isoformat()


def call_notion_properties(call: Call) -> dict:
    lead = call.lead
    return notion.call_properties(
        title=call.title or f"Call {call.fireflies_id}",
        start_iso=call_start_iso(call),
        lead_name=(lead.name or lead.email) if lead else "Unmatched: needs a person to confirm the lead",
        lead_email=lead.email if lead else "",
        recording_url=call.video_url or call.audio_url,
        fireflies_url=call.transcript_url,
        summary=call.summary,
        matched_by=call.get_match_method_display(),
    )


def call_notion_sync_queue(*, call: Call) -> None:
    """Mark the call as waiting for Notion and sync it after the current transaction commits."""
    Call.objects.filter(pk=call.pk).exclude(notion_status=Call.NotionStatus.PENDING).update(
        notion_status=Call.NotionStatus.PENDING
    )
    sync_call_to_notion.delay_on_commit(call.pk)


def call_notion_sync(*, call_id: int) -> Call:
    """Write the call's row (create or update). Failures are recorded on the call, never raised."""
    call = Call.objects.select_related("lead").get(pk=call_id)
    if not notion.enabled():
        Call.objects.filter(pk=call_id).update(notion_status=Call.NotionStatus.NOT_CONFIGURED, notion_error="")
        call.refresh_from_db()
        return call
    if call.status != Call.Status.FETCHED:
        return call  # nothing worth a row yet; the fetch queues the sync
    now = timezone.now()
    claimed = (
        Call.objects.filter(pk=call_id)
        .filter(Q(notion_claimed_at__isnull=True) | Q(notion_claimed_at__lt=now - CLAIM_TIMEOUT))
        .update(notion_claimed_at=now)
    )
    if not claimed:
        logger.info("call.notion_busy", extra={"call_id": call_id})
        return call
    try:
        page_id = _upsert(call)
    except notion.NotionError as exc:
        attempts = call.notion_attempts + 1
        final = not exc.retryable or attempts >= MAX_SYNC_ATTEMPTS
        status = Call.NotionStatus.FAILED if final else Call.NotionStatus.RETRYING
        Call.objects.filter(pk=call_id).update(
            notion_status=status,
            notion_error=str(exc)[:2000],
            notion_attempts=F("notion_attempts") + 1,
            notion_claimed_at=None,
            sync_failure_alerted_at=None,
        )
        logger.warning(
            "call.notion_failed", extra={"call_id": call_id, "code": exc.code, "status": exc.status, "final": final}
        )
        if exc.retryable:  # Notion down or rate-limiting us; a refused row (400) is this call's own problem
            integration_failed(NOTION_VENDOR, error=exc)
        if final:
            audit_record(verb="call.notion_failed", obj=call, details={"code": exc.code, "status": exc.status})
            board_version_bump()
    else:
        was_failed = call.notion_status == Call.NotionStatus.FAILED
        Call.objects.filter(pk=call_id).update(
            notion_page_id=page_id,
            notion_status=Call.NotionStatus.SYNCED,
            notion_error="",
            notion_attempts=F("notion_attempts") + 1,
            notion_synced_at=timezone.now(),
            notion_claimed_at=None,
        )
        logger.info("call.notion_synced", extra={"call_id": call_id, "row_created": not call.notion_page_id})
        integration_ok(NOTION_VENDOR)
        if was_failed:
            board_version_bump()
    call.refresh_from_db()
    return call


def _upsert(call: Call) -> str:
    properties = call_notion_properties(call)
    try:
        return notion.page_upsert(page_id=call.notion_page_id, properties=properties)
    except notion.NotionError as exc:
        if call.notion_page_id and exc.code == "object_not_found":
            # The row was deleted in Notion: write a new one rather than fail forever.
            return notion.page_upsert(page_id="", properties=properties)
        raise


def calls_needing_notion_sync(*, since=None, include_failed: bool = False, limit: int | None = None) -> list[int]:
    statuses = [Call.NotionStatus.PENDING, Call.NotionStatus.RETRYING]
    if include_failed:
        statuses += [Call.NotionStatus.FAILED, Call.NotionStatus.NOT_CONFIGURED]
    queryset = Call.objects.filter(status=Call.Status.FETCHED, notion_status__in=statuses)
    if since is not None:
        queryset = queryset.filter(started_at__gte=since)
    ids = queryset.order_by("started_at", "id").values_list("pk", flat=True)
    return list(ids[:limit] if limit else ids)


# Defined beside the service it runs, not in tasks.py, because call services queue it: a
# services <-> tasks import cycle otherwise. The name is the one queued messages already carry.
# Not acks_late: a lost sync leaves its claim, which times out; the retry job then syncs it, and the
# stored page id makes that an update. A redelivery racing a half-done create could make a second
# Notion row, which is worse than syncing a little later.
@shared_task(base=DjangoTask, name="calls.tasks.sync_call_to_notion")
def sync_call_to_notion(call_id: int) -> None:
    call_notion_sync(call_id=call_id)
