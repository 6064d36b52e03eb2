"""Reads for calls: what needs a person, what the board shows."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import QuerySet
from django.utils import timezone

from calls.models import Call
from leads.cards import Badge


def calls_unmatched() -> QuerySet[Call]:
    return Call.objects.filter(status=Call.Status.FETCHED, lead__isnull=True).order_by("-started_at", "-id")


def calls_sync_failed() -> QuerySet[Call]:
    return Call.objects.filter(notion_status=Call.NotionStatus.FAILED).order_by("-started_at", "-id")


def calls_transcript_missing(*, now: datetime | None = None) -> QuerySet[Call]:
    """Calls still waiting for their transcript after the backup poll stopped looking for them.

    The poll asks Fireflies for the last `FIREFLIES_POLL_LOOKBACK_HOURS` only, and a webhook's
    retries end sooner: past that, nothing fetches the transcript again on its own, so the call
    needs a person (fetch again from the admin, or check the meeting in Fireflies)."""
    cutoff = (now or timezone.now()) - timedelta(hours=settings.FIREFLIES_POLL_LOOKBACK_HOURS)
    return Call.objects.filter(status=Call.Status.PENDING, created_at__lt=cutoff).order_by("created_at", "id")


def calls_unmatched_unalerted() -> QuerySet[Call]:
    return calls_unmatched().filter(unmatched_alerted_at__isnull=True).defer("transcript_text", "summary")


def calls_sync_failed_unalerted() -> QuerySet[Call]:
    return calls_sync_failed().filter(sync_failure_alerted_at__isnull=True).defer("transcript_text", "summary")


def lead_ids_with_failed_call_sync(lead_ids: list[int]) -> set[int]:
    """One query, whatever the number of cards."""
    return set(
        Call.objects.filter(lead_id__in=lead_ids, notion_status=Call.NotionStatus.FAILED)
        .values_list("lead_id", flat=True)
        .distinct()
    )


def calls_unmatched_count() -> int:
    return calls_unmatched().count()


def calls_transcript_missing_count() -> int:
    return calls_transcript_missing().count()


def calls_sync_failed_count() -> int:
    return calls_sync_failed().count()


def failed_sync_badges(lead_ids: list[int]) -> dict[int, list[Badge]]:
    """A card badge for each lead with a call row Notion refused: one query."""
    return {
        lead_id: [Badge("Call not in Notion", "danger", "The call row could not be written to Notion; see Calls.")]
        for lead_id in lead_ids_with_failed_call_sync(lead_ids)
    }
