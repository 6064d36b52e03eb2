"""Infrastructure jobs run by the dispatcher."""

from __future__ import annotations

from datetime import time, timedelta

from django.conf import settings
from django.utils import timezone

from clientsflow.dispatcher import DailyAt, Every, job
from clientsflow.models import JobRun
from clientsflow.notify import notifications_mark_stuck_unknown, notifications_requeue_stranded
from clientsflow.webhooks import process_webhook_event, stale_unprocessed_events, webhook_bodies_purge

SWEEP_BATCH = 200
JOB_RUN_RETENTION = timedelta(days=30)


@job("webhook_sweep", Every(minutes=5), "Re-queue webhook events left unprocessed (lost task, broker outage).")
def webhook_sweep() -> dict[str, int]:
    stale = stale_unprocessed_events(
        older_than=timedelta(minutes=settings.DISPATCHER_STALE_WEBHOOK_MINUTES), limit=SWEEP_BATCH
    )
    for event_id in stale:
        process_webhook_event.delay(event_id)
    return {"requeued": len(stale)}


@job("job_run_prune", DailyAt(time(3, 0)), "Delete job-run records older than 30 days.")
def job_run_prune() -> dict[str, int]:
    deleted, _ = JobRun.objects.filter(slot__lt=timezone.now() - JOB_RUN_RETENTION).delete()
    return {"deleted": deleted}


@job("webhook_body_purge", DailyAt(time(3, 15)), "Empty processed webhook bodies older than RETENTION_DAYS.")
def webhook_body_purge() -> dict[str, int]:
    return {"purged": webhook_bodies_purge(older_than=timedelta(days=settings.RETENTION_DAYS))}


@job(
    "notifications_stranded",
    Every(minutes=10),
    "Queue again owner notifications whose delivery task was lost; mark those stuck mid-delivery "
    "as of unknown outcome (never resent: shown in Needs you).",
)
def notifications_stranded() -> dict[str, int]:
    return {"requeued": notifications_requeue_stranded(), "marked_unknown": notifications_mark_stuck_unknown()}
