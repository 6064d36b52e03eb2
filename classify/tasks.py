"""Thin Celery tasks: ids in, one service call."""

from __future__ import annotations

from celery import shared_task
from celery.contrib.django.task import DjangoTask

from classify.services.classification import reply_classify


# The service is idempotent (one Classification per reply), so a redelivery changes nothing;
# a backend outage never raises (it falls back to the local label and the review queue).
@shared_task(base=DjangoTask, acks_late=True)
def classify_reply(reply_id: int) -> None:
    reply_classify(reply_id=reply_id)
