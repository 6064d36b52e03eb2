"""Getting calls in: the webhook's meeting id, the transcript fetch, the backup poll and backfill.

Every path ends in `call_fetch_and_match`, so a webhook, the poll and a backfill of the same
meeting all produce the same single `Call`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from calls.clients import fireflies
from calls.models import Call
from calls.services.matching import call_match
from calls.services.notion_sync import call_notion_sync_queue
from clientsflow.integrations import integration_failed, integration_ok
from clientsflow.payloads import https_url

logger = logging.getLogger(__name__)
VENDOR = "fireflies"


def _vendor_failed(exc: fireflies.FirefliesError) -> None:
    """An outage counts toward the owner alert; "not configured" and "not ready yet" do not."""
    if not isinstance(exc, fireflies.FirefliesNotConfigured | fireflies.TranscriptNotReady):
        integration_failed(VENDOR, error=exc)


def call_register_meeting(*, fireflies_id: str, client_reference_id: str = "") -> Call:
    """The call for this meeting, created `pending` if new (the transcript may not be ready)."""
    fireflies_id = fireflies_id.strip()[:100]
    try:
        with transaction.atomic():
            call, created = Call.objects.get_or_create(
                fireflies_id=fireflies_id, defaults={"client_reference_id": client_reference_id[:255]}
            )
    except IntegrityError:  # a concurrent delivery created it first
        call, created = Call.objects.get(fireflies_id=fireflies_id), False
    if not created and client_reference_id and not call.client_reference_id:
        Call.objects.filter(pk=call.pk).update(client_reference_id=client_reference_id[:255])
        call.client_reference_id = client_reference_id[:255]
    return call


def _vendor_link(call: Call, field: str, url: str) -> str:
    """Only https links are stored: these become clickable hrefs for staff."""
    safe = https_url(url)
    if url and not safe:
        logger.warning("fireflies.url_dropped", extra={"call_id": call.pk, "field": field})
    return safe


def _apply(call: Call, transcript: fireflies.Transcript) -> None:
    call.status = Call.Status.FETCHED
    call.title = transcript.title
    call.started_at = transcript.started_at
    call.duration_seconds = transcript.duration_seconds
    call.organizer_email = transcript.organizer_email[:254]
    call.participants = transcript.participants
    call.attendees = [{"name": a.name, "email": a.email} for a in transcript.attendees]
    call.transcript_url = _vendor_link(call, "transcript_url", transcript.transcript_url)[:1000]
    call.audio_url = _vendor_link(call, "audio_url", transcript.audio_url)[:2000]
    call.video_url = _vendor_link(call, "video_url", transcript.video_url)[:2000]
    call.meeting_link = _vendor_link(call, "meeting_link", transcript.meeting_link)[:1000]
    call.calendar_event_ids = transcript.calendar_event_ids
    call.summary = transcript.summary
    call.transcript_text = transcript.transcript_text
    call.fetch_error = ""
    call.fetched_at = timezone.now()


def call_fetch_and_match(*, call_id: int) -> Call:
    """Fetch the transcript, store it, run the match chain and queue the Notion row.

    Raises `fireflies.TranscriptNotReady` (and other FirefliesErrors) after recording the attempt
    on the call, so the caller can retry later.
    """
    call = Call.objects.get(pk=call_id)
    try:
        transcript = fireflies.fetch_transcript(call.fireflies_id)
    except fireflies.FirefliesError as exc:
        Call.objects.filter(pk=call_id).update(fetch_attempts=F("fetch_attempts") + 1, fetch_error=str(exc)[:2000])
        logger.info("call.fetch_failed", extra={"call_id": call_id, "error_type": type(exc).__name__})
        _vendor_failed(exc)
        raise
    integration_ok(VENDOR)
    with transaction.atomic():
        call = Call.objects.select_for_update().get(pk=call_id)
        _apply(call, transcript)
        call.fetch_attempts += 1
        call.save()
        call = call_match(call=call)
        call_notion_sync_queue(call=call)
    logger.info("call.fetched", extra={"call_id": call.pk, "lead_id": call.lead_id})
    return call


@dataclass
class PollResult:
    listed: int = 0
    completed: int = 0
    not_ready: int = 0
    failed: int = 0
    rate_limited: int = 0

    def as_dict(self) -> dict[str, int]:
        return {key: value for key, value in self.__dict__.items() if key != "rate_limited" or value}


def _ingest(ids: list[str], result: PollResult, *, refresh: bool = False) -> bool:
    """Fetch and match each id. False when Fireflies rate-limited us (stop until the next run)."""
    fetched = set(
        Call.objects.filter(fireflies_id__in=ids, status=Call.Status.FETCHED).values_list("fireflies_id", flat=True)
    )
    for fireflies_id in ids:
        if fireflies_id in fetched and not refresh:
            continue
        call = call_register_meeting(fireflies_id=fireflies_id)
        try:
            call_fetch_and_match(call_id=call.pk)
        except fireflies.TranscriptNotReady:
            result.not_ready += 1
        except fireflies.FirefliesRateLimited:
            result.failed += 1
            return False  # wait for the next run rather than spend the quota
        except fireflies.FirefliesError:
            result.failed += 1
        else:
            result.completed += 1
    return True


def calls_backup_poll(*, now: datetime | None = None) -> dict[str, int]:
    """Every recent transcript Fireflies lists that we have not fetched yet (lost or early webhooks)."""
    if not fireflies.enabled():
        return {"skipped": 1}
    now = now or timezone.now()
    try:
        items = fireflies.list_transcripts(since=now - timedelta(hours=settings.FIREFLIES_POLL_LOOKBACK_HOURS))
    except fireflies.FirefliesError as exc:
        _vendor_failed(exc)
        raise
    integration_ok(VENDOR)
    result = PollResult(listed=len(items))
    _ingest([item.id for item in items][: settings.FIREFLIES_POLL_BATCH], result)
    return result.as_dict()


def calls_backfill(
    *,
    since: datetime,
    until: datetime | None = None,
    refresh: bool = False,
    progress: Callable[[int, str], None] | None = None,
) -> dict[str, int]:
    """Every Fireflies transcript since `since`, page by page, through the same matching.

    Idempotent and resumable: transcripts already fetched are skipped (unless `refresh`), so a
    run stopped half-way simply continues where it got to.
    """
    result = PollResult()
    skip = 0
    while True:
        items = fireflies.list_transcripts(since=since, until=until, skip=skip)
        if not items:
            break
        result.listed += len(items)
        if not _ingest([item.id for item in items], result, refresh=refresh):
            result.rate_limited = 1
            break
        if progress:
            progress(result.listed, items[-1].started_at.isoformat() if items[-1].started_at else "")
        if len(items) < fireflies.PAGE_SIZE:
            break
        skip += len(items)
    return result.as_dict()
