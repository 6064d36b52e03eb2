"""Thin Celery tasks for calls: ids in, one service call."""

from __future__ import annotations

from celery import shared_task
from celery.contrib.django.task import DjangoTask

from calls.clients.fireflies import FirefliesError, FirefliesNotConfigured, FirefliesRateLimited

FETCH_MAX_RETRIES = 8


def fetch_backoff_seconds(retries: int, retry_after: float | None = None) -> int:
    """1, 2, 4, ... minutes, at most 30; never sooner than Fireflies' own Retry-After."""
    countdown = min(30 * 60, 60 * 2**retries)
    return int(max(countdown, retry_after or 0))


# acks_late: a worker lost mid-fetch gets the task redelivered; the fetch is idempotent (one Call
# per Fireflies id, matching never overrides a human's confirmation), and the backup poll would
# complete the call anyway.
@shared_task(base=DjangoTask, bind=True, acks_late=True, max_retries=FETCH_MAX_RETRIES)
def fetch_call_transcript(self, call_id: int) -> None:
    from calls.services.ingest import call_fetch_and_match

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


# Not acks_late: a lost sync leaves its claim, which times out; the retry job then syncs it, and the
# stored page id makes that an update. A redelivery racing a half-done create could make a second
# Notion row, which is worse than syncing a little later.
@shared_task(base=DjangoTask)
def sync_call_to_notion(call_id: int) -> None:
    from calls.services.notion_sync import call_notion_sync

    call_notion_sync(call_id=call_id)
