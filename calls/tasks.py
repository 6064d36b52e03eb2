"""Thin Celery tasks for calls: ids in, one service call.

`sync_call_to_notion` lives beside its service in `services/notion_sync.py` (the call services
queue it); it is imported here so the worker registers every calls task from this module.
"""

from __future__ import annotations

from typing import Any

from celery import shared_task
from celery.contrib.django.task import DjangoTask

from calls.clients.fireflies import FirefliesError, FirefliesNotConfigured, FirefliesRateLimited
from calls.services.ingest import call_fetch_and_match
from calls.services.notion_sync import sync_call_to_notion

__all__ = ["fetch_backoff_seconds", "fetch_call_transcript", "sync_call_to_notion"]

FETCH_MAX_RETRIES = 8


def fetch_backoff_seconds(retries: int, retry_after: float | None = None) -> int:
    """1, 2, 4, ... minutes, at most 30; never sooner than Fireflies' own Retry-After."""
    countdown = min(30 * 60, 60 * 2**retries)
    return int(max(countdown, retry_after or 0))


# acks_late: a worker lost mid-fetch gets the task redelivered; the fetch is idempotent (one Call
# per Fireflies id, matching never overrides a human's confirmation), and the backup poll would
# complete the call anyway.
@shared_task(base=DjangoTask, bind=True, acks_late=True, max_retries=FETCH_MAX_RETRIES)
def fetch_call_transcript(self: Any, call_id: int) -> None:
    try:
        call_fetch_and_match(call_id=call_id)
    except FirefliesNotConfigured:
        return  # local mode: the stored webhook and the pending call wait for a key
    except FirefliesError as exc:
        # Not ready yet (an early webhook), rate limited or unreachable: recorded on the call.
        if self.request.is_eager:
            return  # in-process mode: the backup poll (every 3 minutes) completes it
        retry_after = exc.retry_after if isinstance(exc, FirefliesRateLimited) else None
        if self.request.retries >= FETCH_MAX_RETRIES:
            return  # the backup poll keeps trying for FIREFLIES_POLL_LOOKBACK_HOURS
        raise self.retry(exc=exc, countdown=fetch_backoff_seconds(self.request.retries, retry_after)) from exc
