"""Thin Celery tasks: ids in, one service call."""

from __future__ import annotations

from celery import shared_task

from classify.services.classification import classification_policy_after_apply, reply_classify


# The service is idempotent (one Classification per reply), so a redelivery changes nothing;
# a backend outage never raises (it falls back to the local label and the review queue).
@shared_task(acks_late=True)
def classify_reply(reply_id: int) -> None:
    reply_classify(reply_id=reply_id)


@shared_task(acks_late=True)
def classify_policy_after_apply(reply_id: int, actor_label: str) -> None:
    classification_policy_after_apply(reply_id=reply_id, actor_label=actor_label)
