"""Reads for the review queue, the board badges and the "needs you" panel."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from classify.models import Classification, Label, PromptVersion
from leads.models import Stage

POSITIVE = Q(final_label=Label.POSITIVE) | Q(final_label="", label=Label.POSITIVE)


def champion_prompt() -> PromptVersion | None:
    """The prompt in use, if any (`prompt_ensure_champion` installs the built-in one when none is)."""
    return PromptVersion.objects.filter(status=PromptVersion.Status.CHAMPION).first()


def review_queue() -> QuerySet[Classification]:
    return (
        Classification.objects.filter(needs_review=True)
        .select_related("reply", "reply__lead", "prompt_version")
        .order_by("created_at", "id")
    )


def positive_waiting() -> QuerySet[Classification]:
    """Positive replies whose lead has not moved on (no call booked yet): the owner should answer."""
    return Classification.objects.filter(POSITIVE, needs_review=False, reply__lead__stage=Stage.REPLIED)


def latest_by_lead(lead_ids: list[int]) -> dict[int, Classification]:
    """Each lead's most recent classified reply, in one query."""
    latest: dict[int, Classification] = {}
    rows = (
        Classification.objects.filter(reply__lead_id__in=lead_ids)
        .select_related("reply")
        .only("label", "final_label", "needs_review", "confidence", "reply__lead_id", "reply__received_at")
        .order_by("reply__lead_id", "-reply__received_at", "-id")
    )
    for row in rows:
        if row.reply.lead_id is not None:  # always set here (filtered above); the column allows null
            latest.setdefault(row.reply.lead_id, row)
    return latest
