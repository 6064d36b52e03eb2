"""Thin Celery tasks: ids in, one service call."""

from __future__ import annotations

from celery import shared_task
from celery.contrib.django.task import DjangoTask

from clientsflow import dispatcher
from clientsflow.webhooks import webhook_event_process


# acks_late: if a worker dies mid-task the event is redelivered; processing is idempotent
# (row lock + processed status in one transaction), so a redelivery never doubles an effect.
@shared_task(base=DjangoTask, bind=True, acks_late=True, max_retries=4)
def process_webhook_event(self, event_id: int) -> None:
    try:
        webhook_event_process(event_id=event_id)
    except Exception as exc:
        if self.request.is_eager:
            return  # recorded on the event; the dispatcher's sweep tries again later
        raise self.retry(exc=exc, countdown=min(600, 15 * 2**self.request.retries)) from exc


@shared_task
def dispatch() -> list[str]:
    """The one periodic entry (django-celery-beat, every minute)."""
    return dispatcher.dispatch_tick()


# Not acks_late: a job run is claimed by its JobRun row; a lost run is visible as `running`
# and the next slot runs the job again, rather than the same slot twice.
@shared_task(base=DjangoTask)
def run_job(job_run_id: int) -> None:
    dispatcher.job_run_execute(job_run_id=job_run_id)
