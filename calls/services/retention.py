"""Retention: raw transcripts are kept for RETENTION_DAYS, then emptied.

The call row stays (title, times, participants, summary, the lead it was matched to, its Notion
row): only the raw text of what was said goes.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from calls.models import Call

logger = logging.getLogger(__name__)

PURGE_BATCH = 500


def call_transcripts_purge(*, older_than: timedelta, batch: int = PURGE_BATCH) -> int:
    """Empty the transcript of every call received before `now - older_than`. Returns how many.

    Idempotent: an emptied transcript is not selected again. Works in batches, each its own short
    transaction, so a large first run never holds a long lock.
    """
    cutoff = timezone.now() - older_than
    purged = 0
    while True:
        with transaction.atomic():
            ids = list(
                Call.objects.filter(created_at__lt=cutoff)
                .exclude(transcript_text="")
                .order_by("pk")
                .values_list("pk", flat=True)[:batch]
            )
            if not ids:
                break
            purged += Call.objects.filter(pk__in=ids).update(transcript_text="")
    if purged:
        logger.info("calls.transcripts_purged", extra={"count": purged, "cutoff": cutoff.isoformat()})
    return purged
