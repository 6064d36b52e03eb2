"""Reads for the review queue, the board badges and the "needs you" panel."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from classify.models import Classification, Label, PromptVersion
from leads.cards import Badge
from leads.models import Lead, Stage
from leads.selectors import TimelineEntry

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
        .select_related("reply", "reply__lead")
        .only(
            "label",
            "final_label",
            "needs_review",
            "confidence",
            "reply__lead_id",
            "reply__received_at",
            "reply__lead__stage",
        )
        .order_by("reply__lead_id", "-reply__received_at", "-id")
    )
    for row in rows:
        if row.reply.lead_id is not None:  # always set here (filtered above); the column allows null
            latest.setdefault(row.reply.lead_id, row)
    return latest


def positive_waiting_count() -> int:
    return positive_waiting().count()


def review_queue_count() -> int:
    return review_queue().count()


# Stages where a positive reply still waits for the owner's answer: once the lead is past Replied
# (a call booked, a proposal, lost...) the reply has been dealt with and its badge goes.
WAITING_FOR_ANSWER: frozenset[str] = frozenset({Stage.NEW, Stage.CONTACTED, Stage.REPLIED, Stage.NURTURE})


def _waiting_for_answer(classification: Classification) -> bool:
    lead = classification.reply.lead  # joined by latest_by_lead; always set for these rows
    return lead is not None and lead.stage in WAITING_FOR_ANSWER


def reply_badges(lead_ids: list[int]) -> dict[int, list[Badge]]:
    """A badge for the latest classified reply of each card, when it matters: one query."""
    badges: dict[int, list[Badge]] = {}
    for lead_id, classification in latest_by_lead(lead_ids).items():
        if classification.needs_review:
            badges[lead_id] = [
                Badge("Reply needs review", "warn", "The classifier is unsure: confirm it in the admin.")
            ]
        elif classification.effective_label == Label.POSITIVE and _waiting_for_answer(classification):
            badges[lead_id] = [Badge("Positive reply", "good", "They want to talk: answer them.")]
    return badges


def classification_timeline(lead: Lead) -> list[TimelineEntry]:
    """The lead's timeline share: what each of its replies was classified as, and any human decision."""
    entries = []
    for c in Classification.objects.filter(reply__lead=lead).select_related("reviewed_by").order_by("-created_at")[:50]:
        detail = f"{c.confidence:.0%} sure ({c.get_backend_display()})"
        if c.needs_review:
            detail += " · waiting for a person to review"
        entries.append(
            TimelineEntry(
                at=c.created_at,
                kind="classification",
                title=f"Reply classified {c.label}",
                detail=detail,
                actor=c.get_backend_display(),
                url=f"/admin/classify/classification/{c.pk}/change/",
            )
        )
        if c.final_label and c.reviewed_at:
            entries.append(
                TimelineEntry(
                    at=c.reviewed_at,
                    kind="classification",
                    title=f"Reply label set to {c.final_label} by a person",
                    actor=c.reviewed_by.get_username() if c.reviewed_by else "",
                    url=f"/admin/classify/classification/{c.pk}/change/",
                )
            )
    return entries
